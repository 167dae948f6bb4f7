"""Optuna samplers through ask/tell on the simplex: TPE, CMA-ES, QMC for one objective; MOTPE
(multi-objective TPE) and NSGA-II for several (a Pareto search).

Optuna has no simplex constraint, so each domain (of each phase) gets u_j in (0, 1] and the mixture is the
normalised exponential x_j = -log(u_j), x / sum(x) (a flat Dirichlet for uniform u), mapped into
the lower bounds and projected under the upper ones. Past runs are told as trials through the
inverse map (u_j = exp(-x_j)).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mixsearch.mixtures import Space
from mixsearch.propose.base import Proposal, ProposalContext, feasible, fresh, register

U_MIN = 1e-6


def to_mixture(u: np.ndarray, space: Space) -> np.ndarray:
    """Each phase's block of u mapped onto its simplex (within bounds and caps)."""
    w = np.atleast_2d(-np.log(np.clip(u, U_MIN, 1.0))).copy()
    for b in space.blocks:
        x = w[:, b]
        x = x / x.sum(-1, keepdims=True) if np.all(x.sum(-1) > 0) else np.full_like(x, 1 / x.shape[-1])
        w[:, b] = space.lo[b] + (1 - space.lo[b].sum()) * x
    return space.project(w)


def to_unit(w: np.ndarray, space: Space) -> np.ndarray:
    x = np.zeros_like(w, dtype=float)
    for b in space.blocks:
        free = max(1 - space.lo[b].sum(), 1e-12)
        x[..., b] = np.clip((w[..., b] - space.lo[b]) / free, 0, None)
    return np.clip(np.exp(-x), U_MIN, 1.0)


def _sampler(kind: str, seed: int):
    import optuna

    if kind in ("tpe", "motpe"):
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True, n_startup_trials=4, multivariate=True)
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if kind == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)


def ask(kind: str, ctx: ProposalContext, n: int) -> np.ndarray:
    """n mixtures asked of an Optuna study told every target-fidelity run so far."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    d = ctx.space.dim
    dists = {f"u{j}": optuna.distributions.FloatDistribution(U_MIN, 1.0) for j in range(d)}
    if ctx.objectives is not None:  # several objectives: a Pareto search
        X, Y = ctx.objectives
        keep = np.isfinite(Y).all(1)
        X, Y = X[keep], Y[keep]
    else:
        target = ctx.data.target_only()
        X, Y = target.X, target.y[:, None]
    study = optuna.create_study(directions=["minimize"] * Y.shape[1], sampler=_sampler(kind, ctx.seed))
    for w, y in zip(X, Y):
        u = to_unit(w, ctx.space)
        study.add_trial(optuna.trial.create_trial(params={f"u{j}": float(u[j]) for j in range(d)},
                                                  distributions=dists, values=[float(v) for v in y]))
    out = []
    for _ in range(n):
        trial = study.ask(dists)
        out.append(to_mixture(np.array([trial.params[f"u{j}"] for j in range(d)]), ctx.space)[0])
    return np.array(out)


def _optuna(kind: str):
    def propose(ctx: ProposalContext, n: int) -> Proposal:
        W = fresh(feasible(ask(kind, ctx, n), ctx.space), ctx.past)
        for attempt in range(5):  # ask again for duplicates of past runs
            if len(W) >= n:
                break
            more = ask(kind, replace(ctx, seed=ctx.seed + 1000 * (attempt + 1)), n)
            W = fresh(feasible(np.vstack([W, more]), ctx.space), ctx.past)
        W = W[:n]
        pred = ctx.surrogate.predict(W) if ctx.surrogate is not None else np.full(len(W), np.nan)
        return Proposal(W, [ctx.fidelities[-1].name] * len(W), pred)

    return propose


for _kind in ("tpe", "cmaes", "qmc", "motpe", "nsga2"):
    register(_kind)(_optuna(_kind))
