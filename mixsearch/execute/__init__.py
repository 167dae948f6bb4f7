"""Execution: proxy runs scheduled on warm Ray workers, the built-in and command trainers, and their clean-up."""
