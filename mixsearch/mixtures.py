"""Mixtures on the constrained simplex: bounds from the recipe, sampling, projection, rounding.

Every sampler and proposer goes through this module, so "on the simplex, within bounds" is
decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixsearch.errors import UserError
from mixsearch.recipe.schema import Recipe
from mixsearch.recipe.search import Bounds, Sampling

DECIMALS = 4
TOL = 1e-9
SUM_TOL = 1e-3  # a mixture given by a user (a file, an import) may sum to 1 within this


@dataclass(frozen=True)
class Space:
    """The feasible mixtures: w >= 0, sum(w) = 1, lo <= w <= hi; prior is the sampling prior
    (token share ** prior_power), natural the token share itself (both within bounds)."""

    names: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray
    prior: np.ndarray
    natural: np.ndarray | None = None

    @property
    def uniform(self) -> np.ndarray:
        return project(np.full(self.dim, 1.0 / self.dim), self.lo, self.hi)[0]

    @property
    def natural_or_prior(self) -> np.ndarray:
        return self.prior if self.natural is None else self.natural

    @property
    def dim(self) -> int:
        return len(self.names)

    def contains(self, w: np.ndarray, tol: float = 1e-6) -> np.ndarray:
        w = np.atleast_2d(w)
        return (np.abs(w.sum(1) - 1) <= tol) & np.all(w >= self.lo - tol, 1) & np.all(w <= self.hi + tol, 1)


def build_space(recipe: Recipe, train_tokens: dict[str, int]) -> Space:
    """Bounds from per-domain min/max and epoch caps (at the largest token budget, the final
    training run's `constraints.final_tokens` included); prior = token share ** prior_power."""
    names = tuple(recipe.domain_names)
    budget = max([train.tokens for _, _, train, _ in recipe.proxy.fidelity_configs()]
                 + [recipe.constraints.final_tokens or 0])
    lo, hi = np.zeros(len(names)), np.ones(len(names))
    for i, name in enumerate(names):
        b = recipe.constraints.domains.get(name, Bounds())
        lo[i], hi[i] = b.min, b.max
        epochs = b.max_epochs or recipe.constraints.max_epochs
        if epochs:
            hi[i] = min(hi[i], epochs * train_tokens[name] / budget)
    if lo.sum() > 1 + TOL or hi.sum() < 1 - TOL or np.any(lo > hi + TOL):
        bad = [n for n, a, b in zip(names, lo, hi) if a > b + TOL]
        detail = f" (min above the epoch cap for {', '.join(bad)})" if bad else ""
        raise UserError(
            f"no mixture satisfies the bounds: mins sum to {lo.sum():.4g}, caps to {hi.sum():.4g}{detail}",
            where="constraints",
        )
    counts = np.array([train_tokens[n] for n in names], dtype=float)
    prior = (counts / counts.sum()) ** recipe.search.sampling.prior_power
    return Space(names, lo, hi, project(prior / prior.sum(), lo, hi)[0], project(counts / counts.sum(), lo, hi)[0])


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
    """Zero tiny weights (where allowed), project into bounds, round to DECIMALS places."""
    w = np.atleast_2d(np.asarray(w, dtype=float)).copy()
    w[(w < min_weight) & (space.lo == 0)] = 0.0
    w = project(w, space.lo, space.hi)
    r = np.clip(np.round(w, DECIMALS), space.lo, space.hi)
    return _fix_sum(r, space.lo, space.hi)


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
    """n feasible mixtures by cfg.method (or `method`); rounded, zeroed and de-duplicated if `rounded`."""
    method = method or cfg.method
    draw = {"dirichlet": lambda k: _dirichlet(space, k, rng, cfg),
            "uniform": lambda k: _uniform(space, k, rng),
            "sobol": lambda k: _sobol(space, k, rng)}[method]
    if not rounded:
        return draw(n)
    out = np.zeros((0, space.dim))
    for _ in range(20):
        extra = draw(max(2 * (n - len(out)), 8))
        out = dedupe(np.vstack([out, finalize(extra, space, cfg.min_weight)]))
        if len(out) >= n:
            return out[:n]
    return out
