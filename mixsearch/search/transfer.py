"""Does the answer found at one scale hold at another? Given the validation arms measured at two or
more scales (the same mixtures and seeds at each), the rank agreement of the arms between each
smaller scale and the largest (Spearman of the arms' mean objective, with a 95% bootstrap interval
over seeds: each scale's seeds resampled with replacement) and whether the recommendation's gain
over uniform holds at the largest scale (its verdict there, verdict.py)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from mixsearch.search.verdict import BETTER, WORSE, Comparison

BOOTSTRAP = 2000
HOLDS, FLIPS, UNCLEAR = "ranking holds", "ranking flips", "not distinguishable"
TOO_FEW, NO_SEEDS = "too few mixtures", "no seed shared"


@dataclass(frozen=True)
class Agreement:
    smaller: str  # fidelity names
    larger: str
    spearman: float  # of the arms' mean objective at the two scales
    interval: tuple[float, float]  # 95% bootstrap interval over seeds
    arms: int  # distinct mixtures ranked
    seeds: int  # seeds every one of them has at both scales
    verdict: str  # HOLDS (interval above 0) | FLIPS (below 0) | UNCLEAR | TOO_FEW (under 3 mixtures) | NO_SEEDS

    def to_dict(self) -> dict:
        return {**asdict(self), "interval": list(self.interval)}


@dataclass(frozen=True)
class Transfer:
    larger: str  # the largest scale (by cost: parameters x tokens)
    order: dict[str, list[str]]  # per scale, the distinct arms best first
    agreements: list[Agreement]  # each smaller scale against the largest
    gains: dict[str, dict]  # per scale, uniform against the recommendation (a COMPARISON)
    gain_holds: bool | None  # at the largest scale: True better, False worse, None not distinguishable

    def to_dict(self) -> dict:
        return {"larger": self.larger, "order": self.order, "agreements": [a.to_dict() for a in self.agreements],
                "gains": self.gains, "gain_holds": self.gain_holds}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from mixsearch.surrogate.cv import spearman

    return spearman(a, b)


def agreement(small: dict[str, dict[int, float]], large: dict[str, dict[int, float]], names: tuple[str, str],
              seed: int = 0) -> Agreement:
    """Rank agreement of the arms (name -> seed -> objective) between two scales, over the seeds
    every arm has at both; the bootstrap resamples each scale's seeds apart (runs at two scales
    share no noise)."""
    arms = [a for a in small if a in large]
    seeds = sorted(set.intersection(*(set(small[a]) & set(large[a]) for a in arms))) if arms else []
    if len(arms) < 3 or not seeds:
        why = TOO_FEW if len(arms) < 3 else NO_SEEDS
        return Agreement(*names, math.nan, (math.nan, math.nan), len(arms), len(seeds), why)
    S = np.array([[small[a][s] for s in seeds] for a in arms])  # (arms, seeds)
    L = np.array([[large[a][s] for s in seeds] for a in arms])
    rho = _spearman(S.mean(1), L.mean(1))
    if len(seeds) < 2:
        return Agreement(*names, rho, (math.nan, math.nan), len(arms), 1, UNCLEAR)
    rng = np.random.default_rng(seed)
    n = len(seeds)
    boot = [_spearman(S[:, rng.integers(0, n, n)].mean(1), L[:, rng.integers(0, n, n)].mean(1))
            for _ in range(BOOTSTRAP)]
    lo, hi = (float(v) for v in np.percentile(boot, [2.5, 97.5]))
    verdict = HOLDS if lo > 0 else FLIPS if hi < 0 else UNCLEAR
    return Agreement(*names, rho, (lo, hi), len(arms), n, verdict)


def transfer(scales: list[tuple[str, dict[str, dict[int, float]], list[Comparison]]], sign: float,
             same: dict[str, str]) -> Transfer:
    """`scales`: (fidelity, arm -> seed -> objective, comparisons with the recommendation) per
    scale, smallest first; `sign` -1 when the objective is maximised; `same`: arms that are another
    arm's mixture (trained once) -> that arm, left out of the ranking."""
    larger, _, big_comps = scales[-1]
    distinct = {name: {a: v for a, v in values.items() if a not in same} for name, values, _ in scales}
    order = {name: sorted(values, key=lambda a: sign * np.mean(list(values[a].values())) if values[a] else math.inf)
             for name, values in distinct.items()}
    agreements = [agreement(distinct[name], distinct[larger], (name, larger)) for name, _, _ in scales[:-1]]
    gains = {name: next((c.to_dict() for c in comps if c.name == "uniform"), None) for name, _, comps in scales}
    uniform = next((c for c in big_comps if c.name == "uniform"), None)
    holds = None if uniform is None or uniform.verdict not in (BETTER, WORSE) else uniform.verdict == BETTER
    return Transfer(larger, order, agreements, gains, holds)
