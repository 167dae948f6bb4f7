"""Proposals from any fitted surrogate by scoring many sampled candidate mixtures."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.optimize import minimize

from mixsearch.mixtures import sample
from mixsearch.propose import Proposal, ProposalContext, feasible, fresh, register

MIN_L1 = 0.02  # argmin: proposals at least this far (L1) from each other and from past runs


def _argmin(cands: np.ndarray, order: np.ndarray, n: int, taken: np.ndarray) -> list[np.ndarray]:
    picked: list[np.ndarray] = []
    for i in order:
        ref = np.vstack([taken, *picked])
        if len(ref) == 0 or np.abs(ref - cands[i]).sum(1).min() >= MIN_L1:
            picked.append(cands[i])
            if len(picked) == n:
                break
    return picked


def _regmix(cands: np.ndarray, order: np.ndarray, n: int, top_k: int, seed: int) -> list[np.ndarray]:
    """RegMix: the mean of the top-k predicted candidates. For a batch of n, the top n*k are
    split into n clusters (k-means) and each cluster's mean is a proposal; n=1 is RegMix exactly."""
    pool = cands[order[: min(len(order), top_k * n)]]
    if n == 1:
        return [pool.mean(0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, labels = kmeans2(pool, n, seed=seed, minit="++")
    return [pool[labels == c].mean(0) for c in range(n) if np.any(labels == c)]


def _refine(ctx: ProposalContext, starts: list[np.ndarray]) -> list[np.ndarray]:
    """Local constrained minimisation (SLSQP on the simplex within bounds) from each start."""
    space, model = ctx.space, ctx.surrogate
    out = []
    for x0 in starts:
        res = minimize(lambda w: float(model.predict(w[None])[0]), x0, method="SLSQP",
                       bounds=list(zip(space.lo, space.hi)),
                       constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}], options={"maxiter": 200})
        out.append(res.x if np.isfinite(res.fun) else x0)
    return out


def _candidates(ctx: ProposalContext) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(ctx.seed)
    cands = sample(ctx.space, ctx.cfg.candidates, ctx.cfg.sampling, rng, rounded=False)
    return cands, np.argsort(ctx.surrogate.predict(cands), kind="stable")


def finish(ctx: ProposalContext, picks: list[np.ndarray], n: int,
           ranked: tuple[np.ndarray, np.ndarray] | None = None) -> Proposal:
    """Round and de-duplicate the picks, never repeat a past run, fill up with the best distinct
    candidates (ranked: candidates and their order by prediction), and order best first."""
    past = ctx.past
    out = fresh(feasible(np.array(picks), ctx.space), past) if picks else np.zeros((0, ctx.space.dim))
    if len(out) < n:
        cands, order = ranked or _candidates(ctx)
        extra = _argmin(cands, order, n - len(out), np.vstack([past, out]))
        if extra:
            out = fresh(feasible(np.vstack([out, *extra]), ctx.space), past)
    out = out[:n]
    pred = ctx.surrogate.predict(out)
    best_first = np.argsort(pred, kind="stable")
    return Proposal(out[best_first], [ctx.fidelities[-1].name] * len(out), pred[best_first])


@register("regmix")
def regmix(ctx: ProposalContext, n: int) -> Proposal:
    cands, order = _candidates(ctx)
    return finish(ctx, _regmix(cands, order, n, ctx.cfg.top_k, ctx.seed), n, (cands, order))


@register("argmin")
def argmin(ctx: ProposalContext, n: int) -> Proposal:
    cands, order = _candidates(ctx)
    return finish(ctx, _argmin(cands, order, n, ctx.past), n, (cands, order))


@register("optimize")
def optimize(ctx: ProposalContext, n: int) -> Proposal:
    """Constrained optimisation of the surrogate from the n best distinct candidates."""
    cands, order = _candidates(ctx)
    return finish(ctx, _refine(ctx, _argmin(cands, order, n, ctx.past)), n, (cands, order))
