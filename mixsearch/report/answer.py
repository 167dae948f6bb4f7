"""The answer section: the validated recommendation (else the latest, marked not validated) with
the validation that measured it, the later recommendation beside it when a fit moved it, the
weights per domain with their bootstrap ranges, and how the recommendation moved over the study."""

from __future__ import annotations

import html

import numpy as np

from mixsearch.report import figures
from mixsearch.report.tables import table
from mixsearch.search import answer
from mixsearch.search.answer import Answer
from mixsearch.search.recommendation import Recommendation
from mixsearch.search.study import Study
from mixsearch.store.schema import mixture_of

SAME_L1 = 0.01  # a later recommendation closer than this (L1) to the validated one is the same mixture


def _heading(rec: Recommendation, label: str) -> list[str]:
    """A recommendation's line: which fit made it, its prediction and interval, its warnings."""
    parts = [f"<p><b>{html.escape(label)}</b> {html.escape(rec.id)} (the {html.escape(rec.surrogate)} surrogate's "
             f"optimum on {rec.runs} runs, {html.escape(rec.created)}): predicted objective "
             f"<b>{rec.predicted:.4f}</b>, 95% interval for one run "
             f"[{rec.interval[0]:.4f}, {rec.interval[1]:.4f}].</p>"]
    if rec.distrust:
        parts.append(f"<p class='warn'><b>warning:</b> {html.escape(rec.distrust)}.</p>")
    stab = rec.stability
    if stab is not None:
        beats = ", ".join(f"{k} {p:.0%}" for k, p in stab.p_beats.items())
        parts.append(f"<p>{stab.replicates} refits on resampled runs: median L1 {stab.median_l1:.2f} from this "
                     f"mixture; probability under the model that it beats {html.escape(beats)}.</p>")
        if (line := stab.warning()) is not None:
            parts.append(f"<p class='warn'><b>warning:</b> {html.escape(line)}</p>")
    return parts


def _validation(val: dict, names: list[str], sign: float) -> list[str]:
    """The validation: the mixtures it trained (their weights), each one's runs, and the verdicts."""
    comps = {c["name"]: c for c in val["comparisons"]}
    rows = []
    for arm in val["mixtures"]:
        c = comps.get(arm["name"])
        p = c.get("wilcoxon_p") if c else None
        mix = arm.get("mixture") or {}
        rows.append([arm["name"], *[mix.get(n) for n in names], len(arm["values"]),
                     f"{arm['mean']:.4f} ± {arm['sd']:.4f}",
                     "" if c is None else f"{c['diff']:+.4f} [{c['interval'][0]:+.4f}, {c['interval'][1]:+.4f}]",
                     p, "" if c is None else c["verdict"]])
    auto = {"decided": "; --seeds auto: decided", "max-seeds": "; --seeds auto: undecided at the maximum"}
    parts = [f"<h3>Validation at fidelity {html.escape(str(val['fidelity']))} "
             f"(seeds {', '.join(map(str, val['seeds']))}{auto.get(val.get('stopped_by', ''), '')})</h3>",
             table(["mixture", *names, "runs", "mean ± sd", "difference to recommendation [95% CI]", "signed-rank p",
                    "verdict"], rows, "validation"),
             "<p>A verdict needs the t-interval to exclude 0 and the exact signed-rank test p &lt; 0.05 "
             "(6 seeds at least).</p>"]
    usable = [c for c in val["comparisons"] if np.isfinite(c["diff"]) and np.all(np.isfinite(c["interval"]))]
    if usable:
        parts.append(figures.div(figures.gains(usable, sign, "objective"), "gains", 320))
    if val.get("transfer"):
        parts += _transfer(val["transfer"])
    return parts


