"""Replay benchmark (ADMIRE-style): search strategies pick runs from a pool of completed runs.

A pool (pool.py) holds mixtures with their results at one or more fidelities; each strategy (see
strategies.py: the registered proposers themselves) buys runs from it one at a time, and
the summary compares the cost each needs to come within a tolerance of the pool's best target
objective, over seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mixsearch.replay.pool import Pool, Trace, pool_from_runs, synthetic_pool
from mixsearch.replay.strategies import STRATEGIES, run
from mixsearch.replay.synthetic import FAMILIES

__all__ = ["FAMILIES", "Pool", "Trace", "STRATEGIES", "band", "cost_key", "per_seed_costs", "pool_from_runs",
           "regret_curves", "replay", "summarize", "synthetic_pool"]


def band(optimum: float, tolerance: float) -> float:
    """The worst objective within `tolerance` (a fraction of |optimum|) of the optimum; a negative
    optimum (a higher-is-better score, negated) widens the band upward too."""
    return optimum + tolerance * abs(optimum)


def replay(pool: Pool, strategies: list[str], budget: float, seed: int, tolerance: float | None = None) -> list[Trace]:
    """Each strategy once on the pool, spending at most about `budget` (target-run units); with a
    tolerance, a strategy stops once it is within that fraction of the pool optimum."""
    from mixsearch.surrogate.base import torch_threads

    stop_at = band(pool.optimum, tolerance) if tolerance is not None else -math.inf
    with torch_threads():
        return [run(pool, s, budget, stop_at, seed) for s in strategies]


def cost_key(tolerance: float) -> str:
    """'cost_to_0.5pct' for a tolerance of 0.005: the name of a cost-to-band figure."""
    return f"cost_to_{100 * tolerance:g}pct"


def per_seed_costs(traces_by_seed: list[list[Trace]], optima: list[float], tolerance: float) -> dict[str, list[float]]:
    """Per strategy, each seed's cost to get within `tolerance` of its pool's optimum (inf: never)."""
    return {t.strategy: [traces[k].cost_to_reach(band(opt, tolerance)) for traces, opt in zip(traces_by_seed, optima)]
            for k, t in enumerate(traces_by_seed[0])}


def regret_curves(traces_by_seed: list[list[Trace]], optima: list[float], points: int = 40) -> pd.DataFrame:
    """Per strategy, the best-so-far regret at log-spaced costs: median and quartiles over seeds
    (inf until a seed's first target-fidelity run)."""
    costs = [c for traces in traces_by_seed for t in traces for c in t.cost]
    grid = np.geomspace(max(min(costs), 1e-6), max(costs), points) if costs else np.zeros(0)
    rows = []
    for k, name in enumerate(t.strategy for t in traces_by_seed[0]):
        R = np.array([[_regret_at(traces[k], opt, c) for c in grid] for traces, opt in zip(traces_by_seed, optima)])
        q25, q50, q75 = np.quantile(R, [0.25, 0.5, 0.75], axis=0, method="lower")
        rows += [{"strategy": name, "cost": float(c), "q25": a, "median": b, "q75": e}
                 for c, a, b, e in zip(grid, q25, q50, q75)]
    return pd.DataFrame(rows)


def _regret_at(trace: Trace, optimum: float, cost: float) -> float:
    i = np.searchsorted(trace.cost, cost, side="right") - 1
    return math.inf if i < 0 else trace.best[i] - optimum


def summarize(traces_by_seed: list[list[Trace]], optima: list[float], tolerance: float = 0.01) -> pd.DataFrame:
    """Per strategy: median over seeds of the cost to get within `tolerance` of the pool optimum,
    of the final regret, and the share of seeds that got there."""
    rows, key = [], f"median_{cost_key(tolerance)}"
    for k, (name, costs) in enumerate(per_seed_costs(traces_by_seed, optima, tolerance).items()):
        regrets = [traces[k].best[-1] - opt if traces[k].best else math.inf
                   for traces, opt in zip(traces_by_seed, optima)]
        rows.append({"strategy": name, key: float(np.median(costs)),
                     "reached": float(np.mean(np.isfinite(costs))), "median_final_regret": float(np.median(regrets))})
    df = pd.DataFrame(rows)
    base = df.loc[df["strategy"] == "random", key]
    if len(base) and np.isfinite(base.iloc[0]):
        df["cost_vs_random"] = df[key] / base.iloc[0]
    return df


def plot(traces_by_seed: list[list[Trace]], optima: list[float], path) -> None:
    """Best-so-far regret vs cumulative cost: median over seeds, quartiles shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mixsearch.report.plots import save_png

    curves = regret_curves(traces_by_seed, optima)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for k, (name, c) in enumerate(curves.groupby("strategy", sort=False)):
        finite = np.isfinite(c["median"])
        ax.step(c["cost"][finite], c["median"][finite], where="post", color=f"C{k}", label=name)
        band = np.isfinite(c["q75"])
        ax.fill_between(c["cost"][band], c["q25"][band], c["q75"][band], step="post", color=f"C{k}", alpha=0.15)
    ax.set_xscale("log")
    ax.set_xlabel("cumulative cost (target-run units)")
    ax.set_ylabel("best target objective − pool optimum")
    ax.legend()
    ax.set_title(f"replay: median and quartiles over {len(traces_by_seed)} seed(s)")
    save_png(fig, path)
