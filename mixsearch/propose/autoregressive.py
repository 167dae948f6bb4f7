"""mfar: autoregressive multi-fidelity BO, in the manner of NARGP (Perdikaris et al. 2017).

A GP of the runs at the cheapest fidelity predicts every candidate mixture; the target model is
a GP whose inputs are the mixture *and* that prediction, so it learns from the target runs
themselves how far to trust the cheap fidelity (a useless one ends up ignored, with no threshold
and no paired runs needed before that can happen). The batch: cheap runs until the cheapest
fidelity has CHEAP_FIRST of them, then target runs by expected improvement of the target model
(by the cheap model alone while fewer than TARGET_FIRST target runs exist). The replay benchmark's
`mf-ar` strategy is the same method, one run at a time.
"""

from __future__ import annotations

import numpy as np

from mixsearch.mixtures import sample
from mixsearch.propose import Proposal, ProposalContext, register
from mixsearch.propose.candidates import fill
from mixsearch.surrogate.base import TrainSet

CHEAP_FIRST = 20  # runs at the cheapest fidelity before any target run is proposed
TARGET_FIRST = 2  # target runs picked by the cheap model alone, before the target GP


def log_ei(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """log expected improvement below `best` (minimisation), stable far in the tails."""
    from scipy.special import log_ndtr

    z = (best - mean) / np.maximum(std, 1e-12)
    pdf = np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
    return np.log(np.maximum(std, 1e-12)) + np.log(np.maximum(z * np.exp(log_ndtr(z)) + pdf, 1e-300))


def unit(v: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """v scaled by the range of ref to about [0, 1] (a GP input on the mixtures' scale)."""
    return (v - ref.min()) / (np.ptp(ref) + 1e-12)


@register("mfar")
def mfar(ctx: ProposalContext, n: int) -> Proposal:
    from mixsearch.propose.bo import bo
    from mixsearch.surrogate.gp import GPSurrogate

    if len(ctx.fidelities) < 2:
        return bo(ctx, n)
    fid = ctx.data.fidelities
    low, target = ctx.fidelities[0], ctx.fidelities[-1]
    is_low, is_target = np.isclose(fid, low.value), np.isclose(fid, 1.0)
    rng = np.random.default_rng(ctx.seed)
    if is_low.sum() < CHEAP_FIRST:  # the cheap batch: spread over the simplex
        W = fill(ctx, np.zeros((0, ctx.space.dim)), n, _ranked(sample(ctx.space, max(4 * n, 256), ctx.cfg.sampling,
                                                                       rng, rounded=False)))
        return Proposal(W, [low.name] * len(W), ctx.surrogate.predict(W) if ctx.surrogate else np.full(len(W), np.nan))
    cheap = GPSurrogate(ctx.seed).fit(TrainSet(ctx.data.X[is_low], ctx.data.y[is_low]))
    cands = sample(ctx.space, ctx.cfg.candidates, ctx.cfg.sampling, rng, rounded=False)
    mu = cheap.predict(cands)
    if is_target.sum() < TARGET_FIRST:
        order = np.argsort(mu, kind="stable")
    else:
        X, y = ctx.data.X[is_target], ctx.data.y[is_target]
        gp = GPSurrogate(ctx.seed).fit(TrainSet(np.hstack([X, unit(cheap.predict(X), mu)[:, None]]), y))
        Z = np.hstack([cands, unit(mu, mu)[:, None]])
        order = np.argsort(-log_ei(gp.predict(Z), gp.predict_std(Z), float(y.min())), kind="stable")
    W = fill(ctx, np.zeros((0, ctx.space.dim)), n, (cands, order), completed=True)
    return Proposal(W, [target.name] * len(W), ctx.surrogate.predict(W) if ctx.surrogate else np.full(len(W), np.nan))


def _ranked(cands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidates in their (random) order: the cheap batch has nothing to rank them by yet."""
    return cands, np.arange(len(cands))
