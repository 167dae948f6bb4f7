"""The page's interactive figures (Plotly): each is a figure spec the page's script plots, with a
run's id and mixture in the hover of every point that is a run."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from mixsearch.store.schema import weights_matrix

if TYPE_CHECKING:
    from mixsearch.search.recommendation import Recommendation

ORIGIN_COLOURS = {"initial": "#1f77b4", "replicate": "#9467bd", "proposed": "#ff7f0e", "validation": "#2ca02c",
                  "imported": "#7f7f7f"}
BASELINE_COLOURS = {"uniform": "#7f7f7f", "natural": "#8c564b", "best run": "#17becf"}


def div(fig: go.Figure, key: str, height: int = 380) -> str:
    """A figure as a <div> whose spec the page's script plots (no script of its own, so a page
    that replaces its sections keeps working)."""
    fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 40, "b": 50}, template="plotly_white",
                      legend={"orientation": "h", "y": -0.2, "x": 0})
    spec = pio.to_json(fig, validate=False)
    return f'<div class="fig" id="fig-{html.escape(key)}" data-fig="{html.escape(spec, quote=True)}"></div>'


def origin_group(origin: pd.Series) -> pd.Series:
    """Each run's origin as one of ORIGIN_COLOURS' groups (initial:sobol -> initial, validate:... -> validation)."""
    o = origin.fillna("").astype(str)
    return pd.Series(np.select([o.str.startswith("initial"), o.str.startswith("replicate"),
                                o.str.startswith("validate:"), o.str.startswith("import")],
                               ["initial", "replicate", "validation", "imported"], "proposed"), index=origin.index)


def run_labels(runs: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """Hover text of each run: id, origin, fidelity, objective, then its mixture."""
    W = weights_matrix(runs, names)
    out = []
    for (_, r), w in zip(runs.iterrows(), W):
        mix = "<br>".join(f"{n}: {x:.3f}" for n, x in zip(names, w))
        fid = r.get("fidelity")
        where = ", ".join([str(r.get("origin", ""))] + ([f"fidelity {fid}"] if isinstance(fid, str) and fid else []))
        out.append(f"run {html.escape(str(r['run_id'])[:12])} ({html.escape(where)})<br>objective "
                   f"{float(r['objective']):.4f}<br>{mix}")
    return out


def _runs_trace(x, y, runs: pd.DataFrame, names: Sequence[str], name: str, colour: str, symbol: str = "circle",
                **kw) -> go.Scatter:
    return go.Scatter(x=x, y=y, mode="markers", name=name,
                      marker={"color": colour, "size": 7, "opacity": 0.75, "symbol": symbol},
                      text=run_labels(runs, names), hovertemplate="%{text}<extra></extra>", **kw)


def gains(comparisons: list[dict], sign: float, unit: str) -> go.Figure:
    """The validated recommendation's measured gain over each baseline, with its 95% interval."""
    names = [c["name"] for c in comparisons]
    g = [sign * c["diff"] for c in comparisons]
    lo = [min(sign * c["interval"][0], sign * c["interval"][1]) for c in comparisons]
    hi = [max(sign * c["interval"][0], sign * c["interval"][1]) for c in comparisons]
    fig = go.Figure(go.Bar(x=names, y=g, marker_color=["#2ca02c" if v > 0 else "#d62728" for v in g],
                           error_y={"type": "data", "symmetric": False, "array": np.subtract(hi, g),
                                    "arrayminus": np.subtract(g, lo)},
                           hovertemplate="%{x}: gain %{y:.4f}<extra></extra>"))
    fig.add_hline(y=0, line_color="grey")
    fig.update_layout(title="measured gain of the recommendation over each mixture (95% interval)",
                      yaxis_title=f"{unit} gain (+: recommendation better)", showlegend=False)
    return fig


def weights(names: Sequence[str], rows: dict[str, np.ndarray], low: dict | None, high: dict | None) -> go.Figure:
    """Mixtures side by side as dots per domain; the answer's bootstrap range as an error bar."""
    fig = go.Figure()
    for i, (label, w) in enumerate(rows.items()):
        error = None
        if i == 0 and low is not None and high is not None:
            error = {"type": "data", "symmetric": False, "array": [high[n] - x for n, x in zip(names, w)],
                     "arrayminus": [x - low[n] for n, x in zip(names, w)]}
        fig.add_trace(go.Scatter(x=list(names), y=w, mode="markers", name=label, error_y=error,
                                 marker={"size": 12 if i == 0 else 8, "symbol": "diamond" if i == 0 else "circle"},
                                 hovertemplate=f"{html.escape(label)}<br>%{{x}}: %{{y:.3f}}<extra></extra>"))
    fig.update_layout(title="weights per domain (bars: 10-90% of the bootstrap optima)", yaxis_title="weight",
                      yaxis_rangemode="tozero")
    return fig


