"""Report sections that answer the question: the recommended mixture with its interval, the
validation against baselines, and the Pareto front of a multi-objective study."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import numpy as np

from mixsearch.search.answer import Answer
from mixsearch.search.recommendation import Recommendation
from mixsearch.store.schema import mixture_of
from mixsearch.search.study import Study
from mixsearch.search.objectives import objectives_matrix, pareto_runs


def mixture_bars(names: list[str], bars: dict[str, np.ndarray], height: float) -> plt.Figure:
    """Grouped bars: one group per domain, one bar per labelled mixture."""
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names)), height))
    width = 0.8 / len(bars)
    for i, (label, w) in enumerate(bars.items()):
        ax.bar(np.arange(len(names)) + i * width - 0.4 + width / 2, w, width, label=label)
    ax.set_xticks(np.arange(len(names)), names, rotation=20)
    ax.set_ylabel("weight")
    ax.legend(fontsize=8)
    return fig


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _recommendation(rec: Recommendation, names: list[str], label: str) -> list[str]:
    """A recommendation's heading line, its weights (with bootstrap ranges) and stability."""
    stab = rec.stability
    parts = [f"<p><b>{html.escape(label)}</b> {html.escape(rec.id)} (the {html.escape(rec.surrogate)} surrogate's "
             f"optimum on {rec.runs} runs, {html.escape(rec.created)}): predicted objective <b>{rec.predicted:.4f}</b>, "
             f"95% interval for one run [{rec.interval[0]:.4f}, {rec.interval[1]:.4f}].</p>"]
    if rec.distrust:
        parts.append(f"<p><b>warning:</b> {html.escape(rec.distrust)}.</p>")
    head = ["domain", "weight"] + (["range (10-90% of bootstrap optima)"] if stab else [])
    parts.append(_table(head, [[n, f"{rec.mixture[n]:.3f}"] + ([f"{stab.low[n]:.2f}-{stab.high[n]:.2f}"] if stab
                                                               else []) for n in names]))
    if stab is not None:
        beats = ", ".join(f"{k} {p:.0%}" for k, p in stab.p_beats.items())
        parts.append(f"<p>{stab.replicates} refits on resampled runs: median L1 {stab.median_l1:.2f} from this "
                     f"mixture; probability under the model that it beats {html.escape(beats)}.</p>")
        if (line := stab.warning()) is not None:
            parts.append(f"<p><b>warning:</b> {html.escape(line)}</p>")
    return parts


def _validation(validation: dict) -> list[str]:
    comps = {c["name"]: c for c in validation["comparisons"]}
    rows = []
    for arm in validation["mixtures"]:
        c = comps.get(arm["name"])
        p = c.get("wilcoxon_p") if c else None
        rows.append([arm["name"], str(len(arm["values"])), f"{arm['mean']:.4f} ± {arm['sd']:.4f}",
                     "" if c is None else f"{c['diff']:+.4f} [{c['interval'][0]:+.4f}, {c['interval'][1]:+.4f}]",
                     "" if p is None else f"{p:.3f}", "" if c is None else c["verdict"]])
    auto = {"decided": "; --seeds auto: decided", "max-seeds": "; --seeds auto: undecided at the maximum"}
    return [f"<h3>Validation at fidelity {html.escape(str(validation['fidelity']))} "
            f"(seeds {', '.join(map(str, validation['seeds']))}{auto.get(validation.get('stopped_by', ''), '')})</h3>",
            _table(["mixture", "runs", "mean ± sd", "difference to recommendation [95% CI]", "signed-rank p",
                    "verdict"], rows),
            "<p>A verdict needs the t-interval to exclude 0 and the exact signed-rank test p &lt; 0.05 "
            "(6 seeds at least).</p>"]


def answer(study: Study, state: Answer, recipe: str, png) -> str:
    """The answer: the validated recommendation with its measured validation (else the latest,
    marked not validated), a later fit's recommendation beside it when one moved it, bars beside
    uniform, natural and the best run, and the best observed run with its noise band."""
    names = study.recipe.mixture_names
    best = study.best()
    rec = state.recommendation
    if rec is None:
        return "<p>No recommendation yet: too few completed runs to fit a surrogate.</p>"
    space = study.space()
    validated = state.validation is not None
    parts = _recommendation(rec, names, "Recommended mixture (validated)" if validated else
                            "Recommended mixture (not validated)")
    parts += _validation(state.validation) if validated else [
        f"<p>Not validated yet: <code>mixsearch validate {html.escape(recipe)} --seeds auto</code> trains it beside "
        "uniform, natural and the best run.</p>"]
    bars = {"recommendation": np.array([rec.mixture[n] for n in names]), "uniform": space.uniform,
            "natural (token share)": space.natural_or_prior}
    if state.current is not None:
        parts += _recommendation(state.current, names, "A later fit's recommendation (not validated)")
        parts.append(f"<p>It is L1 {state.distance:.3f} from the validated recommendation, which stays the answer "
                     f"until <code>mixsearch validate {html.escape(recipe)}</code> measures the new one.</p>")
        bars["later fit (not validated)"] = np.array([state.current.mixture[n] for n in names])
    if best is not None:
        bars["best observed run"] = np.array(list(mixture_of(best, names).values()))
        band = f" ± {rec.noise_sd:.4f} (seed sd)" if rec.noise_sd else " (seed noise not measured)"
        parts.append(f"<p>Best observed run: {float(best['objective']):.4f}{band} — one seed, a winner's-curse "
                     "pick, not the answer.</p>")
    parts.append(png(mixture_bars(names, bars, 3.4)))
    return "\n".join(parts)


def pareto(study: Study, png) -> str:
    """Two or more objectives: the first two plotted, the front highlighted and listed."""
    r = study.recipe
    done = study.completed_at_target()
    Y = objectives_matrix(study, done)
    if Y is None or done.empty:
        return ""
    front = pareto_runs(study)
    F = objectives_matrix(study, front)
    labels = [o.label for o in r.objective_list]
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.scatter(Y[:, 0], Y[:, 1], s=14, alpha=0.5, label="runs")
    order = np.argsort(F[:, 0])
    ax.plot(F[order, 0], F[order, 1], "o-", color="C3", label="Pareto front")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend()
    rows = [[str(row["run_id"])[:10], *[f"{v:.4f}" for v in y],
             *[f"{w:.3f}" for w in mixture_of(row, r.mixture_names).values()]]
            for row, y in zip(front.to_dict("records"), F)]
    return png(fig) + _table(["run", *labels, *r.mixture_names], rows)
