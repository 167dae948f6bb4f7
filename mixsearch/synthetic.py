"""Synthetic ground truth for tests and benchmarks: a Data Mixing Law with domain interactions.

The objective is the mean over target domains i of L_i(r) = c_i + k_i * exp(sum_j t_ij r_j):
each domain's data lowers its own loss (t_ii < 0) and nudges the others (t_ij, i != j).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from mixsearch.mixtures import Space, project


@dataclass(frozen=True)
class MixingLaw:
    c: np.ndarray  # (m,)
    k: np.ndarray  # (m,)
    t: np.ndarray  # (m, d)

    @classmethod
    def random(cls, d: int, seed: int, targets: int | None = None) -> "MixingLaw":
        rng = np.random.default_rng(seed)
        m = targets or d
        t = rng.normal(0.0, 0.3, size=(m, d))
        t[np.arange(min(m, d)), np.arange(min(m, d))] = -rng.uniform(1.5, 3.0, size=min(m, d))
        return cls(c=rng.uniform(2.0, 3.0, m), k=rng.uniform(0.5, 1.5, m), t=t)

    def losses(self, W: np.ndarray) -> np.ndarray:
        """(n, m) per-target losses."""
        return self.c + self.k * np.exp(np.atleast_2d(W) @ self.t.T)

    def __call__(self, W: np.ndarray, noise: float = 0.0, seed: int = 0) -> np.ndarray:
        y = self.losses(W).mean(1)
        return y + np.random.default_rng(seed).normal(0, noise, len(y)) if noise else y

    def optimum(self, space: Space) -> tuple[np.ndarray, float]:
        """The constrained minimiser (the law is convex, so SLSQP from the prior finds it)."""
        res = minimize(lambda w: float(self(w[None])[0]), space.prior, method="SLSQP",
                       bounds=list(zip(space.lo, space.hi)),
                       constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}], options={"ftol": 1e-12})
        w = project(res.x, space.lo, space.hi)[0]
        return w, float(self(w[None])[0])
