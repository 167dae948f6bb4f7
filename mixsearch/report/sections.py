"""The page's sections after the answer, each built from the study's stored runs and fit (nothing
is fitted or written): objective against each domain's weight, search history, surrogate fit,
fidelity agreement, Pareto front, runs, and what produced them. A section returns "" when it does
not apply to the study, and the page leaves it out."""

from __future__ import annotations

import html
import platform
from importlib import metadata

import numpy as np
import pandas as pd
import yaml

from mixsearch.report import figures
from mixsearch.report.tables import runs_table, table
from mixsearch.search.modelling import FitResult
from mixsearch.search.objectives import objectives_matrix, pareto_runs
from mixsearch.search.study import Study, is_validation
from mixsearch.store.schema import WEIGHT, mixture_of, weights_matrix
from mixsearch.surrogate import fitstore
from mixsearch.surrogate.cv import POOR_RANK, spearman

PD_GRID = 25  # weights at which each domain's partial dependence is evaluated
PD_BACKGROUND = 200  # runs' mixtures it averages over (the most recent)


def best_so_far(y: np.ndarray, counted: np.ndarray, sign: float) -> np.ndarray:
    """The best objective among the `counted` runs up to each one (inf where none is yet)."""
    return sign * np.minimum.accumulate(np.where(counted, sign * y, np.inf))


def partial_dependence(fit: FitResult, W: np.ndarray, names: list[str]) -> dict[str, tuple]:
    """Per domain: a grid of its weight and the surrogate's mean, 10th and 90th percentile
    prediction (sign-adjusted) over the background mixtures W with that weight set and the other
    domains scaled in proportion to fill the rest."""
    W = W[-PD_BACKGROUND:]
    out = {}
    for j, n in enumerate(names):
        grid = np.linspace(0.0, min(1.0, float(W[:, j].max()) + 0.1), PD_GRID)
        rest = 1.0 - W[:, j]
        others = np.where(rest[:, None] > 1e-9, W / np.where(rest > 1e-9, rest, 1.0)[:, None],
                          1.0 / max(len(names) - 1, 1))
        others[:, j] = 0.0
        preds = []
        for g in grid:
            X = others * (1.0 - g)
            X[:, j] = g
            preds.append(fit.surrogate.predict(X))
        P = np.array(preds)
        out[n] = (grid, P.mean(1), np.percentile(P, 10, axis=1), np.percentile(P, 90, axis=1))
    return out


