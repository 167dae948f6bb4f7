"""Whether cheap runs are worth their cost, decided from the study's own evidence.

A screening model values them: m mixtures run at a cheap fidelity (cost c each, in target-run
units), then target runs on those mixtures best-first by their cheap result, until one lands in
the best q share of mixtures (none of the m does: target-only search from there). Cheap and
target results are standard bivariate normal with correlation rho, the cheap side's rank
agreement with the target. Its expected cost, against 1/q for target-only search, says whether
cheap runs pay and how many to plan (at most a share of the budget). A plan must promise at most
MARGIN of the target-only cost: the model ignores that a surrogate of the runs generalises (a
gain) and that real rank agreement is uneven over the simplex (a loss).

rho is RHO_PRIOR until MIN_PAIRS target runs can be compared with the cheap side's prediction of
them; then the measured Spearman's lower confidence bound (Fisher z, Z_LOWER standard errors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mixsearch.propose.fidelities import MIN_PAIRS  # target runs compared before a measured agreement counts

RHO_PRIOR = 0.8  # assumed agreement before any is measured: cheap runs get their chance when they are cheap
Z_LOWER = 1.0  # standard errors of Fisher's z below the measured agreement
MARGIN = 0.7  # a cheap plan must promise at most this share of the target-only cost
CHEAP_SHARE = 0.25  # at most this share of the budget goes to the cheap plan
MAX_CHEAP = 128  # the longest cheap plan considered
DEFAULT_BUDGET = 40.0  # target-run units, when neither the context nor the recipe says
NEAR_BEST = 1.1  # the shortest plan within this factor of the best plan's expected cost is chosen
STEP = 4  # plan lengths considered: multiples of this
REPS = 1000  # Monte Carlo repetitions of the screening model (common random numbers, fixed seed)


@dataclass(frozen=True)
class Plan:
    """How many runs at a cheap fidelity pay (0: none), and why, in a line `propose` can show."""

    runs: int
    rho: float  # the agreement the decision used
    measured: bool  # rho is the lower bound of a measured agreement (else RHO_PRIOR)
    saving: float  # expected share of the target-only cost saved by the plan (<= 0: none)
    reason: str

    @property
    def pays(self) -> bool:
        return self.runs > 0


def band_share(budget: float) -> float:
    """The share q of mixtures a search of `budget` target runs aims into: 8 / budget, 5% to 25%,
    in steps of 5% (so a plan does not change as the budget is spent)
    (wider than a tolerance band: a GP on a smooth objective finds a band of a few per cent of
    mixtures within a handful of target runs, so 1/q stands for model-guided target-only search)."""
    return round(float(np.clip(8.0 / max(budget, 1e-9), 0.05, 0.25)) * 20) / 20  # in steps of 5%


def lower_bound(rho: float, n: int) -> float:
    """Spearman's rho from n pairs, Z_LOWER standard errors down (Fisher z, se 1.06 / sqrt(n - 3))."""
    if n <= 3:
        return -1.0
    z = math.atanh(float(np.clip(rho, -0.999, 0.999))) - Z_LOWER * 1.06 / math.sqrt(n - 3)
    return math.tanh(z)


@lru_cache(maxsize=256)
def _screening(rho: float, q: float, m_max: int) -> np.ndarray:
    """Expected target runs until one is in the best q share, after screening m = 0..m_max
    mixtures cheaply (m = 0: 1/q, target-only; inf where m is not a multiple of STEP)."""
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    t = rng.standard_normal((REPS, max(m_max, 1)))
    cheap = rho * t + math.sqrt(max(1 - rho**2, 0.0)) * rng.standard_normal(t.shape)
    hit = t <= norm.ppf(q)
    out = np.full(m_max + 1, np.inf)
    out[0] = 1 / q
    for m in range(STEP, m_max + 1, STEP):
        h = np.take_along_axis(hit[:, :m], np.argsort(cheap[:, :m], axis=1), axis=1)
        out[m] = np.where(h.any(1), h.argmax(1) + 1, m + 1 / q).mean()
    return out


def screening_costs(rho: float, cost: float, q: float, m_max: int) -> np.ndarray:
    """Expected cost (target-run units) to find a mixture in the best q share with m = 0..m_max
    cheap runs of `cost` first."""
    runs = _screening(round(float(np.clip(rho, -1.0, 1.0)), 2), round(q, 3), int(m_max))
    return np.arange(len(runs)) * cost + runs


def plan(name: str, cost: float, budget: float | None, measured: tuple[float, int] | None = None,
         available: int = MAX_CHEAP) -> Plan:
    """The cheap-run plan at fidelity `name` of relative cost `cost`, for a search with `budget`
    target-run units left, given the measured (Spearman, pairs) agreement if any."""
    budget = DEFAULT_BUDGET if budget is None else budget
    q = band_share(budget)
    known = measured is not None and measured[1] >= MIN_PAIRS
    rho = lower_bound(*measured) if known else RHO_PRIOR  # type: ignore[misc]
    cap = int(min(MAX_CHEAP, available, CHEAP_SHARE * budget / max(cost, 1e-9)))
    costs = screening_costs(max(rho, 0.0), cost, q, MAX_CHEAP)
    m = int(np.argmax(costs <= NEAR_BEST * costs.min()))  # the shortest plan about as good as the best ...
    m = min(m, max(cap, 0) // STEP * STEP)  # ... that the budget share and the candidates allow
    saving = 1 - float(costs[m]) * q
    if known:
        said = (f"the cheap side predicts the target runs at Spearman {measured[0]:.2f} "  # type: ignore[index]
                f"({measured[1]} runs, lower bound {rho:.2f})")  # type: ignore[index]
    else:
        said = f"rank agreement not measured yet (assumed {RHO_PRIOR:.2f})"
    if m == 0 or costs[m] * q > MARGIN:
        return Plan(0, rho, known, saving, f"{name} (cost {cost:.3g}) does not pay: {said}; at best it would save "
                                           f"{max(saving, 0):.0%} of a target-only search: target runs only")
    return Plan(m, rho, known, saving, f"{name} (cost {cost:.3g}) pays: {said}; {m} runs there should save "
                                       f"{saving:.0%} of a target-only search")
