"""Import runs done elsewhere (CSV or Parquet: one column per domain weight, one per loss or metric).

The table is one file, or a ratios file and a metrics file joined on an id column; weight columns
may be renamed by prefix (`train_<domain>` -> `w_<domain>`) and by explicit mapping; mixsearch's own
export re-imports (rows that are not `done` are skipped). Rows whose weights sum to 1 within a
stated tolerance are renormalized instead of rejected. Values are taken in the user's sign: a
`maximize` objective's accuracy column imports as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from mixsearch.errors import UserError
from mixsearch.hashing import stable_hash
from mixsearch.layout import Layout
from mixsearch.mixtures import SUM_TOL
from mixsearch.search.objectives import objective_value
from mixsearch.recipe.schema import Objective
from mixsearch.recipe.base import BIG
from mixsearch.store.parts import STATUSES, now
from mixsearch.store.schema import LOSS, METRIC, OBJECTIVE, WEIGHT, weight_columns
from mixsearch.search.study import Study

OPTIONAL_INT = {"tokens": (1, BIG), "params": (0, BIG), "seed": (0, 2**32 - 1)}  # taken when every row has them
PASSED_ON = ("fidelity", "fidelity_value")  # an export's fidelity of each run
FIDELITY_MAP = "fidelity:"  # --map fidelity:<name in the file>=<name in the recipe's plan>


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
    """--map SOURCE=TARGET options as a rename mapping (SOURCE `fidelity:<name>`: a fidelity name)."""
    mapping = {}
    for item in items:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise UserError(f"'{item}' is not SOURCE=TARGET", where="--map")
        mapping[src] = dst
    return mapping


@dataclass(frozen=True)
class ImportOptions:
    mapping: dict[str, str] = field(default_factory=dict)  # SOURCE -> TARGET column (or fidelity:) renames
    metrics: Path | None = None  # a second file (metrics), joined with the first on id_column
    id_column: str | None = None
    weights_prefix: str | None = None  # columns <prefix><domain> are the domain weights
    renormalize: float | None = None  # accept weights summing to 1 within this, and rescale them


@dataclass
class ImportSummary:
    new: int
    rows: int
    renormalized: int = 0  # rows whose weights were rescaled to sum to one
    skipped_not_done: int = 0  # rows of an export that are not 'done'
    unmatched: int = 0  # rows of either file without a partner in the other


def load_table(study: Study, path: Path, opts: ImportOptions) -> tuple[pd.DataFrame, ImportSummary]:
    """The runs table: read, joined, renamed, and reduced to done runs when it has a status column."""
    df = read_table(path)
    summary = ImportSummary(0, 0)
    if opts.metrics is not None:
        if not opts.id_column:
            raise UserError("a metrics file needs the id column both files share", where="--id")
        metrics = read_table(opts.metrics)
        for frame, where in ((df, path), (metrics, opts.metrics)):
            if opts.id_column not in frame.columns:
                raise UserError(f"no id column '{opts.id_column}'", where=str(where))
        joined = df.merge(metrics, on=opts.id_column, how="inner", suffixes=("", "_metrics"))
        summary.unmatched = len(df) + len(metrics) - 2 * len(joined)
        if joined.empty:
            raise UserError(f"no id in column '{opts.id_column}' is in both files", where=str(opts.metrics))
        df = joined
    if opts.weights_prefix:
        names = set(study.recipe.mixture_names)
        p = opts.weights_prefix
        df = df.rename(columns={c: WEIGHT + c[len(p):] for c in df.columns
                                if isinstance(c, str) and c.startswith(p) and c[len(p):] in names})
    columns = {k: v for k, v in opts.mapping.items() if not k.startswith(FIDELITY_MAP)}
    missing_src = [c for c in columns if c not in df.columns]
    if missing_src:
        raise UserError(f"no column '{missing_src[0]}' in {path.name}", where="--map")
    df = df.rename(columns=columns)
    if "status" in df.columns:  # an export of a study: only its done runs are results
        status = df["status"].astype(str)
        foreign = sorted(set(status) - set(STATUSES))
        if foreign:
            raise UserError(f"column 'status': '{foreign[0]}' (row {int(np.argmax(status == foreign[0])) + 2}) is not "
                            f"a mixsearch status ({', '.join(STATUSES)}); rows of a mixsearch export are imported "
                            "when 'done'. Another table's column: rename it, e.g. --map status=run_status",
                            where=str(path))
        done = status == "done"
        summary.skipped_not_done = int((~done).sum())
        if not done.any():
            raise UserError(f"column 'status': no row is 'done' ({len(df)} rows skipped)", where=str(path))
        df = df[done].reset_index(drop=True)
    return _plan_fidelities(df, study, opts.mapping, str(path)), summary


def _plan_fidelities(df: pd.DataFrame, study: Study, mapping: dict[str, str], where: str) -> pd.DataFrame:
    """The fidelity column renamed by `--map fidelity:NAME=PLAN_NAME`; every name must be of the plan."""
    renames = {k[len(FIDELITY_MAP):]: v for k, v in mapping.items() if k.startswith(FIDELITY_MAP)}
    if "fidelity" not in df.columns:
        if renames:
            raise UserError("fidelity names are mapped, but the table has no 'fidelity' column", where="--map")
        return df
    plan = [f[0] for f in study.recipe.proxy.fidelity_configs()]
    names = df["fidelity"].map(lambda v: renames.get(str(v), str(v)) if pd.notna(v) else v)
    unknown = list(dict.fromkeys(str(v) for v in names if pd.notna(v) and v not in plan))
    if unknown:
        row = int(np.argmax(names.astype(str) == unknown[0])) + 2
        fix = " ".join(f"--map 'fidelity:{u}=NAME'" for u in unknown[:4])
        raise UserError(f"column 'fidelity': row {row}: fidelity '{unknown[0]}' is not in the recipe's plan "
                        f"({', '.join(plan)}); {len(unknown)} unknown name(s): {', '.join(unknown[:8])}. "
                        f"Map each to a name of the plan: {fix}, or add it to proxy.fidelities", where=where)
    return df.assign(fidelity=names)


def _finite(df: pd.DataFrame, col: str, where: str) -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raw = df[col].iloc[bad[0]]
        raise UserError(f"row {bad[0] + 2}: column '{col}' is not a finite number "
                        f"({'empty' if pd.isna(raw) else repr(str(raw))})", where=where)
    return values


def _whole(df: pd.DataFrame, col: str, where: str) -> np.ndarray:
    """A column of whole numbers within OPTIONAL_INT's range for it, as int64."""
    lo, hi = OPTIONAL_INT[col]
    values = _finite(df, col, where)
    bad = np.flatnonzero((values != np.round(values)) | (values < lo) | (values > hi))
    if len(bad):
        raise UserError(f"row {bad[0] + 2}: column '{col}' is {values[bad[0]]:.6g}; expected a whole number "
                        f"from {lo} to {hi:.6g}", where=where)
    return values.astype(np.int64)


