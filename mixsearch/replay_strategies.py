"""Search strategies for the replay benchmark: each picks one (mixture, fidelity) run at a time
from a pool of completed runs, pays that fidelity's cost and sees its result; its trace records the
best target-fidelity objective against the cumulative cost.

- random: the pool's (Dirichlet-sampled) mixtures in random order, at the target.
- regmix: one-shot: cheap proxies on a random batch, LightGBM, then the predicted best at the target.
- gp-bo: LogEI of a GP, at the target.
- mf-bo: cost-aware multi-fidelity GIBBON (the `mfbo` proposer's acquisition); each target run is
  also run at the cheap fidelities in use, and a cheap fidelity whose rank correlation with the
  target on those pairs is poor is dropped (all dropped: LogEI at the target).
- mf-ar: the `mfar` proposer's autoregressive multi-fidelity BO (propose/autoregressive.py): a
  cheap batch at the cheapest fidelity, then (with a second cheap fidelity) runs at that one on
  cheaply run mixtures, the cheap GP extrapolated along their gap to the target, and LogEI at the
  target of a GP whose inputs are the mixture and that prediction; each target run's mixture is
  also run cheaply.
GP hyper-parameters are warm-started from the previous step's.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from mixsearch.propose.autoregressive import (CHEAP_FIRST, MID_FIRST, MID_SPREAD, TARGET_FIRST, CheapModel,
                                              best_paired, cheap_model, farthest, log_ei, steps_to_target, unit)
from mixsearch.propose.fidelities import MIN_PAIRS, MIN_RANK_CORR
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.gp import DTYPE, GPSurrogate, MultiFidelityGPSurrogate
from mixsearch.surrogate.lgbm import LightGBMSurrogate

if TYPE_CHECKING:
    from mixsearch.replay import Pool

N_INIT = 5


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


def _ei_at_target(r: _Replay, rng: np.random.Generator, hypers: dict | None = None) -> dict:
    """One step of BO at the target: a GP of the target runs (warm-started from `hypers`), then
    the available target mixture of highest LogEI; returns the GP's hyper-parameters."""
    target = len(r.pool.fids) - 1
    gp = GPSurrogate(int(rng.integers(1 << 30)), warm_start=hypers).fit(r.train_set(target_only=True))
    cand = r.available(target)
    r.evaluate(int(cand[np.argmax(log_ei(gp.predict(r.pool.X[cand]), gp.predict_std(r.pool.X[cand]), r.best))]),
               target)
    return gp.hyperparameters()


def _gp_bo(pool: Pool, budget: float, stop_at: float, rng: np.random.Generator) -> Trace:
    r = _Replay(pool, "gp-bo", budget, stop_at)
    target = len(pool.fids) - 1
    for i in rng.permutation(r.available(target))[:N_INIT]:
        r.evaluate(i, target)
    hypers = None  # each step's fit starts from the previous step's hyper-parameters
    while r.running and len(r.available(target)):
        hypers = _ei_at_target(r, rng, hypers)
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
        if len(used) == 1:  # every cheap fidelity ranks poorly: BO at the target
            if not len(r.available(target)):
                break
            _ei_at_target(r, rng)
            continue
        data = r.train_set(target_only=False, fidelities=used)
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


def _mf_ar(pool: Pool, budget: float, stop_at: float, rng: np.random.Generator) -> Trace:
    r = _Replay(pool, "mf-ar", budget, stop_at)
    target, low, mid = len(pool.fids) - 1, 0, len(pool.fids) - 2
    for i in rng.permutation(r.available(low))[:CHEAP_FIRST]:  # a cheap batch first
        r.evaluate(i, low)
    k = steps_to_target(pool.fids[low], pool.fids[mid]) if mid > low else 0.0
    warm: tuple[dict | None, dict | None] = (None, None)

    def cheap() -> CheapModel:
        nonlocal warm
        s = np.flatnonzero(r.seen[:, low])
        both = np.flatnonzero(r.seen[:, low] & r.seen[:, mid]) if mid > low else np.zeros(0, int)
        model = cheap_model(TrainSet(pool.X[s], pool.Y[s, low]),
                            (pool.X[both], pool.Y[both, low], pool.Y[both, mid]), k, int(rng.integers(1 << 30)), warm)
        warm = model.hyperparameters()
        return model

    for step in range(MID_FIRST if mid > low else 0):  # the second cheap fidelity on cheaply run mixtures
        cand = np.flatnonzero(r.seen[:, low] & ~r.seen[:, mid] & np.isfinite(pool.Y[:, mid]))
        if not r.running or not len(cand):
            break
        both = np.flatnonzero(r.seen[:, low] & r.seen[:, mid])
        if step < MID_SPREAD or len(both) < 2:
            i = int(cand[farthest(pool.X[cand], pool.X[both], 1, rng)[0]])
        else:
            model = cheap()
            best = best_paired((pool.X[both], pool.Y[both, low], pool.Y[both, mid]), k)
            i = int(cand[np.argmax(log_ei(model.predict(pool.X[cand]), model.predict_std(pool.X[cand]), best))])
        r.evaluate(i, mid)
    hypers = None
    while r.running and len(r.available(target)):
        mu = cheap().predict(pool.X)
        Z = np.hstack([pool.X, unit(mu, mu)[:, None]])  # the cheap prediction is an input of the target model
        cand, seen = r.available(target), np.flatnonzero(r.seen[:, target])
        if len(seen) < TARGET_FIRST:  # no target model yet: the cheap model's best
            i = int(cand[np.argmin(mu[cand])])
        else:
            gp = GPSurrogate(int(rng.integers(1 << 30)), warm_start=hypers).fit(TrainSet(Z[seen], pool.Y[seen, target]))
            hypers = gp.hyperparameters()
            i = int(cand[np.argmax(log_ei(gp.predict(Z[cand]), gp.predict_std(Z[cand]), r.best))])
        r.evaluate(i, target)
        if r.running and not r.seen[i, low] and np.isfinite(pool.Y[i, low]):  # its cheap twin, for the cheap GP
            r.evaluate(i, low)
    return r.trace


STRATEGIES: dict[str, Callable[[Pool, float, float, np.random.Generator], Trace]] = {
    "random": _random, "regmix": _regmix, "gp-bo": _gp_bo, "mf-bo": _mf_bo, "mf-ar": _mf_ar,
}
