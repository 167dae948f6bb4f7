"""The store's column schema, in one place: every part is written with it, so the raw parts
read as one dataset (pyarrow.dataset, polars, duckdb) with their defaults.

Known columns have fixed types; the dynamic ones (`w_<domain>`, or `w_<phase>_<domain>` with
phases, `loss_<name>`, `objective_<i>`, `metric_<name>`) are float64 and come from the recipe,
plus any a row brings.
The one-row-per-run view always has every known column (`with_known_columns`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

WEIGHT = "w_"
LOSS = "loss_"
METRIC = "metric_"  # metric_<name>: any other number a trainer reports (accuracy, pass@k, ...)
OBJECTIVE = "objective_"  # objective_<i>: each objective of a multi-objective study
DYNAMIC = (WEIGHT, LOSS, METRIC, OBJECTIVE)

_TS = pa.timestamp("us", tz="UTC")
KNOWN: dict[str, pa.DataType] = {
    "run_id": pa.string(), "study": pa.string(), "status": pa.string(), "round": pa.int64(),
    "origin": pa.string(), "seed": pa.int64(), "data_hash": pa.string(), "fidelity": pa.string(),
    "fidelity_value": pa.float64(), "params": pa.int64(), "tokens": pa.int64(), "model": pa.string(),
    "ensemble": pa.int64(), "predicted": pa.float64(), "objective": pa.float64(), "train_loss": pa.float64(),
    "wall_time": pa.float64(), "tokens_trained": pa.int64(), "tokens_per_s": pa.float64(), "compile_s": pa.float64(),
    "num_cpus": pa.float64(), "num_gpus": pa.float64(), "cpu_hours": pa.float64(), "gpu_hours": pa.float64(),
    "host": pa.string(), "node_id": pa.string(), "device": pa.string(), "error": pa.string(), "curve": pa.string(),
    "trainer_hash": pa.string(), "torch": pa.string(), "threads": pa.int64(),
    "created_at": _TS, "finished_at": _TS, "updated_at": _TS, "seq": pa.int64(),
}


def recipe_columns(domains: Sequence[str], loss_names: Sequence[str], n_objectives: int) -> list[str]:
    """The dynamic columns a study's rows have: a weight per domain, a loss per domain and eval
    set, and objective_<i> when there are several objectives."""
    return ([WEIGHT + d for d in domains] + [LOSS + n for n in loss_names]
            + ([f"{OBJECTIVE}{i}" for i in range(n_objectives)] if n_objectives > 1 else []))


def is_dynamic(name: str) -> bool:
    return name.startswith(DYNAMIC) and name not in KNOWN


def build_schema(dynamic: Iterable[str], extra: pa.Schema | None = None) -> pa.Schema:
    """Known columns, then the dynamic ones (in the order given), then any other columns of
    `extra` (a table's own schema; unknown columns keep their type, sorted by name)."""
    fields = [pa.field(n, t) for n, t in KNOWN.items()]
    names = set(KNOWN)
    for n in dynamic:
        if n not in names:
            fields.append(pa.field(n, pa.float64()))
            names.add(n)
    if extra is not None:
        for f in sorted(extra, key=lambda f: (not is_dynamic(f.name), f.name)):
            if f.name not in names:
                fields.append(pa.field(f.name, pa.float64() if is_dynamic(f.name) else f.type))
                names.add(f.name)
    return pa.schema(fields)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with exactly `schema`'s columns, in its order and types; absent ones all-null."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            col = table.column(field.name)
            columns.append(col if col.type == field.type else col.cast(field.type))
        else:
            columns.append(pa.nulls(len(table), field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _empty(kind: pa.DataType, index: pd.Index) -> pd.Series:
    if pa.types.is_string(kind):
        return pd.Series(None, index=index, dtype="str")
    if pa.types.is_timestamp(kind):
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    return pd.Series(float("nan"), index=index, dtype=float)


def with_known_columns(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with every known column it lacks added, all-null, with its dtype."""
    missing = {col: _empty(kind, df.index) for col, kind in KNOWN.items() if col not in df}
    return df.assign(**missing) if missing else df


def weights_matrix(df: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The mixture columns of a runs frame, in domain order."""
    return df[[WEIGHT + n for n in names]].to_numpy(dtype=float)


def mixture_of(row: Mapping[str, object], names: Sequence[str]) -> dict[str, float]:
    """A run row's mixture: its weight column of each domain, in domain order."""
    return {n: float(row[WEIGHT + n]) for n in names}  # type: ignore[arg-type]


def weight_columns(mixture: Mapping[str, float]) -> dict[str, float]:
    """A mixture as a row's weight columns."""
    return {WEIGHT + n: w for n, w in mixture.items()}


def losses_of(row: Mapping[str, object]) -> dict[str, object]:
    """A run row's losses by domain or eval set name."""
    return {k[len(LOSS):]: v for k, v in row.items() if k.startswith(LOSS)}


def metrics_of(row: Mapping[str, object]) -> dict[str, object]:
    """A run row's other reported numbers (metric_<name>) by name."""
    return {k[len(METRIC):]: v for k, v in row.items() if k.startswith(METRIC)}
