"""How far the answer would move on other runs: a bootstrap of the fit. Each replicate resamples
the runs (with replacement, within each fidelity), refits the chosen surrogate and re-optimizes
over the recommendation's own candidates, trusted near the study's runs as it is (the spread is
the model's, not that of another candidate draw or trust region); the spread of the replicate
optima gives each recommended weight a range, and the share of replicate models that predict the
recommendation better than uniform (natural) is the probability, under the model, that it beats
them.

Under `auto`, the surrogate choice is resampled too: the runs are drawn with replacement
CHOICE_RESAMPLES times and `surrogate.cv.pick` chooses again on each draw from every candidate's
out-of-fold predictions of the drawn runs (no refit, so it costs milliseconds; it takes the CV's
predictions as they are, and so shows how much the choice rests on which runs were observed, not
on refitting noise). The answer is unstable when the chosen surrogate wins fewer than
CHOICE_STABLE of the resamples."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mixsearch.mixtures import Space
    from mixsearch.propose.simplex import Support
    from mixsearch.recipe.search import Search
    from mixsearch.surrogate.base import TrainSet
    from mixsearch.surrogate.cv import CVScore

BUDGET_S = 4.0  # replicates continue while within this many seconds...
MIN_REPLICATES, MAX_REPLICATES = 8, 32  # ...but at least MIN and at most MAX
RANGE = (10, 90)  # percentiles of the replicate optima shown as each weight's range
UNSTABLE_L1 = 0.2  # median L1 from the recommendation to the replicate optima above which it is unstable
CHOICE_RESAMPLES = 200  # resamples of the surrogate choice
CHOICE_STABLE = 0.8  # least share of them the chosen surrogate must win: for two equally good candidates
# the share of the one chosen on the observed runs is about uniform on [0.5, 1], so 0.8 flags 3 in 5 such ties


@dataclass(frozen=True)
class Stability:
    replicates: int
    low: dict[str, float]  # RANGE[0] percentile of each weight over the replicate optima
    high: dict[str, float]  # RANGE[1] percentile
    median_l1: float  # median L1 distance from the recommendation to the replicate optima
    p_beats: dict[str, float]  # baseline -> share of replicate models predicting the recommendation better
    surrogate: str = ""  # the chosen surrogate
    choice: dict[str, float] = field(default_factory=dict)  # surrogate -> share of resamples choosing it (auto)

    @property
    def moves(self) -> bool:
        return self.median_l1 > UNSTABLE_L1

    @property
    def choice_flips(self) -> bool:
        return bool(self.choice) and self.choice.get(self.surrogate, 0.0) < CHOICE_STABLE

    @property
    def unstable(self) -> bool:
        return self.moves or self.choice_flips

    def warning(self) -> str | None:
        """One line when the answer is unstable, else None."""
        why = []
        if self.moves:
            why.append(f"refits on resampled runs move its weights by a median L1 of {self.median_l1:.2f} "
                       f"(> {UNSTABLE_L1}, {self.replicates} replicates)")
        if self.choice_flips:
            shares = ", ".join(f"{k} {v:.0%}" for k, v in sorted(self.choice.items(), key=lambda kv: -kv[1]))
            why.append(f"the surrogate choice flips: resampled runs choose {self.surrogate} in only "
                       f"{self.choice.get(self.surrogate, 0.0):.0%} of {CHOICE_RESAMPLES} resamples "
                       f"(< {CHOICE_STABLE:.0%}; {shares})")
        if not why:
            return None
        return f"the answer is unstable: {'; '.join(why)}; train more runs near it or validate it before relying on it"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Stability":
        return cls(int(d["replicates"]), dict(d["low"]), dict(d["high"]), float(d["median_l1"]), dict(d["p_beats"]),
                   str(d.get("surrogate", "")), dict(d.get("choice") or {}))


def resample(data: TrainSet, rng: np.random.Generator) -> TrainSet:
    """The runs drawn with replacement, as many of each fidelity as there are."""
    fid = np.round(data.fidelities, 9)
    idx = np.concatenate([rng.choice(np.flatnonzero(fid == v), int((fid == v).sum())) for v in np.unique(fid)])
    return data.subset(np.sort(idx))


def choice_shares(scores: list[CVScore], seed: int, resamples: int = CHOICE_RESAMPLES) -> dict[str, float]:
    """Per surrogate, the share of resamples of the runs on which the selection chooses it; empty
    when fewer than two candidates were scored (a pinned surrogate)."""
    from mixsearch.surrogate.cv import resampled_choices

    if sum(s.skipped is None and s.actual is not None for s in scores) < 2:
        return {}
    return {k: v / resamples for k, v in Counter(resampled_choices(scores, resamples, seed)).most_common()}


def bootstrap(name: str, data: TrainSet, w: np.ndarray, space: Space, cfg: Search, seed: int,
              budget_s: float = BUDGET_S, replicates: tuple[int, int] = (MIN_REPLICATES, MAX_REPLICATES),
              scores: list[CVScore] | None = None, near: Support | None = None,
              candidates: np.ndarray | None = None) -> Stability:
    """Refit surrogate `name` on resampled runs and re-optimize, as many times as fit `budget_s`
    (within `replicates` = (min, max)), on one thread per CPU for families whose fits are
    independent (LightGBM), else one at a time; `w` is the recommendation (in space.names order).
    With the CV `scores` of several candidates (auto), also how often resampled runs choose each.
    `near`: the study's runs as the recommendation's optimum was trusted near (shared, so
    candidates it checked are not checked again); `candidates`: those the recommendation ranked
    (default: drawn as it drew them)."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from mixsearch.propose.simplex import Support, draw_candidates, optimum
    from mixsearch.surrogate.base import make_surrogate, surrogate_class, torch_threads

    near = near or Support(data.target_only().X)
    cands = draw_candidates(space, cfg, seed) if candidates is None else candidates
    rng = np.random.default_rng([seed, 7919])
    baselines = {"uniform": space.uniform, "natural": space.natural_or_prior}

    def replicate(b: int, sub: TrainSet) -> tuple[np.ndarray, np.ndarray]:
        model = make_surrogate(name, seed + b).fit(sub)
        return optimum(model, space, cfg, seed, near, cands), model.predict(np.vstack([w, *baselines.values()]))

    workers = min(os.cpu_count() or 1, replicates[0]) if surrogate_class(name).independent_fits else 1
    done: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    start = time.monotonic()
    with torch_threads(), ThreadPoolExecutor(workers) as pool:  # resamples drawn in order: seeded as one loop
        running = {pool.submit(replicate, b, resample(data, rng)): b for b in range(min(workers, replicates[1]))}
        b = len(running)
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                done[running.pop(future)] = future.result()
                if b < replicates[1] and (b < replicates[0] or time.monotonic() - start <= budget_s):
                    running[pool.submit(replicate, b, resample(data, rng))] = b
                    b += 1
    optima = [done[i][0] for i in sorted(done)]
    wins = {k: sum(bool(done[i][1][0] < done[i][1][j + 1]) for i in done) for j, k in enumerate(baselines)}
    W = np.array(optima)
    lo, hi = np.percentile(W, RANGE, axis=0)
    return Stability(len(W), dict(zip(space.names, map(float, lo))), dict(zip(space.names, map(float, hi))),
                     float(np.median(np.abs(W - w).sum(1))), {k: v / len(W) for k, v in wins.items()},
                     name, choice_shares(scores or [], seed))
