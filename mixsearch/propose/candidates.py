"""Proposals from any fitted surrogate by scoring many sampled candidate mixtures."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
from scipy.cluster.vq import kmeans2

from mixsearch.mixtures import DECIMALS, diverse
from mixsearch.propose.base import Proposal, ProposalContext, feasible, fresh, register
from mixsearch.propose.simplex import ranked_candidates, refine, score

REGMIX_SHARE = 0.1  # of the budget, spent on RegMix's batch at the cheapest fidelity
ROUNDING_MARGIN = 2 * 10**-DECIMALS  # per domain: rounding may move a pick this much


def _argmin(cands: np.ndarray, order: np.ndarray, n: int, taken: np.ndarray, min_distance: float) -> list[np.ndarray]:
    """The best-ranked candidates at least min_distance (L1) from each other and from `taken`."""
    return list(cands[order[diverse(cands[order], taken, min_distance, n)]])


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


def rows_in(W: np.ndarray, existing: np.ndarray) -> np.ndarray:
    """Per row of W: whether it equals (at DECIMALS places) a row of `existing`; hashed, not pairwise."""
    def keys(A: np.ndarray) -> np.ndarray:
        A = np.ascontiguousarray(np.round(A, DECIMALS) + 0.0)
        return A.view(np.dtype((np.void, A.dtype.itemsize * A.shape[1]))).ravel()

    return np.isin(keys(W), keys(existing))


def avoided(ctx: ProposalContext, completed: bool) -> np.ndarray:
    """Mixtures a proposal keeps search.min_distance from: open runs, and (completed) the
    finished target-fidelity runs, whose neighbourhood a regression proposer would re-train
    (more seeds of a mixture are the replicates' job)."""
    if not completed or ctx.data is None:
        return ctx.open_runs
    return np.vstack([ctx.open_runs, ctx.data.target_only().X])


def fill(ctx: ProposalContext, out: np.ndarray, n: int,
         ranked: tuple[np.ndarray, np.ndarray] | None = None, completed: bool = False) -> np.ndarray:
    """`out`, then the best-scored candidates up to n rows, each at least search.min_distance
    from the others and from open runs (and completed ones), none a past run (ranked:
    candidates and their order)."""
    cands, order = ranked or ranked_candidates(ctx)
    if len(ctx.past):  # candidates that are past runs can never be picked: skip them up front
        order = order[~rows_in(cands[order], ctx.past)]
    margin = ROUNDING_MARGIN * ctx.space.dim if ctx.cfg.min_distance > 0 else 0.0
    for _ in range(3):  # rounding can push a borderline pick too close: drop it and pick again
        if len(out) >= n:
            break
        taken = np.vstack([avoided(ctx, completed), out])
        picked = order[diverse(cands[order], taken, ctx.cfg.min_distance + margin, n - len(out))]
        if not len(picked):
            break
        order = order[~np.isin(order, picked)]
        new = fresh(feasible(cands[picked], ctx.space), np.vstack([ctx.past, out]))
        out = np.vstack([out, new[diverse(new, taken, ctx.cfg.min_distance)]])
    return out[:n]


def finish(ctx: ProposalContext, picks: list[np.ndarray], n: int,
           ranked: tuple[np.ndarray, np.ndarray] | None = None, completed: bool = False) -> Proposal:
    """Round and de-duplicate the picks, never repeat a past run, keep them min_distance apart
    and from open runs (and completed ones), fill up with the best distinct candidates, and
    order best first."""
    out = fresh(feasible(np.array(picks), ctx.space), ctx.past) if picks else np.zeros((0, ctx.space.dim))
    out = out[diverse(out, avoided(ctx, completed), ctx.cfg.min_distance)]
    out = fill(ctx, out, n, ranked, completed)
    pred = ctx.surrogate.predict(out)
    best_first = np.argsort(pred, kind="stable")
    return Proposal(out[best_first], [ctx.fidelities[-1].name] * len(out), pred[best_first])


@register("regmix")
def regmix(ctx: ProposalContext, n: int) -> Proposal:
    """RegMix; with several fidelities and a budget, first its batch at the cheapest (a
    REGMIX_SHARE of the budget, at most MAX_CHEAP runs), whose results the surrogate regresses as
    if they were the target's."""
    from mixsearch.propose.evidence import MAX_CHEAP
    from mixsearch.propose.finite import at_target, design, open_at

    low = ctx.fidelities[0]
    if len(ctx.fidelities) > 1 and ctx.budget is not None and (ctx.candidates is None or len(ctx.candidates.at(0))):
        done = int(np.isclose(ctx.data.fidelities, low.value).sum())
        planned = min(MAX_CHEAP, int(REGMIX_SHARE * ctx.budget / low.value))
        if done < planned:
            W = design(replace(ctx, fidelities=[low]), min(n, planned - done), done)
            return Proposal(W, [low.name] * len(W), np.full(len(W), np.nan))
    if ctx.surrogate is None:  # nothing to regress yet: a space-filling design at the target
        return at_target(ctx, design(ctx, n, len(ctx.data.target_only())))
    if ctx.candidates is not None:
        _, X = open_at(ctx, len(ctx.fidelities) - 1)
        return at_target(ctx, X[np.argsort(score(ctx, X), kind="stable")[:n]])
    cands, order = ranked_candidates(ctx)
    return finish(ctx, _regmix(cands, order, n, ctx.cfg.top_k, ctx.seed), n, (cands, order), completed=True)


@register("argmin")
def argmin(ctx: ProposalContext, n: int) -> Proposal:
    cands, order = ranked_candidates(ctx)
    return finish(ctx, _argmin(cands, order, n, ctx.past, ctx.cfg.min_distance), n, (cands, order), completed=True)


@register("optimize")
def optimize(ctx: ProposalContext, n: int) -> Proposal:
    """Constrained optimisation of the surrogate from the n best distinct candidates."""
    cands, order = ranked_candidates(ctx)
    picks = refine(ctx, _argmin(cands, order, n, ctx.past, ctx.cfg.min_distance))
    return finish(ctx, picks, n, (cands, order), completed=True)
