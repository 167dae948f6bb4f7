"""Whether the recommendation measurably beats another mixture trained with the same seeds: the
paired differences' mean with a 95% t-interval, beside an exact Wilcoxon signed-rank test, so that
one outlier seed cannot decide alone. "recommendation better" (or "worse") needs both: the
t-interval excludes 0 and the signed-rank test rejects equality at 5% (two-sided), in the same
direction; with fewer than 6 seeds the exact test cannot reach 5%, so no verdict is decided."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

ALPHA = 0.05
BETTER, SAME, WORSE = "recommendation better", "not distinguishable", "recommendation worse"


@dataclass
class Comparison:
    name: str
    diff: float  # mean over shared seeds of (other - recommendation), in objective units
    interval: tuple[float, float]  # 95% t-interval of that mean
    seeds: int
    verdict: str  # BETTER | SAME | WORSE
    wilcoxon_p: float = math.nan  # exact two-sided signed-rank p-value of the paired differences

    @property
    def decided(self) -> bool:
        return self.verdict != SAME

    def to_dict(self) -> dict:
        return {**asdict(self), "interval": list(self.interval)}


def signed_rank_p(d: np.ndarray) -> float:
    """Exact two-sided Wilcoxon signed-rank p-value (zero differences dropped; 1 when none is left)."""
    from scipy.stats import wilcoxon

    d = d[d != 0]
    if len(d) == 0:
        return 1.0
    return float(wilcoxon(d, method="exact").pvalue)


def compare(name: str, rec: dict[int, float], other: dict[int, float], sign: float = 1.0) -> Comparison:
    """`other` against the recommendation over their shared seeds; `sign` -1 for objectives
    that are maximised."""
    from scipy.stats import t

    seeds = sorted(set(rec) & set(other))
    d = np.array([other[s] - rec[s] for s in seeds])
    if len(d) < 2:
        return Comparison(name, float(d.mean()) if len(d) else math.nan, (math.nan, math.nan), len(d), SAME)
    half = float(t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    lo, hi = float(d.mean()) - half, float(d.mean()) + half
    p = signed_rank_p(d)
    ranked = p < ALPHA
    better = (lo > 0 if sign > 0 else hi < 0) and ranked
    worse = (hi < 0 if sign > 0 else lo > 0) and ranked
    return Comparison(name, float(d.mean()), (lo, hi), len(d), BETTER if better else WORSE if worse else SAME, p)
