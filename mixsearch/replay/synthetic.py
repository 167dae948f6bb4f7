"""Synthetic ground truth for tests and benchmarks: a Data Mixing Law with domain interactions.

The objective is the mean over target domains i of L_i(r) = c_i + k_i * exp(sum_j t_ij r_j):
each domain's data lowers its own loss (t_ii < 0) and nudges the others (t_ij, i != j).
`PhasedLaw` extends it to schedules, where one domain is worth more late in training.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize

from mixsearch.layout import Layout
from mixsearch.mixtures import Space


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
        return cls(c=rng.uniform(1.5, 2.5, m), k=rng.uniform(0.8, 1.6, m), t=t)

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
        w = space.project(res.x)[0]
        return w, float(self(w[None])[0])


@dataclass(frozen=True)
class PhasedLaw:
    """A schedule's ground truth: the law on the token-weighted mixture over phases, r = sum_p
    share_p w_p, except that domain `late` lowers every loss by `boost` more per unit of the run's
    tokens it fills in the last phase (high-quality data is worth most at the end of training):
    exponent_i = sum_j t_ij r_j - boost * share_last * w_last,late. A static mixture gets the
    boost only for the last phase's share of its `late` tokens; a schedule that moves them there
    gets all of it, so the best schedule beats the best static mixture."""

    law: MixingLaw
    layout: Layout
    late: int
    boost: float

    @classmethod
    def random(cls, d: int, seed: int, shares: tuple[float, ...] = (0.75, 0.25), boost: float = 1.5) -> "PhasedLaw":
        names = tuple(f"d{i}" for i in range(d))
        layout = Layout(names, tuple(f"p{i}" for i in range(len(shares))), shares)
        return cls(MixingLaw.random(d, seed), layout, d - 1, boost)

    def space(self) -> Space:
        """The phased space without bounds (a uniform prior in every phase)."""
        n, d = len(self.layout.names), len(self.layout.domains)
        prior = self.layout.tile(np.full(d, 1 / d))[0]
        return Space(self.layout.names, np.zeros(n), np.ones(n), prior, prior, self.layout)

    def losses(self, W: np.ndarray) -> np.ndarray:
        """(n, m) per-target losses of schedules W (n, P x D)."""
        late = self.layout.split(W)[:, -1, self.late] * self.layout.shares[-1]
        expo = self.layout.overall(W) @ self.law.t.T - self.boost * late[:, None]
        return self.law.c + self.law.k * np.exp(expo)

    def __call__(self, W: np.ndarray, noise: float = 0.0, seed: int = 0) -> np.ndarray:
        y = self.losses(W).mean(1)
        return y + np.random.default_rng(seed).normal(0, noise, len(y)) if noise else y

    def optimum(self, space: Space) -> tuple[np.ndarray, float]:
        """The best schedule in `space` (the loss is convex in W: SLSQP from the prior finds it)."""
        return _minimise(lambda W: self(W), space)

    def static_optimum(self, space: Space) -> tuple[np.ndarray, float]:
        """The best single static mixture (the same in every phase), as a schedule."""
        v, value = _minimise(lambda V: self(self.layout.tile(V)), space.static())
        return self.layout.tile(v)[0], value


def _minimise(f, space: Space) -> tuple[np.ndarray, float]:
    eqs, ubs = space.linear_constraints()
    constraints = ([{"type": "eq", "fun": lambda w, i=i: w[i].sum() - 1} for i, _, _ in eqs]
                   + [{"type": "ineq", "fun": lambda w, i=i, c=c, r=r: r - w[i] @ c} for i, c, r in ubs])
    res = minimize(lambda w: float(f(w[None])[0]), space.prior, method="SLSQP", bounds=list(zip(space.lo, space.hi)),
                   constraints=constraints, options={"ftol": 1e-12, "maxiter": 500})
    w = space.project(res.x)[0]
    return w, float(f(w[None])[0])


@dataclass(frozen=True)
class MultiFidelityBenchmark:
    """Ground truth at several fidelities (cost ratios, the last is 1 = the target).

    At fidelity f the loss is the target law plus an offset that grows as f shrinks (smaller
    proxies are worse), plus a second law weighted by (1 - rho_f), scaled to the target law's
    spread: low fidelities rank mixtures similarly to the target, but not identically.

    Families (FAMILIES): `random` (standard: the above); `weak` — cheap fidelities that rank
    mixtures poorly and a flat optimum plateau (target losses below the `floor` quantile are
    compressed tenfold); `moderate` — cheap fidelities that are not very cheap (0.2, 0.5) and rank
    the target only moderately, its best mixtures low among theirs, as in real pools; `useless` —
    cheap fidelities (0.01, 0.1) that carry nothing of the target; `narrow` — the standard law
    shifted so that only about 15% of a Dirichlet(0.3) pool is within 1% of its optimum.
    """

    law: MixingLaw
    distortion: MixingLaw
    fidelities: tuple[float, ...]
    rho: tuple[float, ...]
    z_mean: float
    z_scale: float
    floor: float = -np.inf  # below this, the law's loss is flattened (an optimum plateau)
    flatten: float = 1.0  # how much of the loss below the floor survives
    signal: float = 1.0  # how much of the target law a cheap fidelity's loss holds
    shift: float = 0.0  # subtracted from the target law (narrows the relative band around the optimum)

    @classmethod
    def random(cls, d: int, seed: int, fidelities: tuple[float, ...] = (0.01, 0.1, 1.0),
               rho: tuple[float, ...] = (0.6, 0.85, 1.0)) -> "MultiFidelityBenchmark":
        law, dist = MixingLaw.random(d, seed), MixingLaw.random(d, seed + 7919)
        ref = np.random.default_rng(seed).dirichlet(np.ones(d), size=4000)
        z = dist(ref)
        return cls(law, dist, fidelities, rho, float(z.mean()), float(law(ref).std() / (z.std() + 1e-12)))

    @classmethod
    def weak(cls, d: int, seed: int, fidelities: tuple[float, ...] = (0.01, 0.1, 1.0),
             rho: tuple[float, ...] = (0.1, 0.4, 1.0), plateau: float = 0.25) -> "MultiFidelityBenchmark":
        """Weak cross-fidelity correlation and a flat optimum plateau (the best `plateau` share of
        Dirichlet(1) mixtures are within a tenth of their spread of each other)."""
        base = cls.random(d, seed, fidelities, rho)
        base = replace(base, z_scale=-base.z_scale)  # the distortion favours what the target does not
        if plateau <= 0:
            return base
        floor = float(np.quantile(base.law(np.random.default_rng(seed).dirichlet(np.ones(d), size=4000)), plateau))
        return replace(base, floor=floor, flatten=0.1)

    @classmethod
    def moderate(cls, d: int, seed: int) -> "MultiFidelityBenchmark":
        """Cheap fidelities at cost 0.2 and 0.5 whose rank agreement with the target is about 0.5
        and 0.65 (Dirichlet(0.3) mixtures), the distortion favouring what the target does not: its
        best mixture ranks about 70th to 90th of 400 at the cheap fidelities."""
        return cls.weak(d, seed, fidelities=(0.2, 0.5, 1.0), rho=(-0.3, 0.0, 1.0), plateau=0.0)

    @classmethod
    def useless(cls, d: int, seed: int) -> "MultiFidelityBenchmark":
        """Cheap fidelities (0.01, 0.1) whose losses hold nothing of the target law."""
        return replace(cls.random(d, seed, rho=(0.0, 0.0, 1.0)), signal=0.0)

    @classmethod
    def narrow(cls, d: int, seed: int, share: float = 0.15) -> "MultiFidelityBenchmark":
        """The standard family, its target law shifted down so that about `share` of Dirichlet(0.3)
        mixtures are within 1% of the best of them."""
        base = cls.random(d, seed)
        y = base.law(np.random.default_rng(seed).dirichlet(np.full(d, 0.3), size=4000))
        best, q = float(y.min()), float(np.quantile(y, share))
        return replace(base, shift=best - (q - best) / 0.01)

    def target(self, W: np.ndarray) -> np.ndarray:
        """The noise-free target-fidelity loss (the law less the shift, flattened below the floor)."""
        y = self.law(W) - self.shift
        return y if not np.isfinite(self.floor) else np.where(y < self.floor, self.floor - self.flatten * (self.floor - y), y)

    def __call__(self, W: np.ndarray, fid: np.ndarray | float, noise: float = 0.0, seed: int = 0) -> np.ndarray:
        W = np.atleast_2d(W)
        fid = np.broadcast_to(np.asarray(fid, dtype=float), (len(W),))
        rho = np.interp(np.log(fid), np.log(self.fidelities), self.rho)
        z = (self.distortion(W) - self.z_mean) * self.z_scale
        target = self.target(W)
        y = np.where(fid < 1, self.signal, 1.0) * target + 0.3 * (1 - fid ** 0.3) + (1 - rho) * z
        return y + np.random.default_rng(seed).normal(0, noise, len(y)) if noise else y


FAMILIES = {"standard": MultiFidelityBenchmark.random, "weak": MultiFidelityBenchmark.weak,
            "moderate": MultiFidelityBenchmark.moderate, "useless": MultiFidelityBenchmark.useless,
            "narrow": MultiFidelityBenchmark.narrow}
