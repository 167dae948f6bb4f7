"""The columns every run row has (besides `w_<domain>` and `loss_<name>`), with their dtypes.

The store's one-row-per-run view always has all of them (all-null where no row set one, e.g. a
study whose runs are all still open has no `objective` or `error` yet), so every reader can rely
on them.
"""

from __future__ import annotations

import pandas as pd

TEXT = ("run_id", "study", "status", "origin", "data_hash", "fidelity", "model", "error", "host", "device",
        "curve")
NUMBER = ("round", "seed", "fidelity_value", "params", "tokens", "predicted", "objective", "train_loss",
          "wall_time", "tokens_trained", "tokens_per_s", "compile_s", "num_cpus", "num_gpus", "cpu_hours", "gpu_hours",
          "ensemble", "seq")
TIME = ("created_at", "finished_at", "updated_at")
COLUMNS = (*TEXT, *NUMBER, *TIME)


def with_known_columns(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with every known column it lacks added, all-null, with its dtype."""
    missing = {}
    for col in COLUMNS:
        if col in df:
            continue
        if col in TEXT:
            missing[col] = pd.Series(None, index=df.index, dtype="str")
        elif col in NUMBER:
            missing[col] = pd.Series(float("nan"), index=df.index, dtype=float)
        else:
            missing[col] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    return df.assign(**missing) if missing else df
