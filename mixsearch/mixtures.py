"""Mixtures on the constrained simplex: bounds from the recipe, sampling, projection, rounding.

Every sampler and proposer goes through this module, so "on the simplex, within bounds" is
decided in one place. A phased study's mixture is one mixture per phase, concatenated (`Layout`):
a point of a product of simplices, each block within its phase's bounds, and the epoch caps
bound each domain's weight over the whole run (the phases' weights times their shares).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mixsearch.errors import UserError
from mixsearch.recipe.phases import PhaseBounds, coordinate
from mixsearch.recipe.schema import Recipe
from mixsearch.recipe.search import Bounds, Sampling

DECIMALS = 4
TOL = 1e-9
SUM_TOL = 1e-3  # a mixture given by a user (a file, an import) may sum to 1 within this
CAP_TOL = 10**-DECIMALS  # epoch caps over phases hold to the weights' rounding
DUAL_ITERS = 500


@dataclass(frozen=True)
class Layout:
    """How a mixture vector splits into phases: P blocks of the D domain weights, phase by phase
    (no phases: one block, the domains themselves)."""

    domains: tuple[str, ...]
    phases: tuple[str, ...] = ()
    shares: tuple[float, ...] = ()

    @classmethod
    def of(cls, recipe: Recipe) -> "Layout":
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
        _check_feasible(self.layout.domains, lo, hi, where="phases")
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
            out[bad] = self._project_capped(W[bad], self.cap - margin)
        return out

    def _project_capped(self, W: np.ndarray, cap: np.ndarray) -> np.ndarray:
        """Projection under caps by coordinate ascent on the dual: w_pd = clip(x_pd - mu_p - lambda_d
        share_p, lo, hi), alternating the phases' shifts mu (each phase sums to 1) and the caps'
        multipliers lambda >= 0 (each binding cap met with equality)."""
        assert self.layout is not None
        shares = np.asarray(self.layout.shares)
        P, D = len(shares), len(self.layout.domains)
        X = W.reshape(len(W), P, D)
        lo, hi = self.lo.reshape(P, D), self.hi.reshape(P, D)
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
        out = np.clip(Y - _shift(Y, lo, hi, np.ones(D), 1.0), lo, hi).reshape(len(W), P * D)
        for b in self.blocks:
            out[:, b] = _fix_sum(out[:, b], self.lo[b], self.hi[b])
        return out


def _shift(Y: np.ndarray, lo: np.ndarray, hi: np.ndarray, coef: np.ndarray, target: float | np.ndarray) -> np.ndarray:
    """t (keeping the last axis as 1) with sum(coef x clip(Y - t x coef, lo, hi)) = target, by bisection."""
    a = ((Y - hi) / coef).min(-1, keepdims=True) - 1.0
    b = ((Y - lo) / coef).max(-1, keepdims=True) + 1.0
    for _ in range(60):
        mid = (a + b) / 2
        above = (coef * np.clip(Y - mid * coef, lo, hi)).sum(-1, keepdims=True) > target
        a, b = np.where(above, mid, a), np.where(above, b, mid)
    return (a + b) / 2


def build_space(recipe: Recipe, train_tokens: dict[str, int]) -> Space:
    """Bounds from per-domain (and per-phase) min/max and epoch caps (at the largest token budget,
    the final training run's `constraints.final_tokens` included; with phases, over the whole run);
    prior = token share ** prior_power."""
    layout = Layout.of(recipe)
    names = layout.domains
    budget = max([train.tokens for _, _, train, _ in recipe.proxy.fidelity_configs()]
                 + [recipe.constraints.final_tokens or 0])
    lo, hi, cap = np.zeros(len(names)), np.ones(len(names)), np.full(len(names), np.inf)
    for i, name in enumerate(names):
        b = recipe.constraints.domains.get(name, Bounds())
        lo[i], hi[i] = b.min, b.max
        epochs = b.max_epochs or recipe.constraints.max_epochs
        if epochs:
            cap[i] = epochs * train_tokens[name] / budget
    counts = np.array([train_tokens[n] for n in names], dtype=float)
    prior = (counts / counts.sum()) ** recipe.search.sampling.prior_power
    natural = counts / counts.sum()
    if not layout.phased:
        hi = np.minimum(hi, cap)
        _check_feasible(names, lo, hi)
        return Space(names, lo, hi, project(prior / prior.sum(), lo, hi)[0], project(natural, lo, hi)[0])
    return _phased_space(recipe, layout, lo, hi, cap, prior / prior.sum(), natural)


def _check_feasible(names: Sequence[str], lo: np.ndarray, hi: np.ndarray, where: str = "constraints") -> None:
    if lo.sum() > 1 + TOL or hi.sum() < 1 - TOL or np.any(lo > hi + TOL):
        bad = [n for n, a, b in zip(names, lo, hi) if a > b + TOL]
        detail = f" (min above the epoch cap for {', '.join(bad)})" if bad else ""
        raise UserError(
            f"no mixture satisfies the bounds: mins sum to {lo.sum():.4g}, caps to {hi.sum():.4g}{detail}",
            where=where,
        )


def _phased_space(recipe: Recipe, layout: Layout, lo: np.ndarray, hi: np.ndarray, cap: np.ndarray,
                  prior: np.ndarray, natural: np.ndarray) -> Space:
    """Per phase: the recipe's bounds narrowed by the phase's own and by cap / share; the caps
    themselves couple the phases (kept only where they bind)."""
    los, his = [], []
    for phase in recipe.phases:
        bounds = [phase.domains.get(d, PhaseBounds()) for d in layout.domains]
        plo = np.maximum(lo, [b.min for b in bounds])
        phi = np.minimum.reduce([hi, np.array([b.max for b in bounds]), cap / phase.share])
        _check_feasible(layout.domains, plo, phi, where=f"phases[{phase.name}]")
        los.append(plo)
        his.append(phi)
    LO, HI = np.concatenate(los), np.concatenate(his)
    shares = np.asarray(layout.shares)
    binds = np.einsum("pd,p->d", np.array(his), shares) > cap + TOL
    caps = np.where(binds, cap, np.inf) if binds.any() else None
    if caps is not None:
        _check_caps(layout, LO, HI, caps)
    space = Space(layout.names, LO, HI, layout.tile(prior)[0], layout.tile(natural)[0], layout, caps)
    return Space(space.names, LO, HI, space.project(space.prior)[0], space.project(space.natural)[0], layout, caps)
def _check_caps(layout: Layout, lo: np.ndarray, hi: np.ndarray, caps: np.ndarray) -> None:
    """Some schedule meets the phases' bounds and the epoch caps over the run (a linear program)."""
    from scipy.optimize import linprog

    P, D = len(layout.phases), len(layout.domains)
    A_eq = np.kron(np.eye(P), np.ones(D))
    binding = np.flatnonzero(np.isfinite(caps))
    A_ub = np.kron(np.asarray(layout.shares), np.eye(D))[binding]
    res = linprog(np.zeros(P * D), A_ub=A_ub, b_ub=caps[binding], A_eq=A_eq, b_eq=np.ones(P),
                  bounds=list(zip(lo, hi)), method="highs")
    if res.status != 0:
        names = ", ".join(layout.domains[i] for i in binding)
        raise UserError(f"no schedule satisfies the phases' bounds and the epoch caps over the run ({names})",
                        where="constraints")


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