def _objective_column(obj: Objective, columns: dict[str, np.ndarray], names: list[str], n: int, where: str,
                      empty: list[str]) -> np.ndarray:
    """One objective per row from the loss_<name> and metric_<name> columns (`empty`: those no row has)."""
    def of_row(i: int) -> float:
        losses = {c[len(LOSS):]: v[i] for c, v in columns.items() if c.startswith(LOSS)}
        metrics = {c[len(METRIC):]: v[i] for c, v in columns.items() if c.startswith(METRIC)}
        return objective_value(obj, losses, names, metrics)

    try:
        return np.array([of_row(i) for i in range(n)], float)
    except KeyError as exc:
        missing = exc.args[0]
        column = missing if missing.startswith(LOSS) else METRIC + missing
        if column in empty:
            raise UserError(f"no 'objective' column, and column {column} (to compute it from) has no values",
                            where=where) from None
        raise UserError(f"no 'objective' column, and no {column} column to compute it from", where=where) from None


def import_runs(study: Study, path: Path, mapping: dict[str, str]) -> tuple[int, int]:
    """Validate every row, then store them all as 'done' runs (or none). Returns (new, total)."""
    summary = import_table(study, path, ImportOptions(mapping=mapping))
    return summary.new, summary.rows


def import_table(study: Study, path: Path, opts: ImportOptions) -> ImportSummary:
    """Validate every row, then store them all as 'done' runs (or none)."""
    where = str(path)
    df, summary = load_table(study, path, opts)
    if df.empty:
        raise UserError("no rows", where=where)
    names, blocks = study.recipe.mixture_names, Layout.of(study.recipe).blocks
    W = _mixtures(df, names, blocks, opts.renormalize, where)
    sums = np.column_stack([W[:, b].sum(1) for b in blocks])
    summary.renormalized = int((np.abs(sums - 1) > 1e-9).any(1).sum()) if opts.renormalize is not None else 0
    for j, b in enumerate(blocks):
        W[:, b] /= sums[:, j:j + 1]
    measured = [c for c in df.columns if isinstance(c, str) and c.startswith((LOSS, METRIC))]
    empty = [c for c in measured if df[c].isna().all()]  # a loss or metric no row has (an export's null column)
    losses = {c: _finite(df, c, where) for c in measured if c not in empty}
    objectives = study.recipe.objective_list
    if "objective" in df.columns and len(objectives) == 1:
        values = [_finite(df, "objective", where)]
    else:
        values = [_objective_column(o, losses, study.recipe.domain_names, len(df), where, empty) for o in objectives]
    extras = {c: _whole(df, c, where) for c in OPTIONAL_INT
              if c in df.columns and pd.to_numeric(df[c], errors="coerce").notna().all()}
    fidelity = {c: df[c].tolist() for c in PASSED_ON if c in df.columns}
    rows = []
    stamp = now()
    for i in range(len(df)):
        row = weight_columns(dict(zip(names, map(float, W[i]))))
        row.update({c: float(v[i]) for c, v in losses.items()})
        row.update({c: int(v[i]) for c, v in extras.items()})
        row["objective"] = float(values[0][i])
        if len(values) > 1:
            row.update({f"{OBJECTIVE}{k}": float(v[i]) for k, v in enumerate(values)})
        row.update({c: v[i] for c, v in fidelity.items() if pd.notna(v[i])})
        rows.append({
            "run_id": stable_hash({"import": row}), "study": study.recipe.study, "status": "done",
            "round": 0, "origin": f"import:{path.name}", "seed": row.pop("seed", study.recipe.seed),
            "tokens": row.pop("tokens", study.recipe.proxy.train.tokens), "params": row.pop("params", 0),
            "predicted": math.nan, "error": None, "created_at": stamp, "finished_at": stamp, **row,
        })
    summary.new, summary.rows = study.add(rows), len(rows)
    return summary


