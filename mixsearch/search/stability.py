"""How far the answer would move on other runs: a bootstrap of the fit. Each replicate resamples
the runs (with replacement, within each fidelity), refits the chosen surrogate and re-optimizes;
the spread of the replicate optima gives each recommended weight a range, and the share of
replicate models that predict the recommendation better than uniform (natural) is the
probability, under the model, that it beats them."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mixsearch.mixtures import Space
    from mixsearch.recipe.search import Search
    from mixsearch.surrogate.base import TrainSet

BUDGET_S = 4.0  # replicates continue while within this many seconds...
MIN_REPLICATES, MAX_REPLICATES = 8, 32  # ...but at least MIN and at most MAX
RANGE = (10, 90)  # percentiles of the replicate optima shown as each weight's range
UNSTABLE_L1 = 0.2  # median L1 from the recommendation to the replicate optima above which it is unstable


@dataclass(frozen=True)
class Stability:
    replicates: int
    low: dict[str, float]  # RANGE[0] percentile of each weight over the replicate optima
    high: dict[str, float]  # RANGE[1] percentile
    median_l1: float  # median L1 distance from the recommendation to the replicate optima
    p_beats: dict[str, float]  # baseline -> share of replicate models predicting the recommendation better

    @property
    def unstable(self) -> bool:
        return self.median_l1 > UNSTABLE_L1

    def warning(self) -> str | None:
        """One line when the answer is unstable, else None."""
        if not self.unstable:
            return None
        return (f"the answer is unstable: refits on resampled runs move its weights by a median L1 of "
                f"{self.median_l1:.2f} (> {UNSTABLE_L1}, {self.replicates} replicates); train more runs "
                "near it or validate it before relying on it")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Stability":
        return cls(int(d["replicates"]), dict(d["low"]), dict(d["high"]), float(d["median_l1"]), dict(d["p_beats"]))


def resample(data: TrainSet, rng: np.random.Generator) -> TrainSet:
    """The runs drawn with replacement, as many of each fidelity as there are."""
    fid = np.round(data.fidelities, 9)
    idx = np.concatenate([rng.choice(np.flatnonzero(fid == v), int((fid == v).sum())) for v in np.unique(fid)])
    return data.subset(np.sort(idx))


def bootstrap(name: str, data: TrainSet, w: np.ndarray, space: Space, cfg: Search, seed: int,
              budget_s: float = BUDGET_S, replicates: tuple[int, int] = (MIN_REPLICATES, MAX_REPLICATES)) -> Stability:
    """Refit surrogate `name` on resampled runs and re-optimize, as many times as fit `budget_s`
    (within `replicates` = (min, max)); `w` is the recommendation (in space.names order)."""
    from mixsearch.propose.simplex import optimum
    from mixsearch.surrogate.base import make_surrogate

    rng = np.random.default_rng([seed, 7919])
    baselines = {"uniform": space.uniform, "natural": space.natural_or_prior}
    optima, wins = [], {k: 0 for k in baselines}
    start = time.monotonic()
    for b in range(replicates[1]):
        if b >= replicates[0] and time.monotonic() - start > budget_s:
            break
        sub = resample(data, rng)
        model = make_surrogate(name, seed + b).fit(sub)
        optima.append(optimum(model, space, cfg, seed + b, sub.target_only().X))
        pred = model.predict(np.vstack([w, *baselines.values()]))
        for k, p in zip(baselines, pred[1:]):
            wins[k] += bool(pred[0] < p)
    W = np.array(optima)
    lo, hi = np.percentile(W, RANGE, axis=0)
    return Stability(len(W), dict(zip(space.names, map(float, lo))), dict(zip(space.names, map(float, hi))),
                     float(np.median(np.abs(W - w).sum(1))), {k: v / len(W) for k, v in wins.items()})
