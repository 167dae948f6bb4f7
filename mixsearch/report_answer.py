"""Report sections that answer the question: the recommended mixture with its interval, the
validation against baselines, and the Pareto front of a multi-objective study."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import numpy as np

from mixsearch.recommend import Recommendation
from mixsearch.store import WEIGHT
from mixsearch.study import Study


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


def answer(study: Study, rec: Recommendation | None, validation: dict | None, png) -> str:
    """The recommended mixture (table and bars beside uniform, natural and the best run), its
    predicted objective with a 95% interval, the best observed run with its noise band, and the
    measured validation if `validate` has run."""
    names = study.recipe.domain_names
    best = study.best()
    if rec is None:
        return "<p>No recommendation yet: too few completed runs to fit a surrogate.</p>"
    space = study.space()
    parts = [f"<p><b>Recommended mixture</b> (the {html.escape(rec.surrogate)} surrogate's optimum on {rec.runs} "
             f"runs): predicted objective <b>{rec.predicted:.4f}</b>, 95% interval for one run "
             f"[{rec.interval[0]:.4f}, {rec.interval[1]:.4f}].</p>",
             _table(["domain", "weight"], [[n, f"{rec.mixture[n]:.3f}"] for n in names])]
    bars = {"recommendation": np.array([rec.mixture[n] for n in names]), "uniform": space.uniform,
            "natural (token share)": space.natural_or_prior}
    if best is not None:
        bars["best observed run"] = np.array([best[WEIGHT + n] for n in names], float)
        band = f" ± {rec.noise_sd:.4f} (seed sd)" if rec.noise_sd else " (seed noise not measured)"
        parts.append(f"<p>Best observed run: {float(best['objective']):.4f}{band} — one seed, a winner's-curse "
                     "pick, not the answer.</p>")
    parts.append(png(mixture_bars(names, bars, 3.4)))
    if validation:
        comps = {c["name"]: c for c in validation["comparisons"]}
        rows = []
        for arm in validation["mixtures"]:
            c = comps.get(arm["name"])
            rows.append([arm["name"], str(len(arm["values"])), f"{arm['mean']:.4f} ± {arm['sd']:.4f}",
                         "" if c is None else f"{c['diff']:+.4f} [{c['interval'][0]:+.4f}, {c['interval'][1]:+.4f}]",
                         "" if c is None else c["verdict"]])
        parts += [f"<h3>Validation at fidelity {html.escape(str(validation['fidelity']))} "
                  f"(seeds {', '.join(map(str, validation['seeds']))})</h3>",
                  _table(["mixture", "runs", "mean ± sd", "difference to recommendation [95% CI]", "verdict"], rows)]
    else:
        parts.append("<p>Not validated yet: <code>mixsearch validate RECIPE</code> trains it beside uniform, "
                     "natural and the best run.</p>")
    return "\n".join(parts)


def pareto(study: Study, png) -> str:
    """Two or more objectives: the first two plotted, the front highlighted and listed."""
    r = study.recipe
    done = study.completed_at_target()
    Y = study.objectives_matrix(done)
    if Y is None or done.empty:
        return ""
    front = study.pareto()
    F = study.objectives_matrix(front)
    labels = [o.label for o in r.objective_list]
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.scatter(Y[:, 0], Y[:, 1], s=14, alpha=0.5, label="runs")
    order = np.argsort(F[:, 0])
    ax.plot(F[order, 0], F[order, 1], "o-", color="C3", label="Pareto front")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend()
    rows = [[str(row["run_id"])[:10], *[f"{v:.4f}" for v in y],
             *[f"{float(row[WEIGHT + n]):.3f}" for n in r.domain_names]]
            for row, y in zip(front.to_dict("records"), F)]
    return png(fig) + _table(["run", *labels, *r.domain_names], rows)
