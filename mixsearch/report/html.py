"""A self-contained HTML report of a study: the answer, history, surrogate fit, proposed mixtures,
losses. It only reads: the stored fit and recommendations (`report --refit` fits first)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mixsearch.search import answer  # noqa: E402
from mixsearch.report import answer as report_answer  # noqa: E402
from mixsearch.search.modelling import MIN_RUNS_TO_FIT, FitResult, fit
from mixsearch.paths import writable_dir, write_atomic  # noqa: E402
from mixsearch.store.schema import LOSS, METRIC, WEIGHT, mixture_of, weights_matrix  # noqa: E402
from mixsearch.search.study import Study, is_validation  # noqa: E402
from mixsearch.surrogate.cv import POOR_RANK, out_of_fold, spearman  # noqa: E402


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def best_so_far(y: np.ndarray, counted: np.ndarray, sign: float) -> np.ndarray:
    """The best objective among the `counted` runs up to each one (inf where none is yet)."""
    return sign * np.minimum.accumulate(np.where(counted, sign * y, np.inf))


def _history(done: pd.DataFrame, target: np.ndarray, sign: float) -> str:
    """Objective of every run in finishing order; the best-so-far line counts the search's
    target-fidelity runs (validation runs are shown apart and never count)."""
    order = np.argsort(done["finished_at"].to_numpy(), kind="stable")
    done, target = done.iloc[order], target[order]
    checks = is_validation(done).to_numpy()
    target = target & ~checks  # the search's runs at the target fidelity
    y = done["objective"].to_numpy(float)
    hours = np.zeros(len(done))
    for col in ("cpu_hours", "gpu_hours"):
        if col in done:
            hours += pd.to_numeric(done[col], errors="coerce").fillna(0).to_numpy(float)
    cost = np.cumsum(hours)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, x, label in ((axes[0], np.arange(1, len(y) + 1), "completed runs"), (axes[1], cost, "device-hours")):
        ax.scatter(x[target], y[target], s=14, alpha=0.6, label="run at target fidelity")
        low = ~target & ~checks
        if low.any():
            ax.scatter(x[low], y[low], s=10, alpha=0.4, marker="x", label="lower fidelity")
        if checks.any():
            ax.scatter(x[checks], y[checks], s=12, alpha=0.5, marker="^", label="validation run (not counted)")
        best = best_so_far(y, target, sign)
        ax.step(x[np.isfinite(best)], best[np.isfinite(best)], where="post", color="C3", label="best so far")
        ax.set_xlabel(label)
        ax.set_ylabel("objective")
        ax.legend()
    fig.suptitle("search history")
    return _png(fig)


def predicted_vs_actual(study: Study, fit: FitResult) -> tuple[plt.Figure, float]:
    """Out-of-fold predictions of the chosen surrogate (kept from its cross-validation) against
    the actual objective, with the seed-noise floor as a band around the diagonal."""
    chosen = fit.chosen
    if chosen.predicted is not None:
        pred, y, k = chosen.predicted, chosen.actual, chosen.folds
    else:
        pred, y, k, _ = out_of_fold(fit.name, fit.data, study.recipe.search.cv_folds, study.recipe.seed)
    pred, y = study.signs[0] * pred, study.signs[0] * y  # the model's values are sign-adjusted; show the user's
    rho = spearman(pred, y)
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.scatter(y, pred, s=16, alpha=0.7)
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1)
    if fit.noise is not None:
        sd = fit.noise.sd
        ax.fill_between([lo, hi], [lo - sd, hi - sd], [lo + sd, hi + sd], color="grey", alpha=0.2,
                        label=f"± seed sd {sd:.4f} (max Spearman {fit.noise.max_spearman:.2f})")
        ax.legend(fontsize=8)
    ax.set_xlabel("actual objective")
    ax.set_ylabel(f"{k}-fold out-of-fold prediction")
    ax.set_title(f"{fit.name}: Spearman {rho:.3f}")
    return fig, rho


def _surrogate(study: Study, fit: FitResult | None) -> tuple[str, str]:
    if fit is None:
        return "", (f"<p>No stored fit of the current runs (fewer than {MIN_RUNS_TO_FIT} completed, or runs "
                    "finished since the last fit): <code>mixsearch fit</code> or <code>report --refit</code>.</p>")
    fig, _ = predicted_vs_actual(study, fit)
    rows = "".join(f"<tr><td>{s.name}</td><td>{s.spearman:.3f}</td><td>{s.mae:.4f}</td><td>{s.fit_seconds:.2f}</td>"
                   f"<td>{'chosen' if s.name == fit.name else ''}</td></tr>" for s in fit.scores)
    table = ("<table><tr><th>surrogate</th><th>Spearman</th><th>MAE</th><th>fit s</th><th></th></tr>"
             f"{rows}</table>")
    notes = "".join(f"<p><b>warning:</b> {html.escape(w)}</p>" for w in fit.warnings)
    return _png(fig), table + notes


def _mixtures(study: Study, view: pd.DataFrame, done: pd.DataFrame) -> str:
    names = study.recipe.mixture_names
    bars = {"uniform": np.full(len(names), 1 / len(names)), "natural (token share)": study.space().natural_or_prior}
    best = study.best()
    if best is not None:
        bars["best run"] = np.array(list(mixture_of(best, names).values()))
    proposed = view[view["status"] == "proposed"].sort_values("predicted", ascending=bool(study.signs[0] > 0))
    for i, (_, row) in enumerate(proposed.head(3).iterrows()):
        bars[f"proposal {i + 1} (pred {row['predicted']:.3f})"] = weights_matrix(row.to_frame().T, names)[0]
    fig = report_answer.mixture_bars(names, bars, 3.8)
    fig.axes[0].set_title("mixtures")
    return _png(fig)


def _fidelities(done: pd.DataFrame) -> str:
    fid = done.assign(fidelity=done["params"].astype(str) + " params / " + done["tokens"].astype(str) + " tokens")
    if "fidelity" in done:
        fid["fidelity"] = done["fidelity"].fillna("") + " (" + fid["fidelity"] + ")"
    levels = sorted(fid["fidelity"].unique())
    if len(levels) < 2:
        return "<p>One fidelity only: no fidelity correlation to show.</p>"
    key = fid[[c for c in fid.columns if c.startswith(WEIGHT)]].round(4).astype(str).agg("|".join, axis=1)
    pivot = fid.assign(key=key).pivot_table(index="key", columns="fidelity", values="objective", aggfunc="mean")
    fig, ax = plt.subplots(figsize=(5, 4.2))
    a, b = levels[0], levels[-1]
    both = pivot[[a, b]].dropna()
    ax.scatter(both[a], both[b], s=16)
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    rho = spearman(both[a].values, both[b].values) if len(both) > 2 else float("nan")
    ax.set_title(f"same mixtures at two fidelities: Spearman {rho:.3f}"
                 if len(both) > 2 else "too few mixtures run at both fidelities")
    warn = (f"<p><b>warning:</b> the cheapest fidelity ranks mixtures poorly against the target (Spearman "
            f"{rho:.2f} &lt; {POOR_RANK}): its runs say little about the target.</p>" if rho < POOR_RANK else "")
    return warn + _png(fig)


def _loss_tables(done: pd.DataFrame, names: list[str], study: Study) -> str:
    """Best runs of the search per fidelity (never mixed: a cheap run's loss is not comparable to
    the target's), then the validation runs apart: they are measurements, not search results."""
    checks = is_validation(done)
    done, validation = done[~checks], done[checks]
    value = study.fidelity_values(done)
    out = []
    for v in sorted(np.unique(value), reverse=True):
        part = done[value == v]
        label = str(part["fidelity"].iloc[0]) if "fidelity" in part else f"{v:g}"
        out.append(f"<h3>fidelity {html.escape(label)} (cost {v:.3g} of the target)</h3>" + _loss_table(part, names, study.signs[0]))
    if len(validation):
        out.append("<h3>validation runs (never the search's best run)</h3>"
                   + _loss_table(validation, names, study.signs[0], limit=None))
    return "".join(out)


def _loss_table(done: pd.DataFrame, names: list[str], sign: float, limit: int | None = 10) -> str:
    loss_cols = [c for c in done.columns if c.startswith((LOSS, METRIC))]
    top = done.sort_values("objective", ascending=bool(sign > 0)).head(limit)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["run", "origin", "seed", *[WEIGHT + n for n in names],
                                                           "objective", *loss_cols])
    body = "".join(
        "<tr>" + f"<td>{html.escape(str(r['run_id'])[:10])}</td><td>{html.escape(str(r.get('origin', '')))}</td>"
        f"<td>{r.get('seed', '')}</td>"
        + "".join(f"<td>{w:.3f}</td>" for w in mixture_of(r, names).values())
        + f"<td>{float(r['objective']):.4f}</td>"
        + "".join(f"<td>{float(r[c]):.4f}</td>" for c in loss_cols) + "</tr>"
        for _, r in top.iterrows())
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(study: Study, path: Path, recipe: str = "RECIPE") -> Path:
    """Write the study's HTML report (images embedded) to `path`, atomically. It reads the stored
    fit of the current runs (none: no surrogate section) and the recorded recommendations."""
    view = study.store.runs()
    done = study.completed()
    names = study.recipe.mixture_names
    counts = view["status"].value_counts().to_dict() if len(view) else {}
    parts = [f"<h1>mixsearch report: {html.escape(study.recipe.study)}</h1>",
             "<p>" + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + "</p>"]
    if done.empty:
        parts.append("<p>No completed runs yet.</p>")
    else:
        fitted = fit(study, stored_only=True) if len(study.completed_at_target()) >= MIN_RUNS_TO_FIT else None
        surrogate_png, surrogate_table = _surrogate(study, fitted)
        target = np.isclose(study.fidelity_values(done), 1.0)
        front = report_answer.pareto(study, _png) if len(study.recipe.objective_list) > 1 else ""
        parts += ["<h2>Recommendation</h2>", report_answer.answer(study, answer.state(study.store.root), recipe, _png),
                  "<h2>Search history</h2>", _history(done, target, study.signs[0]),
                  "<h2>Surrogate</h2>", surrogate_table, surrogate_png]
        parts += ["<h2>Pareto front</h2>", front] if front else []
        parts += ["<h2>Mixtures</h2>", _mixtures(study, view, done),
                  "<h2>Best runs per fidelity: per-domain losses and metrics</h2>", _loss_tables(done, names, study),
                  "<h2>Fidelities</h2>", _fidelities(done)]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>mixsearch report</title><style>"
            "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head><body>"
            + "\n".join(parts) + "</body></html>")
    writable_dir(path.parent)
    return write_atomic(path, page)