def recommendation_path(history: Sequence[Recommendation], names: Sequence[str], validated: str | None) -> go.Figure:
    """Each recorded recommendation's weights, in the order the fits made them (x: the runs each
    fit saw); the validated one marked."""
    x = list(range(1, len(history) + 1))
    text = [f"{html.escape(r.id)}: {html.escape(r.surrogate)} on {r.runs} runs, predicted {r.predicted:.4f}"
            + (" (validated)" if r.id == validated else "") for r in history]
    fig = go.Figure()
    for n in names:
        fig.add_trace(go.Scatter(x=x, y=[r.mixture[n] for r in history], mode="lines+markers", name=n, text=text,
                                 hovertemplate=f"{html.escape(n)} %{{y:.3f}}<br>%{{text}}<extra></extra>"))
    if validated is not None and any(r.id == validated for r in history):
        fig.add_vline(x=next(i for i, r in zip(x, history) if r.id == validated), line_dash="dot",
                      annotation_text="validated")
    fig.update_layout(title="the recommendation over the study", xaxis_title="recorded recommendation (oldest first)",
                      yaxis_title="weight", yaxis_rangemode="tozero")
    fig.update_xaxes(tickvals=x, ticktext=[str(r.runs) + " runs" for r in history])
    return fig


def partial_dependence(runs: pd.DataFrame, names: Sequence[str], curves: dict | None, sign: float) -> go.Figure:
    """Objective against each domain's weight: the target-fidelity runs as points, the surrogate's
    partial dependence (mean prediction with the domain's weight set, the others in proportion)
    as a line with its 10-90% band over the runs' mixtures."""
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(names), shared_yaxes=True)
    W, y = weights_matrix(runs, names), runs["objective"].to_numpy(float)
    for j, n in enumerate(names):
        r, c = j // cols + 1, j % cols + 1
        fig.add_trace(_runs_trace(W[:, j], y, runs, names, "runs", ORIGIN_COLOURS["initial"],
                                  showlegend=j == 0, legendgroup="runs"), r, c)
        if curves is not None:
            grid, mean, lo, hi = curves[n]
            fig.add_trace(go.Scatter(x=np.r_[grid, grid[::-1]], y=np.r_[hi, lo[::-1]] * sign, fill="toself",
                                     line={"width": 0}, fillcolor="rgba(214,39,40,0.15)", hoverinfo="skip",
                                     name="10-90% over the runs' mixtures", showlegend=j == 0, legendgroup="band"),
                          r, c)
            fig.add_trace(go.Scatter(x=grid, y=mean * sign, mode="lines", line={"color": "#d62728"},
                                     name="surrogate (partial dependence)", showlegend=j == 0, legendgroup="pd",
                                     hovertemplate=f"{html.escape(n)} %{{x:.2f}}: %{{y:.4f}}<extra></extra>"), r, c)
        fig.update_xaxes(title_text="weight", row=r, col=c)
    fig.update_yaxes(title_text="objective", col=1)
    return fig