def objective_by_weight(study: Study, fit: FitResult | None) -> str:
    """Target-fidelity runs of the search against each domain's weight, with the surrogate's partial dependence."""
    runs = study.completed_at_target()
    runs = runs[~is_validation(runs)] if len(runs) else runs
    if runs.empty:
        return ""
    names = study.recipe.domain_names
    curves = partial_dependence(fit, weights_matrix(runs, names), names) if fit is not None else None
    fig = figures.partial_dependence(runs, names, curves, float(study.signs[0]))
    note = "" if fit is not None else "<p>No stored fit of the current runs: the surrogate's lines are not drawn.</p>"
    return note + figures.div(fig, "by-weight", 330 * -(-len(names) // 3))


def device_hours(done: pd.DataFrame) -> np.ndarray | None:
    """Each run's device-hours (CPU + GPU), or None when no run counted any (imported runs)."""
    hours = np.zeros(len(done))
    for col in ("cpu_hours", "gpu_hours"):
        if col in done:
            hours += pd.to_numeric(done[col], errors="coerce").fillna(0).to_numpy(float)
    return hours if hours.any() else None


def history(study: Study, done: pd.DataFrame) -> str:
    """Every completed run in finishing order by origin; the best so far counts the search's
    target-fidelity runs only (validation runs are shown and never count)."""
    done = done.sort_values("finished_at", kind="stable") if "finished_at" in done else done
    target = np.isclose(study.fidelity_values(done), 1.0)
    best = best_so_far(done["objective"].to_numpy(float), target & ~is_validation(done).to_numpy(),
                       float(study.signs[0]))
    hours = device_hours(done)
    fig = figures.history(done, study.recipe.domain_names, target, best,
                          None if hours is None else np.cumsum(hours))
    return figures.div(fig, "history", 380)


def surrogate(study: Study, fit: FitResult | None) -> str:
    """Out-of-fold predicted against actual with the noise band, and every candidate's CV scores;
    without a fit of the current runs, the last stored cross-validation, marked as such."""
    sign = float(study.signs[0])
    if fit is not None:
        chosen = fit.chosen
        rows = [[s.name, s.spearman, s.mae, s.fit_seconds, s.skipped or ("chosen" if s.name == fit.name else "")]
                for s in fit.scores]
        name, runs, pred, actual, folds = fit.name, fit.n_runs, chosen.predicted, chosen.actual, chosen.folds
        noise, notes = fit.noise, [f"<p class='warn'><b>warning:</b> {html.escape(w)}</p>" for w in fit.warnings]
    else:
        doc = fitstore.summary(study.store.root)
        if doc is None:
            return ""
        rows = [[s.get("name"), s.get("spearman"), s.get("mae"), s.get("fit_seconds"),
                 s.get("skipped") or ("chosen" if s.get("name") == doc["chosen"] else "")] for s in doc["scores"]]
        chosen_doc = next((s for s in doc["scores"] if s.get("name") == doc["chosen"]), {})
        name, runs, folds, noise = doc["chosen"], doc["runs"], chosen_doc.get("folds"), None
        pred, actual = (None if chosen_doc.get(k) is None else np.asarray(chosen_doc[k], float)
                        for k in ("predicted", "actual"))
        notes = [f"<p>No stored fit of the current runs: this is the last fit, of {runs} runs; runs have finished "
                 "since (<code>mixsearch fit</code> fits them; <code>report --refit</code> too).</p>"]
    parts = notes + [table(["surrogate", "Spearman", "MAE", "fit s", ""], rows, "cv")]
    if pred is not None and actual is not None and len(pred) == len(actual) > 1:
        pred, actual = sign * pred, sign * actual
        title = f"{name} on {runs} runs: {folds}-fold Spearman {spearman(pred, actual):.3f}"
        if noise is not None:
            title += f" (seed noise allows at most {noise.max_spearman:.2f})"
        parts.append(figures.div(figures.predicted_vs_actual(actual, pred, noise.sd if noise else None, title),
                                 "fit", 420))
    return "\n".join(parts)


def fidelities(study: Study, done: pd.DataFrame) -> str:
    """With several fidelities: per cheaper fidelity, the same mixtures there and at the target, with
    Spearman. A run's fidelity is its name in the plan, else (imported runs) its cost relative to the target."""
    done = done[~is_validation(done)]
    value = pd.Series(np.round(study.fidelity_values(done), 6), index=done.index)
    if value.nunique() < 2:
        return ""
    named = done["fidelity"] if "fidelity" in done else pd.Series(None, index=done.index, dtype=object)
    label = pd.Series([n if isinstance(n, str) and n else f"{v:.3g} of the target" for n, v in zip(named, value)],
                      index=done.index)
    names = study.recipe.domain_names
    key = pd.Series(weights_matrix(done, names).round(4).astype(str).tolist(), index=done.index).str.join("|")
    means = done.assign(key=key, label=label).groupby(["label", "key"])["objective"].mean()
    order = value.groupby(label).first().sort_values()
    target = order.index[-1]
    pairs = {}
    for name in order.index[:-1]:
        both = pd.concat([means[name], means[target]], axis=1, join="inner")
        a, b = both.iloc[:, 0].to_numpy(float), both.iloc[:, 1].to_numpy(float)
        pairs[name] = (a, b, spearman(a, b) if len(a) > 2 else float("nan"))
    warn = "".join(f"<p class='warn'><b>warning:</b> fidelity {html.escape(k)} ranks mixtures poorly against the "
                   f"target (Spearman {rho:.2f} &lt; {POOR_RANK}): its runs say little about the target.</p>"
                   for k, (_, _, rho) in pairs.items() if np.isfinite(rho) and rho < POOR_RANK)
    return warn + figures.div(figures.fidelity_agreement(pairs, str(target)), "fidelities", 360)


def pareto(study: Study) -> str:
    """Two or more objectives: the first two of every target-fidelity run, the front drawn and listed."""
    r = study.recipe
    done = study.completed_at_target()
    Y = objectives_matrix(study, done)
    if Y is None or done.empty or not np.isfinite(Y).all(1).any():
        return ""
    front = pareto_runs(study)
    F = objectives_matrix(study, front) * study.signs
    labels = [o.label for o in r.objective_list]
    rows = [[str(row["run_id"])[:12], *y, *mixture_of(row, r.domain_names).values()]
            for row, y in zip(front.to_dict("records"), F)]
    fig = figures.pareto(done, Y * study.signs, front, F, labels, r.domain_names)
    return figures.div(fig, "pareto", 420) + table(["run", *labels, *[WEIGHT + n for n in r.domain_names]], rows,
                                                   "pareto")


def runs(study: Study, view: pd.DataFrame) -> str:
    """Every run of the study, newest first."""
    return "" if view.empty else runs_table(view, study.recipe.domain_names)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance(study: Study, view: pd.DataFrame) -> str:
    """The recipe as loaded, the data and trainer hashes of the runs, and the versions that produced the page."""
    hashes = [[col, ", ".join(sorted(map(str, view[col].dropna().unique())))]
              for col in ("data_hash", "trainer_hash", "torch") if col in view and view[col].notna().any()]
    versions = [["mixsearch", _version("mixsearch")], ["python", platform.python_version()],
                ["plotly", _version("plotly")]]
    recipe = yaml.safe_dump(study.recipe.model_dump(mode="json", exclude_none=True), sort_keys=False)
    return (table(["of the runs", "value"], hashes + versions, "provenance")
            + f"<details><summary>recipe</summary><pre>{html.escape(recipe)}</pre></details>")
