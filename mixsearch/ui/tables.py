"""Rich tables of surrogate fits and mixtures."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.table import Table

from mixsearch.ui.output import err, out

if TYPE_CHECKING:
    from mixsearch.modelling import FitResult
    from mixsearch.recommend import Recommendation


def fit_table(fit: FitResult) -> Table:
    reused = " (stored fit: no run finished since; --refit to fit anew)" if fit.reused else ""
    floor = fit.noise
    caption = (f"noise floor: seed sd {floor.sd:.4f} ({floor.mixtures} mixtures, {floor.dof} dof); "
               f"a perfect predictor reaches Spearman {floor.max_spearman:.3f} on single runs" if floor
               else "noise floor: not measured (set search.replicates)")
    table = Table(title=f"surrogates, {fit.chosen.folds}-fold CV on {fit.n_runs} runs{reused}", caption=caption)
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


def print_fit(fit: FitResult) -> None:
    """The CV table on stdout, the fit's warnings on stderr."""
    out.print(fit_table(fit))
    for line in fit.warnings:
        err.print(f"warning: {line}", markup=False, highlight=False)


def recommendation_table(rec: Recommendation, names: list[str]) -> Table:
    table = Table(title=f"recommended mixture: the {rec.surrogate} surrogate's optimum ({rec.runs} runs)")
    for n in names:
        table.add_column(n, justify="right")
    table.add_column("predicted", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_row(*[f"{rec.mixture[n]:.3f}" for n in names], f"{rec.predicted:.4f}",
                  f"[{rec.interval[0]:.4f}, {rec.interval[1]:.4f}]")
    return table


def show_answer(rec: Recommendation | None, best: dict | None, names: list[str]) -> None:
    """The recommendation first; the best observed run only with its noise band."""
    if rec:
        out.print(recommendation_table(rec, names))
    if best:
        show_best(best, rec, names)


def show_best(best: dict, rec: Recommendation | None, names: list[str]) -> None:
    out.print(mixture_table([best], names, "best observed run (one seed: not the answer)", "objective"))
    sd = rec.noise_sd if rec else None
    band = f" ± {sd:.4f} (seed sd)" if sd else " (seed noise not measured: set search.replicates)"
    out.print(f"best observed objective {best['objective']:.4f}{band}", highlight=False)