def _mixtures(df: pd.DataFrame, names: list[str], blocks: list[slice], renormalize: float | None,
              where: str) -> np.ndarray:
    """The rows' weight columns in the mixture's order, each row's blocks (phases) on the simplex
    (within `renormalize` of a sum of 1, when given); a UserError names an unknown or missing
    weight or the first row off it."""
    unknown = [c[len(WEIGHT):] for c in df.columns if c.startswith(WEIGHT) and c[len(WEIGHT):] not in names]
    if unknown:
        raise UserError(f"column {WEIGHT}{unknown[0]}: unknown domain '{unknown[0]}' "
                        f"(the recipe's domains: {', '.join(names)})", where=where)
    absent = [n for n in names if WEIGHT + n not in df.columns]
    if absent:
        raise UserError(f"no weight column for domain '{absent[0]}' (name it {WEIGHT}{absent[0]} "
                        f"or map one with --map COLUMN={WEIGHT}{absent[0]})", where=where)
    W = np.column_stack([_finite(df, WEIGHT + n, where) for n in names])
    sums = np.column_stack([W[:, b].sum(1) for b in blocks])
    tol = SUM_TOL if renormalize is None else max(renormalize, SUM_TOL)
    off = np.flatnonzero((W < 0).any(1) | (np.abs(sums - 1) > tol).any(1))
    if len(off):
        i = off[0]
        sums = sums[:, int(np.argmax(np.abs(sums[i] - 1)))]
        hint = "" if renormalize is not None else " (--renormalize TOL accepts sums within TOL of 1)"
        shown = ", ".join(f"{WEIGHT}{n}={W[i, j]:.6g}" for j, n in enumerate(names))
        raise UserError(f"row {i + 2}: mixture is off the simplex (weights sum to {sums[i]:.6g}: {shown}){hint}",
                        where=where)
    return W
