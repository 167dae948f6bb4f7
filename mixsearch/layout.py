"""How a phased mixture is laid out: one mixture per phase, concatenated phase by phase, and the
maths that couples the phases (caps on each domain's share of the whole run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mixsearch.recipe.phases import coordinate

if TYPE_CHECKING:
    from mixsearch.recipe.schema import Recipe

DUAL_ITERS = 500


@dataclass(frozen=True)
class Layout:
    """How a mixture vector splits into phases: P blocks of the D domain weights, phase by phase
    (no phases: one block, the domains themselves)."""

    domains: tuple[str, ...]
    phases: tuple[str, ...] = ()
    shares: tuple[float, ...] = ()

    @classmethod
    def of(cls, recipe: Recipe) -> Layout:
        return cls(tuple(recipe.domain_names), tuple(p.name for p in recipe.phases),
                   tuple(p.share for p in recipe.phases))

    @property
    def phased(self) -> bool:
        return bool(self.phases)

    @property
    def names(self) -> tuple[str, ...]:
        """The mixture's coordinates: domains, or `<phase>_<domain>` phase by phase."""
        return tuple(coordinate(p, d) for p in self.phases for d in self.domains) or self.domains

    @property
    def blocks(self) -> list[slice]:
        """Each phase's coordinates (one block without phases)."""
        d = len(self.domains)
        return [slice(i * d, (i + 1) * d) for i in range(max(1, len(self.phases)))]

    def split(self, W: np.ndarray) -> np.ndarray:
        """(n, P, D): each row's mixture per phase."""
        W = np.atleast_2d(W)
        return W.reshape(len(W), len(self.blocks), len(self.domains))

    def overall(self, W: np.ndarray) -> np.ndarray:
        """(n, D): each domain's share of a run's tokens over all phases."""
        return np.einsum("npd,p->nd", self.split(W), np.asarray(self.shares or (1.0,)))

    def tile(self, V: np.ndarray) -> np.ndarray:
        """Static mixtures (n, D) as schedules: the same mixture in every phase."""
        return np.tile(np.atleast_2d(V), (1, len(self.blocks)))

    def schedule(self, mixture: dict[str, float]) -> list[dict]:
        """A phased mixture (by coordinate name) as [{name, share, mixture: {domain: weight}}]."""
        return [{"name": p, "share": s, "mixture": {d: mixture[coordinate(p, d)] for d in self.domains}}
                for p, s in zip(self.phases, self.shares)]


def project_capped(W: np.ndarray, lo: np.ndarray, hi: np.ndarray, layout: Layout, cap: np.ndarray) -> np.ndarray:
    """Each row's Euclidean projection onto the phases' simplices within [lo, hi] and under the caps
    on `layout.overall` (rows sum to 1 per phase up to bisection precision), by coordinate ascent on
    the dual: w_pd = clip(x_pd - mu_p - lambda_d share_p, lo, hi), alternating the phases' shifts mu
    (each phase sums to 1) and the caps' multipliers lambda >= 0 (each binding cap met with equality)."""
    shares = np.asarray(layout.shares)
    P, D = len(shares), len(layout.domains)
    X = W.reshape(len(W), P, D)
    lo, hi = lo.reshape(P, D), hi.reshape(P, D)
    lam = np.zeros((len(W), D))
    for _ in range(DUAL_ITERS):
        Z = X - _shift(X - lam[:, None, :] * shares[:, None], lo, hi, np.ones(D), 1.0)
        Zt, lot, hit = Z.transpose(0, 2, 1), lo.T, hi.T
        over = (shares * np.clip(Zt, lot, hit)).sum(-1) > cap
        new = np.where(over, _shift(Zt, lot, hit, shares, np.where(over, cap, 1.0)[..., None])[..., 0], 0.0)
        done = np.abs(new - lam).max() < 1e-12
        lam = new
        if done:
            break
    Y = X - lam[:, None, :] * shares[:, None]
    return np.clip(Y - _shift(Y, lo, hi, np.ones(D), 1.0), lo, hi).reshape(len(W), P * D)


def _shift(Y: np.ndarray, lo: np.ndarray, hi: np.ndarray, coef: np.ndarray, target: float | np.ndarray) -> np.ndarray:
    """t (keeping the last axis as 1) with sum(coef x clip(Y - t x coef, lo, hi)) = target, by bisection."""
    a = ((Y - hi) / coef).min(-1, keepdims=True) - 1.0
    b = ((Y - lo) / coef).max(-1, keepdims=True) + 1.0
    for _ in range(60):
        mid = (a + b) / 2
        above = (coef * np.clip(Y - mid * coef, lo, hi)).sum(-1, keepdims=True) > target
        a, b = np.where(above, mid, a), np.where(above, b, mid)
    return (a + b) / 2


def schedule_exists(layout: Layout, lo: np.ndarray, hi: np.ndarray, caps: np.ndarray) -> bool:
    """Whether some schedule meets the phases' bounds and the (finite) caps over the run (a linear program)."""
    from scipy.optimize import linprog

    P, D = len(layout.phases), len(layout.domains)
    binding = np.flatnonzero(np.isfinite(caps))
    res = linprog(np.zeros(P * D), A_ub=np.kron(np.asarray(layout.shares), np.eye(D))[binding], b_ub=caps[binding],
                  A_eq=np.kron(np.eye(P), np.ones(D)), b_eq=np.ones(P), bounds=list(zip(lo, hi)), method="highs")
    return res.status == 0
