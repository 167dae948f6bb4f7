"""Rich tables of surrogate fits and mixtures."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from mixsearch.study import FitResult


def fit_table(fit: FitResult) -> Table:
    reused = " (stored fit: no run finished since; --refit to fit anew)" if fit.reused else ""
    table = Table(title=f"surrogates, {fit.chosen.folds}-fold CV on {fit.n_runs} runs{reused}")
    for col in ("surrogate", "spearman", "MAE", "fit s", ""):
        table.add_column(col, justify="right" if col not in ("surrogate", "") else "left")
    for s in fit.scores:
        if s.skipped:
            table.add_row(s.name, "-", "-", "-", f"skipped: {s.skipped}")
            continue
        table.add_row(s.name, f"{s.spearman:.3f}", f"{s.mae:.4f}", f"{s.fit_seconds:.2f}",
                      "[green]chosen" if s.name == fit.name else "")
    return table


def mixture_table(rows: list[dict], names: list[str], title: str, value: str) -> Table:
    from mixsearch.store import WEIGHT

    table = Table(title=title)
    table.add_column("run_id")
    table.add_column("fidelity")
    for n in names:
        table.add_column(n, justify="right")
    table.add_column(value, justify="right")
    for row in rows:
        v = row.get(value, math.nan)
        fid = row.get("fidelity")
        table.add_row(row["run_id"][:10], fid if isinstance(fid, str) else "-", *[f"{row[WEIGHT + n]:.3f}" for n in names],
                      "-" if v is None or not math.isfinite(v) else f"{v:.4f}")
    return table
