"""Search strategies for the replay benchmark: the registered proposers themselves, one run at a time,
on a pool of completed runs.

Each step hands the strategy's proposer (mixsearch/propose) a context whose candidate set is the
pool's mixtures, open where the pool has a result not yet bought, whose data are the runs bought
so far and whose budget is the cost left; the proposed (mixture, fidelity) is bought (its
fidelity's cost paid, its result revealed): the proposer's batch in order, up to and including its
first target run, after which it proposes again. So every replay figure is a figure of what `propose`
ships. The trace records the best target-fidelity objective against the cumulative cost.

- random: the pool's mixtures in random order, at the target (the baseline; no proposer).
- regmix: `regmix` on LightGBM; its batch at the cheapest fidelity first (a share of the budget),
  whose results it regresses as if they were the target's.
- gp-bo: `bo` on a GP of the target runs (a space-filling design first).
- mf-bo: `mfbo` on a multi-fidelity GP of every run.
- mf-ar: `mfar`, the default multi-fidelity proposer (cheap runs only where the evidence says they pay).
GP hyper-parameters are warm-started from the previous step's.
"""

from __future__ import annotations

import math

import numpy as np

from mixsearch.mixtures import Space, project
from mixsearch.propose.base import Candidates, FidelityLevel, ProposalContext
from mixsearch.propose.batch import propose
from mixsearch.recipe.search import Search
from mixsearch.replay.pool import Pool, Trace
from mixsearch.surrogate.base import Surrogate, TrainSet


BATCH = 16  # proposals asked for per step; bought in order up to and including the first target run

# strategy -> (proposer, surrogate the replay fits for it each step: None for proposers that fit their own)
STRATEGIES: dict[str, tuple[str | None, str | None]] = {
    "random": (None, None), "regmix": ("regmix", "lightgbm"), "gp-bo": ("bo", "gp"), "mf-bo": ("mfbo", "mfgp"),
    "mf-ar": ("mfar", "gp"),
}


class _Replay:
    """Bookkeeping: what has been bought, at what cost, and the best target objective so far."""

    def __init__(self, pool: Pool, name: str, budget: float, stop_at: float) -> None:
        self.pool, self.seen = pool, np.zeros(pool.Y.shape, bool)
        self.X = project(pool.X / pool.X.sum(1, keepdims=True), np.zeros(pool.X.shape[1]), np.ones(pool.X.shape[1]))
        self.trace = Trace(name, [], [])
        self.spent, self.best = 0.0, math.inf
        self.budget, self.stop_at = budget, stop_at

    @property
    def running(self) -> bool:
        """Budget left, a target run left to buy, and the target objective not yet reached."""
        return (self.spent < self.budget and self.best > self.stop_at
                and bool(np.any(~self.seen[:, -1] & np.isfinite(self.pool.Y[:, -1]))))

    @property
    def open(self) -> np.ndarray:
        return ~self.seen & np.isfinite(self.pool.Y)

    def evaluate(self, i: int, j: int, reason: str = "") -> None:
        self.seen[i, j] = True
        self.spent += float(self.pool.fids[j])
        if j == len(self.pool.fids) - 1:
            self.best = min(self.best, float(self.pool.Y[i, j]))
        self.trace.cost.append(self.spent)
        self.trace.best.append(self.best)
        self.trace.reasons.append(reason)
        self.trace.runs.append((i, j))

    def data(self, target_only: bool = False, cheapest_only: bool = False) -> TrainSet:
        rows, cols = np.nonzero(self.seen)
        if target_only or cheapest_only:
            keep = cols == (len(self.pool.fids) - 1 if target_only else 0)
            rows, cols = rows[keep], cols[keep]
        return TrainSet(self.X[rows], self.pool.Y[rows, cols], self.pool.fids[cols])


def _random(r: _Replay, rng: np.random.Generator) -> None:
    for i in rng.permutation(np.flatnonzero(r.open[:, -1])):
        if not r.running:
            break
        r.evaluate(int(i), len(r.pool.fids) - 1)


def _surrogate(family: str, r: _Replay, seed: int, warm: Surrogate | None) -> Surrogate | None:
    """The strategy's surrogate of the runs so far, warm-started from the last one; None when too few."""
    from mixsearch.surrogate import make_surrogate

    if family == "lightgbm":  # RegMix regresses its cheapest runs as if they were the target's
        cheap = r.data(cheapest_only=len(r.pool.fids) > 1)
        data = TrainSet(cheap.X, cheap.y)
    else:
        data = r.data()
    model = make_surrogate(family, seed)
    if not model.applicable(data):
        return None
    if warm is not None:
        model.warm_start = warm.warm_state()
    return model.fit(data)


def run(pool: Pool, name: str, budget: float, stop_at: float, seed: int) -> Trace:
    """One strategy on the pool until the budget is spent or the objective reaches `stop_at`."""
    r = _Replay(pool, name, budget, stop_at)
    method, family = STRATEGIES[name]
    if method is None:
        _random(r, np.random.default_rng(seed))
        return r.trace
    d = pool.X.shape[1]
    space = Space(tuple(f"d{k}" for k in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    levels = [FidelityLevel(f"f{j}", float(v)) for j, v in enumerate(pool.fids)]
    cfg = Search(min_distance=0.0)
    model = None
    while r.running:
        data = r.data()
        if family is not None:
            model = _surrogate(family, r, seed, model)
        ctx = ProposalContext(model, space, data, levels, cfg, seed, data.X, data.fidelities,
                              candidates=Candidates(r.X, r.open), budget=budget - r.spent)
        prop = propose(ctx, BATCH, method)
        bought = 0
        for w, name in zip(prop.W, prop.fidelity):  # the batch's cheap runs, up to its first target run
            j = [lv.name for lv in levels].index(name)
            cand = np.flatnonzero(r.open[:, j])
            if not r.running or not len(cand):
                break
            r.evaluate(int(cand[np.argmin(np.abs(r.X[cand] - w).sum(1))]), j, prop.reason)
            bought += 1
            if j == len(levels) - 1:
                break
        if not bought:
            break
    return r.trace
