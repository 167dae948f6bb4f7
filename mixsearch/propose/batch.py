"""The batch a study asks for: the registered method's proposals, kept search.min_distance apart
and from open runs, refilled from the surrogate where that dropped some."""

from __future__ import annotations

import numpy as np

from mixsearch.mixtures import diverse
from mixsearch.propose.base import Proposal, ProposalContext, proposer
from mixsearch.propose.candidates import fill


def propose(ctx: ProposalContext, n: int, method: str) -> Proposal:
    """The method's batch, made diverse: no two proposals and no proposal and open run closer
    than search.min_distance (L1); proposals dropped for that are refilled from the surrogate."""
    prop = diversify(ctx, proposer(method)(ctx, n), n)
    assert ctx.space.contains(prop.W, tol=1e-9).all(), "proposer left the constrained simplex"
    return prop


def diversify(ctx: ProposalContext, prop: Proposal, n: int) -> Proposal:
    idx = diverse(prop.W, ctx.open_runs, ctx.cfg.min_distance)
    W, fid, pred = prop.W[idx], [prop.fidelity[i] for i in idx], np.asarray(prop.predicted, float)[idx]
    if len(W) < n and ctx.surrogate is not None:
        more = fill(ctx, W, n)[len(W):]
        if len(more):
            W = np.vstack([W, more])
            fid += [ctx.fidelities[-1].name] * len(more)
            pred = np.concatenate([pred, ctx.surrogate.predict(more)])
    return Proposal(W, fid, pred, prop.recommendation, prop.reason)
