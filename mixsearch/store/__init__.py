"""The run store: Parquet parts (parts), their column schema (schema) and the per-study lock (lock)."""
