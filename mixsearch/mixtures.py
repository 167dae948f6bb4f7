"""Mixtures on the constrained simplex: sampling, projection, rounding (bounds from the recipe:
`bounds.py`).

Every sampler and proposer goes through this module, so "on the simplex, within bounds" is
decided in one place. A phased study's mixture is one mixture per phase, concatenated
(`layout.Layout`): a point of a product of simplices, each block within its phase's bounds, and
the epoch caps bound each domain's weight over the whole run (the phases' weights times their
shares).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mixsearch.errors import UserError
from mixsearch.layout import Layout, project_capped
from mixsearch.recipe.search import Sampling

DECIMALS = 4
TOL = 1e-9
SUM_TOL = 1e-3  # a mixture given by a user (a file, an import) may sum to 1 within this
CAP_TOL = 10**-DECIMALS  # epoch caps over phases hold to the weights' rounding


@dataclass(frozen=True)
class Space:
    """The feasible mixtures: each block of `layout` sums to 1, lo <= w <= hi, and (phases with
    epoch caps) each domain's weight over the run is at most `cap`; prior is the sampling prior
    (token share ** prior_power), natural the token share itself (both within bounds)."""

    names: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray
    prior: np.ndarray
    natural: np.ndarray | None = None
    layout: Layout | None = None  # None: one mixture over `names`
    cap: np.ndarray | None = None  # (D,) bound of Layout.overall where it binds; None: none binds

    @property
    def uniform(self) -> np.ndarray:
        return self.project(np.concatenate([np.full(b.stop - b.start, 1.0 / (b.stop - b.start))
                                            for b in self.blocks]))[0]

    @property
    def natural_or_prior(self) -> np.ndarray:
        return self.prior if self.natural is None else self.natural

    @property
    def dim(self) -> int:
        return len(self.names)

    @property
    def blocks(self) -> list[slice]:
        """The coordinates of each simplex (each phase's; the whole mixture without phases)."""
        return self.layout.blocks if self.layout is not None else [slice(0, self.dim)]

    def block(self, i: int) -> "Space":
        """One phase's mixtures, without the caps that couple phases."""
        b = self.blocks[i]
        return Space(self.names[b], self.lo[b], self.hi[b], self.prior[b],
                     None if self.natural is None else self.natural[b])

    def static(self) -> "Space":
        """The static mixtures of a phased space (the same in every phase), over the domains: within
        every phase's bounds and the caps; their schedules are `layout.tile(w)`."""
        assert self.layout is not None and self.layout.phased
        lo = np.max([self.lo[b] for b in self.blocks], 0)
        hi = np.min([self.hi[b] for b in self.blocks] + ([self.cap] if self.cap is not None else []), 0)
        check_feasible(self.layout.domains, lo, hi, where="phases")
        prior = project(self.prior[self.blocks[0]], lo, hi)[0]
        return Space(self.layout.domains, lo, hi, prior, project(self.natural_or_prior[self.blocks[0]], lo, hi)[0])

    def caps_hold(self, W: np.ndarray, tol: float = CAP_TOL) -> np.ndarray:
        W = np.atleast_2d(W)
        if self.cap is None or self.layout is None:
            return np.ones(len(W), dtype=bool)
        return np.all(self.layout.overall(W) <= self.cap + tol, 1)

    def contains(self, w: np.ndarray, tol: float = 1e-6) -> np.ndarray:
        w = np.atleast_2d(w)
        sums = np.all([np.abs(w[:, b].sum(1) - 1) <= tol for b in self.blocks], 0)
        return sums & np.all(w >= self.lo - tol, 1) & np.all(w <= self.hi + tol, 1) & self.caps_hold(w)

    def linear_constraints(self) -> tuple[list[tuple[np.ndarray, np.ndarray, float]],
                                          list[tuple[np.ndarray, np.ndarray, float]]]:
        """(equalities, upper bounds) as (indices, coefficients, rhs): each block sums to 1;
        sum(coefficients x w[indices]) <= rhs for each binding cap over phases."""
        eqs = [(np.arange(b.start, b.stop), np.ones(b.stop - b.start), 1.0) for b in self.blocks]
        if self.cap is None or self.layout is None:
            return eqs, []
        D, shares = len(self.layout.domains), np.asarray(self.layout.shares)
        ubs = [(np.arange(len(shares)) * D + d, shares, float(c)) for d, c in enumerate(self.cap) if np.isfinite(c)]
        return eqs, ubs

    def project(self, W: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Each row onto the space (Euclidean; with caps lowered by `margin`)."""
        W = np.atleast_2d(np.asarray(W, dtype=float))
        out = np.empty_like(W)
        for b in self.blocks:
            out[:, b] = project(W[:, b], self.lo[b], self.hi[b])
        if self.cap is None or self.layout is None:
            return out
        bad = ~self.caps_hold(out, tol=TOL - margin)
        if bad.any():
            capped = project_capped(W[bad], self.lo, self.hi, self.layout, self.cap - margin)
            for b in self.blocks:
                capped[:, b] = _fix_sum(capped[:, b], self.lo[b], self.hi[b])
            out[bad] = capped
        return out


def check_feasible(names: Sequence[str], lo: np.ndarray, hi: np.ndarray, where: str = "constraints") -> None:
    """Some mixture lies within [lo, hi] (a UserError naming `where` otherwise)."""
    if lo.sum() > 1 + TOL or hi.sum() < 1 - TOL or np.any(lo > hi + TOL):
        bad = [n for n, a, b in zip(names, lo, hi) if a > b + TOL]
        detail = f" (min above the epoch cap for {', '.join(bad)})" if bad else ""
        raise UserError(
            f"no mixture satisfies the bounds: mins sum to {lo.sum():.4g}, caps to {hi.sum():.4g}{detail}",
            where=where,
        )


def kl_to(W: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(w || q) per row (0 log 0 = 0)."""
    W = np.atleast_2d(W)
    q = np.clip(q, 1e-12, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(W > 0, W * np.log(np.clip(W, 1e-300, None) / q), 0.0)
    return terms.sum(1)


def diverse(W: np.ndarray, taken: np.ndarray, min_distance: float, n: int | None = None) -> np.ndarray:
    """Indices of the rows of W kept, in order, when at least `min_distance` (L1) from every kept
    row and from each row of `taken`; at most n."""
    W = np.atleast_2d(W)
    ref = np.asarray(taken, float).reshape(-1, W.shape[1])
    kept: list[int] = []
    for i, w in enumerate(W):
        if len(ref) == 0 or np.abs(ref - w).sum(1).min() >= min_distance - 1e-9:
            kept.append(i)
            ref = np.vstack([ref, w])
            if n is not None and len(kept) == n:
                break
    return np.array(kept, dtype=int)


def project(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row onto {sum = 1, lo <= w <= hi} (bisection on the shift)."""
    w = np.atleast_2d(np.asarray(w, dtype=float))
    a = (w - hi).min(1, keepdims=True) - 1.0
    b = (w - lo).max(1, keepdims=True) + 1.0
    for _ in range(100):
        mid = (a + b) / 2
        s = np.clip(w - mid, lo, hi).sum(1, keepdims=True)
        a = np.where(s > 1, mid, a)
        b = np.where(s > 1, b, mid)
    out = np.clip(w - (a + b) / 2, lo, hi)
    return _fix_sum(out, lo, hi)


def _fix_sum(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Move each row's residual 1 - sum onto the components with room, largest first."""
    w = w.copy()
    for i in np.flatnonzero(np.abs(1.0 - w.sum(1)) > 1e-15):
        row = w[i]
        resid = 1.0 - row.sum()
        for j in np.argsort(-row):
            if abs(resid) < 1e-15:
                break
            room = hi[j] - row[j] if resid > 0 else lo[j] - row[j]
            step = min(resid, room) if resid > 0 else max(resid, room)
            row[j] += step
            resid -= step
    return w


def finalize(w: np.ndarray, space: Space, min_weight: float = 0.0) -> np.ndarray:
    """Zero tiny weights (where allowed), project into the space, round to DECIMALS places (with
    caps over phases: projected under caps lowered until the rounded rows keep them)."""
    w = np.atleast_2d(np.asarray(w, dtype=float)).copy()
    w[(w < min_weight) & (space.lo == 0)] = 0.0
    for attempt in range(4):
        r = _rounded(space.project(w, margin=attempt * CAP_TOL), space)
        if space.caps_hold(r).all():
            break
    return r


def _rounded(w: np.ndarray, space: Space) -> np.ndarray:
    r = np.clip(np.round(w, DECIMALS), space.lo, space.hi)
    for b in space.blocks:
        r[:, b] = _fix_sum(r[:, b], space.lo[b], space.hi[b])
    return r


def dedupe(w: np.ndarray) -> np.ndarray:
    """Drop repeated rows (compared at DECIMALS places), keeping first occurrences in order."""
    _, idx = np.unique(np.round(w, DECIMALS), axis=0, return_index=True)
    return w[np.sort(idx)]


def _into_bounds(x: np.ndarray, space: Space) -> np.ndarray:
    """Map points of the unit simplex into the box: lower bounds hold by construction;
    rows above an upper bound are projected."""
    w = space.lo + (1.0 - space.lo.sum()) * x
    bad = ~space.contains(w, tol=TOL)
    if bad.any():
        w[bad] = project(w[bad], space.lo, space.hi)
    return w


def _dirichlet(space: Space, n: int, rng: np.random.Generator, cfg: Sampling) -> np.ndarray:
    """RegMix: alpha = prior x strength, strength drawn from log-spaced concentrations."""
    strengths = np.logspace(np.log10(cfg.concentration_min), np.log10(cfg.concentration_max),
                            cfg.concentration_steps)
    prior = space.prior
    if cfg.max_prior_multiple:
        capped = np.minimum(space.hi, prior * cfg.max_prior_multiple)
        if capped.sum() >= 1:
            space = Space(space.names, space.lo, np.maximum(capped, space.lo), prior)
    s = rng.choice(strengths, size=n)
    alpha = np.maximum(prior[None, :] * s[:, None], 1e-3)
    x = rng.gamma(alpha)
    sums = x.sum(1, keepdims=True)
    x = np.where(sums > 0, x / np.where(sums > 0, sums, 1), prior)
    return _into_bounds(x, space)


def _uniform(space: Space, n: int, rng: np.random.Generator) -> np.ndarray:
    return _into_bounds(rng.dirichlet(np.ones(space.dim), size=n), space)


def _sobol(space: Space, n: int, rng: np.random.Generator) -> np.ndarray:
    """Scrambled Sobol points mapped to the simplex by sorted spacings (uniform on the simplex)."""
    from scipy.stats import qmc

    d = space.dim
    u = qmc.Sobol(d - 1, scramble=True, seed=rng).random_base2(max(1, int(np.ceil(np.log2(n)))))[:n]
    edges = np.hstack([np.zeros((n, 1)), np.sort(u, axis=1), np.ones((n, 1))])
    return _into_bounds(np.diff(edges, axis=1), space)


def sample(space: Space, n: int, cfg: Sampling, rng: np.random.Generator, method: str | None = None,
           rounded: bool = True) -> np.ndarray:
    """n feasible mixtures by cfg.method (or `method`), each phase's mixture drawn on its own;
    rounded, zeroed and de-duplicated if `rounded`."""
    method = method or cfg.method
    draw = {"dirichlet": lambda sp, k: _dirichlet(sp, k, rng, cfg),
            "uniform": lambda sp, k: _uniform(sp, k, rng),
            "sobol": lambda sp, k: _sobol(sp, k, rng)}[method]

    def drawn(k: int) -> np.ndarray:
        if space.layout is None or not space.layout.phased:
            return draw(space, k)
        return space.project(np.hstack([draw(space.block(i), k) for i in range(len(space.blocks))]))

    if not rounded:
        return drawn(n)
    out = np.zeros((0, space.dim))
    for _ in range(20):
        extra = drawn(max(2 * (n - len(out)), 8))
        out = dedupe(np.vstack([out, finalize(extra, space, cfg.min_weight)]))
        if len(out) >= n:
            return out[:n]
    return out
