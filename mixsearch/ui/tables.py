"""Rich tables of surrogate fits, mixtures and validations."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.table import Table

from mixsearch.ui.output import err, out

if TYPE_CHECKING:
    from mixsearch.search.answer import Answer
    from mixsearch.search.modelling import FitResult
    from mixsearch.search.recommendation import Recommendation
    from mixsearch.search.transfer import Transfer
    from mixsearch.search.validate import Validation


def fit_table(fit: FitResult) -> Table:
    reused = " (stored fit: no run finished since; --refit to fit anew)" if fit.reused else ""
    floor = fit.noise
    caption = (f"noise floor: seed sd {floor.sd:.4f} ({floor.mixtures} mixtures, {floor.dof} dof; 95% interval "
               f"[{floor.sd_interval[0]:.4f}, {floor.sd_interval[1]:.4f}]); a perfect predictor reaches Spearman "
               f"{floor.max_spearman:.3f} on single runs" if floor
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
    from mixsearch.store.schema import mixture_of

    table = Table(title=title)
    table.add_column("run_id")
    table.add_column("fidelity")
    for n in names:
        table.add_column(n, justify="right")
    table.add_column(value, justify="right")
    for row in rows:
        v = row.get(value, math.nan)
        fid = row.get("fidelity")
        table.add_row(row["run_id"][:10], fid if isinstance(fid, str) else "-", *[f"{w:.3f}" for w in mixture_of(row, names).values()],
                      "-" if v is None or not math.isfinite(v) else f"{v:.4f}")
    return table


def print_fit(fit: FitResult) -> None:
    """The CV table on stdout, the fit's warnings on stderr."""
    out.print(fit_table(fit))
    for line in fit.warnings:
        err.print(f"warning: {line}", markup=False, highlight=False)


