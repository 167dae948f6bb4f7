"""Import runs done elsewhere (CSV or Parquet: one column per domain weight, one per loss or metric).

Values are taken in the user's sign: a `maximize` objective's accuracy column imports as it is."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from mixsearch.errors import UserError
from mixsearch.hashing import stable_hash
from mixsearch.recipe import Objective
from mixsearch.store import LOSS, METRIC, WEIGHT, now
from mixsearch.study import OBJ, Study, objective_value

SIMPLEX_TOL = 1e-3
OPTIONAL_INT = ("tokens", "params", "seed")


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; unreadable files are one-line UserErrors."""
    if not path.exists():
        raise UserError("no such file", where=str(path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if path.suffix.lower() in (".csv", ".tsv"):
            return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as exc:
        raise UserError(f"cannot read: {str(exc).splitlines()[0]}", where=str(path)) from None
    raise UserError("unknown file type (use .csv, .tsv or .parquet)", where=str(path))


def parse_mapping(items: list[str]) -> dict[str, str]:
    """--map SOURCE=TARGET options as a rename mapping."""
    mapping = {}
    for item in items:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise UserError(f"'{item}' is not SOURCE=TARGET", where="--map")
        mapping[src] = dst
    return mapping


def _finite(df: pd.DataFrame, col: str, where: str) -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise UserError(f"row {bad[0] + 2}: column '{col}' is not a finite number", where=where)
    return values


def _objective_column(obj: Objective, columns: dict[str, np.ndarray], names: list[str], n: int, where: str) -> np.ndarray:
    """One objective per row from the loss_<name> and metric_<name> columns."""
    def of_row(i: int) -> float:
        losses = {c[len(LOSS):]: v[i] for c, v in columns.items() if c.startswith(LOSS)}
        metrics = {c[len(METRIC):]: v[i] for c, v in columns.items() if c.startswith(METRIC)}
        return objective_value(obj, losses, names, metrics)

    try:
        return np.array([of_row(i) for i in range(n)], float)
    except KeyError as exc:
        missing = exc.args[0]
        column = missing if missing.startswith(LOSS) else METRIC + missing
        raise UserError(f"no 'objective' column, and no {column} column to compute it from", where=where) from None


def import_runs(study: Study, path: Path, mapping: dict[str, str]) -> tuple[int, int]:
    """Validate every row, then store them all as 'done' runs (or none). Returns (new, total)."""
    where = str(path)
    df = read_table(path)
    missing_src = [c for c in mapping if c not in df.columns]
    if missing_src:
        raise UserError(f"no column '{missing_src[0]}' in {path.name}", where="--map")
    df = df.rename(columns=mapping)
    if df.empty:
        raise UserError("no rows", where=where)
    names = study.recipe.domain_names
    unknown = [c[len(WEIGHT):] for c in df.columns if c.startswith(WEIGHT) and c[len(WEIGHT):] not in names]
    if unknown:
        raise UserError(f"column {WEIGHT}{unknown[0]}: unknown domain '{unknown[0]}' "
                        f"(the recipe's domains: {', '.join(names)})", where=where)
    absent = [n for n in names if WEIGHT + n not in df.columns]
    if absent:
        raise UserError(f"no weight column for domain '{absent[0]}' (name it {WEIGHT}{absent[0]} "
                        f"or map one with --map COLUMN={WEIGHT}{absent[0]})", where=where)
    W = np.column_stack([_finite(df, WEIGHT + n, where) for n in names])
    sums = W.sum(1)
    off = np.flatnonzero((W < 0).any(1) | (np.abs(sums - 1) > SIMPLEX_TOL))
    if len(off):
        i = off[0]
        raise UserError(f"row {i + 2}: mixture is off the simplex (weights sum to {sums[i]:.6g}, "
                        f"min {W[i].min():.6g})", where=where)
    W = W / sums[:, None]
    loss_cols = [c for c in df.columns if c.startswith(LOSS)]
    metric_cols = [c for c in df.columns if c.startswith(METRIC)]
    losses = {c: _finite(df, c, where) for c in loss_cols + metric_cols}
    objectives = study.recipe.objective_list
    if "objective" in df.columns and len(objectives) == 1:
        values = [_finite(df, "objective", where)]
    else:
        values = [_objective_column(o, losses, names, len(df), where) for o in objectives]
    extras = {c: _finite(df, c, where).astype(np.int64) for c in OPTIONAL_INT if c in df.columns}
    rows = []
    stamp = now()
    for i in range(len(df)):
        row = {WEIGHT + n: float(W[i, j]) for j, n in enumerate(names)}
        row.update({c: float(v[i]) for c, v in losses.items()})
        row.update({c: int(v[i]) for c, v in extras.items()})
        row["objective"] = float(values[0][i])
        if len(values) > 1:
            row.update({f"{OBJ}{k}": float(v[i]) for k, v in enumerate(values)})
        rows.append({
            "run_id": stable_hash({"import": row}), "study": study.recipe.study, "status": "done",
            "round": 0, "origin": f"import:{path.name}", "seed": row.pop("seed", study.recipe.seed),
            "tokens": row.pop("tokens", study.recipe.proxy.train.tokens), "params": row.pop("params", 0),
            "predicted": math.nan, "error": None, "created_at": stamp, "finished_at": stamp, **row,
        })
    return study.add(rows), len(rows)