def history(done: pd.DataFrame, names: Sequence[str], target: np.ndarray, best: np.ndarray,
            hours: np.ndarray | None) -> go.Figure:
    """Every run's objective in finishing order, the target-fidelity ones coloured by origin, the
    cheaper ones apart, with the best so far of the search's target-fidelity runs; beside it
    against device-hours when they were counted."""
    panels = [("completed runs", np.arange(1, len(done) + 1))] + ([("device-hours", hours)] if hours is not None
                                                                    else [])
    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True)
    y = done["objective"].to_numpy(float)
    groups = origin_group(done["origin"]) if "origin" in done else pd.Series("imported", index=done.index)
    for p, (label, x) in enumerate(panels, start=1):
        for g, colour in ORIGIN_COLOURS.items():
            sel = (groups == g).to_numpy() & target
            if sel.any():
                fig.add_trace(_runs_trace(x[sel], y[sel], done[sel], names, g, colour, showlegend=p == 1,
                                          legendgroup=g), 1, p)
        if not target.all():
            fig.add_trace(_runs_trace(x[~target], y[~target], done[~target], names, "lower fidelity", "#bbbbbb",
                                      "x", showlegend=p == 1, legendgroup="low"), 1, p)
        ok = np.isfinite(best)
        fig.add_trace(go.Scatter(x=x[ok], y=best[ok], mode="lines", line={"shape": "hv", "color": "#d62728"},
                                 name="best so far (the search's target-fidelity runs)", showlegend=p == 1,
                                 legendgroup="best", hoverinfo="skip"), 1, p)
        fig.update_xaxes(title_text=label, row=1, col=p)
    fig.update_yaxes(title_text="objective", col=1)
    return fig


def predicted_vs_actual(actual: np.ndarray, pred: np.ndarray, noise_sd: float | None, title: str) -> go.Figure:
    """Out-of-fold predictions against the actual objective, the diagonal, and the seed-noise band."""
    lo, hi = float(min(actual.min(), pred.min())), float(max(actual.max(), pred.max()))
    fig = go.Figure()
    if noise_sd:
        fig.add_trace(go.Scatter(x=[lo, hi, hi, lo], y=[lo - noise_sd, hi - noise_sd, hi + noise_sd, lo + noise_sd],
                                 fill="toself", fillcolor="rgba(127,127,127,0.2)", line={"width": 0},
                                 name=f"± seed sd {noise_sd:.4f}", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"color": "grey", "width": 1},
                             name="prediction = actual", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=actual, y=pred, mode="markers", name="mixtures (out of fold)",
                             hovertemplate="actual %{x:.4f}, predicted %{y:.4f}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="actual objective", yaxis_title="out-of-fold prediction")
    return fig


def fidelity_agreement(pairs: dict[str, tuple[np.ndarray, np.ndarray, float]], target: str) -> go.Figure:
    """Per cheaper fidelity: the same mixtures' objective there against at the target, with Spearman."""
    fig = make_subplots(rows=1, cols=len(pairs), subplot_titles=[f"{k}: Spearman {rho:.2f}" if np.isfinite(rho)
                                                                 else f"{k}: too few shared mixtures"
                                                                 for k, (_, _, rho) in pairs.items()])
    for i, (k, (cheap, tgt, _)) in enumerate(pairs.items(), start=1):
        fig.add_trace(go.Scatter(x=cheap, y=tgt, mode="markers", name=k,
                                 hovertemplate=f"{html.escape(k)} %{{x:.4f}} / target %{{y:.4f}}<extra></extra>"), 1, i)
        fig.update_xaxes(title_text=f"objective at {k}", row=1, col=i)
    fig.update_yaxes(title_text=f"objective at {target}", col=1)
    return fig


def ranks_across_scales(order: dict[str, list[str]]) -> go.Figure:
    """Each validated mixture's rank (1 = best) at each scale, smallest scale first: crossing lines
    are a ranking that does not transfer."""
    scales = list(order)
    fig = go.Figure()
    for arm in order[scales[-1]]:
        ranks = [order[s].index(arm) + 1 if arm in order[s] else None for s in scales]
        fig.add_trace(go.Scatter(x=scales, y=ranks, mode="lines+markers", name=arm,
                                 hovertemplate=f"{html.escape(arm)}: rank %{{y}} at %{{x}}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="rank (1 = best)", dtick=1)
    fig.update_xaxes(title_text="scale")
    return fig


def pareto(runs: pd.DataFrame, Y: np.ndarray, front: pd.DataFrame, F: np.ndarray, labels: Sequence[str],
           names: Sequence[str]) -> go.Figure:
    """The first two objectives of every run, the non-dominated front as a line."""
    fig = go.Figure(_runs_trace(Y[:, 0], Y[:, 1], runs, names, "runs", ORIGIN_COLOURS["initial"]))
    order = np.argsort(F[:, 0])
    fig.add_trace(go.Scatter(x=F[order, 0], y=F[order, 1], mode="lines+markers", name="Pareto front",
                             line={"color": "#d62728"}, text=[run_labels(front, names)[i] for i in order],
                             hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(xaxis_title=labels[0], yaxis_title=labels[1])
    return fig