def _transfer(moved: dict) -> list[str]:
    """Validation at several scales: whether the arms' ranking and the gain over uniform hold at the
    largest scale."""
    rows = [[a["smaller"], a["larger"], a["spearman"], f"[{a['interval'][0]:+.2f}, {a['interval'][1]:+.2f}]",
             a["arms"], a["seeds"], a["verdict"]] for a in moved["agreements"]]
    gains = [[scale, "" if g is None else f"{g['diff']:+.4f} [{g['interval'][0]:+.4f}, {g['interval'][1]:+.4f}]",
              "" if g is None else g["verdict"]] for scale, g in moved["gains"].items()]
    holds = {True: "holds", False: "does not hold (worse than uniform)", None: "is not distinguishable"}
    return [f"<h3>Scale transfer (largest: {html.escape(moved['larger'])})</h3>",
            table(["smaller", "larger", "Spearman", "95% interval", "mixtures", "seeds", "verdict"], rows, "transfer"),
            table(["scale", "uniform − recommendation [95% CI]", "verdict"], gains, "transfer-gains"),
            f"<p>The recommendation's gain over uniform at the largest scale {holds[moved['gain_holds']]}.</p>",
            figures.div(figures.ranks_across_scales(moved["order"]), "ranks", 320)]


def section(study: Study, state: Answer, recipe: str) -> str:
    """The answer, first on the page; a line saying so when there is none yet."""
    names = study.recipe.domain_names
    rec = state.recommendation
    if rec is None:
        return "<p>No recommendation yet: too few completed runs to fit a surrogate.</p>"
    validated = state.validation is not None
    parts = []
    if state.current is not None and state.distance >= SAME_L1:
        parts.append(f"<p class='moved'><b>The recommendation moved:</b> a later fit recommends "
                     f"{html.escape(state.current.id)}, L1 {state.distance:.3f} from the validated "
                     f"{html.escape(rec.id)}, which stays the answer until <code>mixsearch validate "
                     f"{html.escape(recipe)}</code> measures the new one.</p>")
    elif state.current is not None:
        parts.append(f"<p>A later fit ({html.escape(state.current.id)}, on {state.current.runs} runs) recommends "
                     f"the same mixture (L1 {state.distance:.3f} from the validated one).</p>")
    parts += _heading(rec, "Recommended mixture (validated)" if validated else "Recommended mixture (not validated)")
    rows: dict[str, np.ndarray] = {"recommendation" + (" (validated)" if validated else ""):
                                   np.array([rec.mixture[n] for n in names])}
    if state.current is not None:
        parts += _heading(state.current, "A later fit's recommendation (not validated)")
        rows["later fit (not validated)"] = np.array([state.current.mixture[n] for n in names])
    space = study.space()
    rows["uniform"], rows["natural (token share)"] = space.uniform, space.natural_or_prior
    best = study.best()
    if best is not None:
        rows["best observed run"] = np.array(list(mixture_of(best, names).values()))
    stab = rec.stability
    parts.append(table(["mixture", *names], [[k, *map(float, w)] for k, w in rows.items()], "mixtures"))
    parts.append(figures.div(figures.weights(names, rows, stab.low if stab else None, stab.high if stab else None),
                             "weights", 340))
    past = answer.history(study.store.root)
    if len(past) > 1:
        parts.append(figures.div(figures.recommendation_path(past, names, rec.id if validated else None),
                                 "path", 320))
    if validated:
        parts += _validation(state.validation, names, float(study.signs[0]))
    else:
        parts.append(f"<p>Not validated yet: <code>mixsearch validate {html.escape(recipe)} --seeds auto</code> trains "
                     "it beside uniform, natural and the best run.</p>")
    if best is not None:
        hint = "" if study.recipe.fit_only else ": set search.replicates"  # imported runs: no seeds to add
        band = f" ± {rec.noise_sd:.4f} (seed sd)" if rec.noise_sd else f" (seed noise not measured{hint})"
        parts.append(f"<p>Best observed run {html.escape(str(best['run_id'])[:12])}: {float(best['objective']):.4f}"
                     f"{band}: one seed, a winner's-curse pick, not the answer.</p>")
    return "\n".join(parts)