def recommendation_table(rec: Recommendation, names: list[str], label: str = "") -> Table:
    """The mixture with its predicted objective and interval; with a bootstrap, each weight's
    range and the probability under the model that it beats uniform and natural."""
    stab = rec.stability
    caption = None
    if stab is not None:
        from mixsearch.search.stability import RANGE

        beats = ", ".join(f"{k} {p:.0%}" for k, p in stab.p_beats.items())
        caption = (f"range: {RANGE[0]}-{RANGE[1]}% of the optima of {stab.replicates} refits on resampled runs "
                   f"(median L1 {stab.median_l1:.2f} from this one); P(better than) under the model: {beats}")
    caption = "\n".join(x for x in (f"warning: {rec.distrust}" if rec.distrust else "", caption) if x) or None
    table = Table(title=f"recommended mixture{label} {rec.id}: the {rec.surrogate} surrogate's optimum "
                        f"({rec.runs} runs, {rec.created})", caption=caption)
    table.add_column("")
    for n in names:
        table.add_column(n, justify="right")
    table.add_column("predicted", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_row("weight", *[f"{rec.mixture[n]:.3f}" for n in names], f"{rec.predicted:.4f}",
                  f"[{rec.interval[0]:.4f}, {rec.interval[1]:.4f}]")
    if stab is not None:
        table.add_row("range", *[f"{stab.low[n]:.2f}-{stab.high[n]:.2f}" for n in names], "", "")
    return table


def show_recommendation(answer: Answer, names: list[str], recipe: str) -> None:
    """The answer first: the validated recommendation with its measured result, then a later fit's
    recommendation, when one moved it, labelled "not validated" with its distance and a hint."""
    rec = answer.recommendation
    if rec is None:
        return
    if answer.validation is None:
        out.print(recommendation_table(rec, names, " (not validated)"))
    else:
        out.print(recommendation_table(rec, names, " (validated)"))
        out.print(validation_line(answer.validation), highlight=False)
    for r in (rec, answer.current):
        if r is not None and r.stability is not None and (line := r.stability.warning()):
            err.print(f"warning: {line}", markup=False, highlight=False)
    if answer.current is not None:
        out.print(recommendation_table(answer.current, names, " from a later fit (not validated)"))
        out.print(f"the latest fit moved the recommendation by L1 {answer.distance:.3f} from the validated one, "
                  f"which stays the answer; `mixsearch validate {recipe}` measures the new one", highlight=False)
    elif answer.validation is None:
        out.print(f"not validated yet: `mixsearch validate {recipe} --seeds auto` measures it against uniform",
                  highlight=False)


def validation_line(validation: dict) -> str:
    """The measured result of a validation in one line: the recommendation's mean and its verdict
    against uniform."""
    arm = next(m for m in validation["mixtures"] if m["name"] == "recommendation")
    line = f"measured: {arm['mean']:.4f} ± {arm['sd']:.4f} over {len(arm['values'])} seeds"
    c = next((c for c in validation["comparisons"] if c["name"] == "uniform"), None)
    if c is not None:
        lo, hi = c["interval"]
        line += (f"; uniform - recommendation {c['diff']:+.4f} [{lo:+.4f}, {hi:+.4f}], signed-rank p "
                 f"{c.get('wilcoxon_p', math.nan):.3f}: {c['verdict']}")
    return line


def show_answer(answer: Answer, best: dict | None, names: list[str], recipe: str) -> None:
    """The recommendation first; the best observed run only with its noise band."""
    show_recommendation(answer, names, recipe)
    if best:
        show_best(best, answer.recommendation, names)


def show_best(best: dict, rec: Recommendation | None, names: list[str]) -> None:
    out.print(mixture_table([best], names, "best observed run (one seed: not the answer)", "objective"))
    sd = rec.noise_sd if rec else None
    band = f" ± {sd:.4f} (seed sd)" if sd else " (seed noise not measured: set search.replicates)"
    out.print(f"best observed objective {best['objective']:.4f}{band}", highlight=False)


def validation_table(result: Validation) -> Table:
    """The validation as a rich table: mean ± sd per mixture, paired difference to the
    recommendation with its 95% interval, the signed-rank p-value, and the verdict."""
    comps = {c.name: c for c in result.comparisons}
    used = {"decided": f"; --seeds auto: decided after {len(result.seeds)} seeds",
            "max-seeds": f"; --seeds auto: undecided at the maximum, {len(result.seeds)} seeds"}.get(result.stopped_by, "")
    t = Table(title=f"validation of recommendation {result.recommendation.id} at fidelity {result.fidelity}, "
                    f"seeds {', '.join(map(str, result.seeds))}{used}", caption=VALIDATION_CAPTION)
    for col in ("mixture", "runs", "mean ± sd", "difference [95% interval]", "signed-rank p", "verdict"):
        t.add_column(col, justify="left" if col in ("mixture", "verdict") else "right")
    for arm in result.arms:
        c = comps.get(arm.name)
        diff = "" if c is None else f"{c.diff:+.4f} [{c.interval[0]:+.4f}, {c.interval[1]:+.4f}]"
        t.add_row(arm.name, str(len(arm.values)), f"{arm.mean:.4f} ± {arm.sd:.4f}", diff,
                  "" if c is None or math.isnan(c.wilcoxon_p) else f"{c.wilcoxon_p:.3f}", "" if c is None else c.verdict)
    return t


def transfer_table(t: Transfer) -> Table:
    """Scale transfer: each smaller scale's ranking of the mixtures against the largest's (Spearman
    with its bootstrap interval over seeds), and the recommendation's gain over uniform per scale."""
    holds = {True: "holds", False: "is reversed", None: "is not distinguishable"}[t.gain_holds]
    table = Table(title=f"scale transfer to {t.larger}: the gain over uniform {holds} there",
                  caption="Spearman of the mixtures' mean objective, 95% bootstrap interval over seeds; "
                          "gain = uniform - recommendation")
    for col in ("scale", "ranking, best first", f"Spearman with {t.larger} [95%]", "verdict", "gain [95%]"):
        table.add_column(col, justify="right" if col.startswith(("Spearman", "gain")) else "left")
    agree = {a.smaller: a for a in t.agreements}
    for name, order in t.order.items():
        a, g = agree.get(name), t.gains.get(name)
        rho = "" if a is None else f"{a.spearman:+.2f} [{a.interval[0]:+.2f}, {a.interval[1]:+.2f}]"
        gain = "" if g is None else f"{g['diff']:+.4f} [{g['interval'][0]:+.4f}, {g['interval'][1]:+.4f}]"
        table.add_row(name, ", ".join(order), rho, "" if a is None else a.verdict, gain)
    return table


VALIDATION_CAPTION = ("difference = mixture - recommendation over shared seeds, 95% t-interval; a verdict needs the interval "
           "to exclude 0 and the exact signed-rank test p < 0.05 (6 seeds at least)")
