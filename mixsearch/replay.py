"""Replay benchmark (ADMIRE-style): search strategies pick runs from a pool of completed runs.

At each step a strategy picks one (mixture, fidelity) from the pool, pays that fidelity's cost
and sees its loss; the trace records the best target-fidelity objective found against the
cumulative cost. Strategies: random (Dirichlet-sampled pool in random order, at the target),
regmix (one-shot: cheap proxies on a random batch, LightGBM, then the predicted best at the
target), gp-bo (LogEI of a GP, at the target) and mf-bo (cost-aware multi-fidelity GIBBON; each
target run is also run at the cheap fidelities in use, and a cheap fidelity whose rank correlation
with the target on those pairs is poor is dropped — all dropped: LogEI at the target). GP
hyper-parameters are warm-started from the previous step's.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from mixsearch.propose.fidelities import MIN_PAIRS, MIN_RANK_CORR
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.gp import DTYPE, GPSurrogate, MultiFidelityGPSurrogate
from mixsearch.surrogate.lgbm import LightGBMSurrogate
from mixsearch.synthetic import MultiFidelityBenchmark

N_INIT = 5


@dataclass(frozen=True)
class Pool:
    """N mixtures (N, d), fidelity values (F,) with the last = 1, and losses (N, F) (NaN: not run)."""

    X: np.ndarray
    fids: np.ndarray
    Y: np.ndarray

    @property
    def optimum(self) -> float:
        return float(np.nanmin(self.Y[:, -1]))


FAMILIES = {"standard": MultiFidelityBenchmark.random, "weak": MultiFidelityBenchmark.weak}


def synthetic_pool(d: int, n: int, seed: int, noise: float = 0.003, alpha: float = 0.3,
                   family: str = "standard") -> Pool:
    """n Dirichlet(alpha) mixtures of d domains, each 'run' at every fidelity of a synthetic law
    (family: standard, or weak — poorly correlated cheap fidelities and a flat optimum plateau)."""
    bench = FAMILIES[family](d, seed)
    rng = np.random.default_rng(seed)
    X = rng.dirichlet(np.full(d, alpha), size=n)
    Y = np.column_stack([bench(X, f, noise=noise, seed=seed + i) for i, f in enumerate(bench.fidelities)])
    return Pool(X, np.array(bench.fidelities), Y)


def pool_from_runs(X: np.ndarray, fid: np.ndarray, y: np.ndarray) -> Pool:
    """A pool from completed runs: one row per distinct mixture, one column per fidelity."""
    keys = [tuple(r) for r in np.round(X, 4)]
    df = pd.DataFrame({"key": keys, "fid": np.round(fid, 6), "y": y})
    table = df.pivot_table(index="key", columns="fid", values="y", aggfunc="mean").sort_index(axis=1)
    if 1.0 not in table.columns:
        raise ValueError("the pool has no target-fidelity runs")
    return Pool(np.array(list(table.index)), table.columns.to_numpy(float), table.to_numpy(float))


@dataclass
class Trace:
    strategy: str
    cost: list[float]
    best: list[float]

    def cost_to_reach(self, threshold: float) -> float:
        """Cumulative cost when the best target objective first reached `threshold` (inf: never)."""
        for c, b in zip(self.cost, self.best):
            if b <= threshold:
                return c
        return math.inf


class _Replay:
    """Bookkeeping shared by the strategies: what has been evaluated, at what cost."""

    def __init__(self, pool: Pool, name: str, budget: float, stop_at: float) -> None:
        self.pool, self.seen = pool, np.zeros(pool.Y.shape, bool)
        self.trace = Trace(name, [], [])
        self.spent, self.best = 0.0, math.inf
        self.budget, self.stop_at = budget, stop_at

    @property
    def running(self) -> bool:
        """Budget left, and the target objective not yet reached."""
        return self.spent < self.budget and self.best > self.stop_at

    def available(self, j: int) -> np.ndarray:
        return np.flatnonzero(~self.seen[:, j] & np.isfinite(self.pool.Y[:, j]))

    def evaluate(self, i: int, j: int) -> None:
        self.seen[i, j] = True
        self.spent += float(self.pool.fids[j])
        if j == len(self.pool.fids) - 1:
            self.best = min(self.best, float(self.pool.Y[i, j]))
        self.trace.cost.append(self.spent)
        self.trace.best.append(self.best)

    def rank_corr(self, j: int) -> float:
        """Spearman between fidelity j and the target over mixtures seen at both (1 until MIN_PAIRS)."""
        from mixsearch.surrogate.cv import spearman

        both = self.seen[:, j] & self.seen[:, -1]
        return 1.0 if both.sum() < MIN_PAIRS else spearman(self.pool.Y[both, j], self.pool.Y[both, -1])

    def train_set(self, target_only: bool, fidelities: list[int] | None = None) -> TrainSet:
        cols = [len(self.pool.fids) - 1] if target_only else fidelities or range(len(self.pool.fids))
        idx = [(i, j) for j in cols for i in np.flatnonzero(self.seen[:, j])]
        return TrainSet(self.pool.X[[i for i, _ in idx]], self.pool.Y[tuple(np.array(idx).T)],
                        self.pool.fids[[j for _, j in idx]])


def _random(pool: Pool, budget: float, stop_at: float, rng: np.random.Generator) -> Trace:
    r = _Replay(pool, "random", budget, stop_at)
    for i in rng.permutation(r.available(len(pool.fids) - 1)):
        if not r.running:
            break
        r.evaluate(i, len(pool.fids) - 1)
    return r.trace


def _regmix(pool: Pool, budget: float, stop_at: float, rng: np.random.Generator) -> Trace:
    r = _Replay(pool, "regmix", budget, stop_at)
    cheap, target = 0, len(pool.fids) - 1
    batch = rng.permutation(r.available(cheap))[: max(N_INIT, len(pool.X) // 4)]
    for i in batch:
        r.evaluate(i, cheap)
    cheap_runs = r.train_set(target_only=False)
    # RegMix regresses the small proxies' losses directly, as if they were the target
    model = LightGBMSurrogate(int(rng.integers(1 << 30))).fit(TrainSet(cheap_runs.X, cheap_runs.y))
    for i in r.available(target)[np.argsort(model.predict(pool.X[r.available(target)]), kind="stable")]:
        if not r.running:
            break
        r.evaluate(i, target)
    return r.trace


def _log_ei(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    from scipy.special import log_ndtr

    z = (best - mean) / np.maximum(std, 1e-12)
    pdf, log_cdf = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi), log_ndtr(z)
    return np.log(np.maximum(std, 1e-12)) + np.log(np.maximum(z * np.exp(log_cdf) + pdf, 1e-300))


def _gp_bo(pool: Pool, budget: float, stop_at: float, rng: np.random.Generator) -> Trace:
    r = _Replay(pool, "gp-bo", budget, stop_at)
    target = len(pool.fids) - 1
    for i in rng.permutation(r.available(target))[:N_INIT]:
        r.evaluate(i, target)
    hypers = None  # each step's fit starts from the previous step's hyper-parameters
    while r.running and len(r.available(target)):
        gp = GPSurrogate(int(rng.integers(1 << 30)), warm_start=hypers).fit(r.train_set(target_only=True))
        hypers = gp.hyperparameters()
        cand = r.available(target)
        score = _log_ei(gp.predict(pool.X[cand]), gp.predict_std(pool.X[cand]), r.best)
        r.evaluate(cand[int(np.argmax(score))], target)
    return r.trace


def _mf_bo(pool: Pool, budget: float, stop_at: float, rng: np.random.Generator) -> Trace:
    from botorch.acquisition.cost_aware import InverseCostWeightedUtility
    from botorch.acquisition.max_value_entropy_search import qMultiFidelityLowerBoundMaxValueEntropy
    from botorch.acquisition.utils import project_to_target_fidelity
    from botorch.models.cost import AffineFidelityCostModel

    from mixsearch.propose.bo import FIXED_COST

    r = _Replay(pool, "mf-bo", budget, stop_at)
    d, target = pool.X.shape[1], len(pool.fids) - 1
    cheap = rng.permutation(r.available(0))[: 4 * N_INIT]
    for i in cheap:  # a cheap batch first; the acquisition decides when to pay for the target
        r.evaluate(i, 0)
    utility = InverseCostWeightedUtility(cost_model=AffineFidelityCostModel(fidelity_weights={d: 1.0},
                                                                            fixed_cost=FIXED_COST))
    cset = torch.as_tensor(np.hstack([pool.X, np.ones((len(pool.X), 1))]), dtype=DTYPE)
    hypers = None
    while r.running:
        used = [j for j in range(target) if r.rank_corr(j) >= MIN_RANK_CORR] + [target]
        data = r.train_set(target_only=False, fidelities=used)
        if len(used) == 1:  # every cheap fidelity ranks poorly: BO at the target
            gp = GPSurrogate(int(rng.integers(1 << 30))).fit(data)
            cand = r.available(target)
            if not len(cand):
                break
            r.evaluate(int(cand[np.argmax(_log_ei(gp.predict(pool.X[cand]), gp.predict_std(pool.X[cand]), r.best))]),
                       target)
            continue
        mf = MultiFidelityGPSurrogate(int(rng.integers(1 << 30)), warm_start=hypers).fit(data)
        hypers = mf.hyperparameters()
        acq = qMultiFidelityLowerBoundMaxValueEntropy(
            mf.model, candidate_set=cset, cost_aware_utility=utility,
            project=lambda X: project_to_target_fidelity(X=X, target_fidelities={d: 1.0}, d=d + 1))
        best_val, best_pair = -math.inf, None
        for j in used:
            f, cand = pool.fids[j], r.available(j)
            if not len(cand):
                continue
            X = torch.as_tensor(np.hstack([pool.X[cand], np.full((len(cand), 1), f)]), dtype=DTYPE)[:, None, :]
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                vals = torch.cat([acq(chunk) for chunk in X.split(256)]).numpy()
            k = int(np.argmax(vals))
            if vals[k] > best_val:
                best_val, best_pair = float(vals[k]), (int(cand[k]), j)
        if best_pair is None:
            break
        i, j = best_pair
        r.evaluate(i, j)
        if j == target:  # the same mixture at the cheap fidelities in use: pairs that measure their ranking
            for c in used[:-1]:
                if not r.seen[i, c] and np.isfinite(pool.Y[i, c]):
                    r.evaluate(i, c)
    return r.trace


STRATEGIES: dict[str, Callable[[Pool, float, float, np.random.Generator], Trace]] = {
    "random": _random, "regmix": _regmix, "gp-bo": _gp_bo, "mf-bo": _mf_bo,
}


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
        return [STRATEGIES[s](pool, budget, stop_at, np.random.default_rng(seed)) for s in strategies]


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
    rows = []
    for k, name in enumerate(t.strategy for t in traces_by_seed[0]):
        costs = [traces[k].cost_to_reach(band(opt, tolerance)) for traces, opt in zip(traces_by_seed, optima)]
        regrets = [traces[k].best[-1] - opt if traces[k].best else math.inf
                   for traces, opt in zip(traces_by_seed, optima)]
        rows.append({"strategy": name, "median_cost_to_1pct": float(np.median(costs)),
                     "reached": float(np.mean(np.isfinite(costs))), "median_final_regret": float(np.median(regrets))})
    df = pd.DataFrame(rows)
    base = df.loc[df["strategy"] == "random", "median_cost_to_1pct"]
    if len(base) and np.isfinite(base.iloc[0]):
        df["cost_vs_random"] = df["median_cost_to_1pct"] / base.iloc[0]
    return df


def plot(traces_by_seed: list[list[Trace]], optima: list[float], path) -> None:
    """Best-so-far regret vs cumulative cost: median over seeds, quartiles shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mixsearch.report import save_png

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
