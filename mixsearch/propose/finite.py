"""Proposing from a finite candidate set (ctx.candidates; replay's pool): acquisition values are
computed on the open candidates themselves instead of optimised over the simplex."""

from __future__ import annotations

import numpy as np

from mixsearch.propose.base import Proposal, ProposalContext
from mixsearch.propose.design import nearest_distinct, sobol_points


def log_ei(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """log expected improvement below `best` (minimisation), stable far in the tails."""
    from scipy.special import log_ndtr

    z = (best - mean) / np.maximum(std, 1e-12)
    pdf = np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
    return np.log(np.maximum(std, 1e-12)) + np.log(np.maximum(z * np.exp(log_ndtr(z)) + pdf, 1e-300))


def open_at(ctx: ProposalContext, j: int) -> tuple[np.ndarray, np.ndarray]:
    """The candidates that may be proposed at fidelity index j: (indices, mixtures)."""
    assert ctx.candidates is not None
    idx = ctx.candidates.at(j)
    return idx, ctx.candidates.X[idx]


def design(ctx: ProposalContext, n: int, done: int) -> np.ndarray:
    """The next n target runs of the space-filling design after `done` of them: Sobol points,
    each the nearest open candidate when there is a candidate set."""
    points = sobol_points(ctx.space, done, n, ctx.seed)
    if ctx.candidates is None:
        return points
    _, X = open_at(ctx, len(ctx.fidelities) - 1)
    return X[nearest_distinct(X, points)]


def predicted(ctx: ProposalContext, W: np.ndarray) -> np.ndarray:
    return ctx.surrogate.predict(W) if ctx.surrogate is not None and len(W) else np.full(len(W), np.nan)


def at_target(ctx: ProposalContext, W: np.ndarray, reason: str = "") -> Proposal:
    return Proposal(W, [ctx.fidelities[-1].name] * len(W), predicted(ctx, W), reason=reason)
