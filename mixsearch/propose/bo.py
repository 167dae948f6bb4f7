"""Bayesian optimisation with BoTorch on the constrained simplex.

The study's fitted GP (gp for bo, mfgp for mfbo) is used when it is the chosen surrogate; otherwise
each fits its own.

- bo: a space-filling design (Sobol points on the simplex) for the first INITIAL target runs,
  then batch qLogNoisyExpectedImprovement of a GP on the target-fidelity runs, the simplex (each
  phase's) an equality constraint, the per-domain bounds box bounds and caps over phases inequalities.
- mfbo: cost-aware multi-fidelity GIBBON (qMultiFidelityLowerBoundMaxValueEntropy with an
  AffineFidelityCostModel and InverseCostWeightedUtility) over the recipe's discrete fidelities
  via optimize_acqf_mixed, or max-value entropy, or knowledge gradient (search.mf_acquisition);
  the recommendation is the posterior-mean optimum at the target. A cheap fidelity whose rank
  correlation with the target, measured on mixtures run at both, is poor is not proposed (all
  poor: plain bo at the target).

With a finite candidate set (ctx.candidates) both score its open candidates (LogEI; the
multi-fidelity acquisition at each open fidelity) instead of optimising over the simplex.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import torch

from mixsearch.mixtures import Space, sample
from mixsearch.recipe.search import Sampling
from mixsearch.propose.base import Proposal, ProposalContext, feasible, fresh, register
from mixsearch.propose.candidates import finish
from mixsearch.propose.fidelities import useful
from mixsearch.propose.finite import at_target, design, log_ei, open_at
from mixsearch.surrogate.gp import DTYPE, GPSurrogate, MultiFidelityGPSurrogate

RESTARTS = 4
RAW_SAMPLES = 128
FIXED_COST = 0.005  # per-run overhead, in target-run units
CANDIDATE_SET = 500
MAXITER = 25  # SLSQP iterations per restart: MF acquisition values are costly
KG_FANTASIES = 32
INITIAL = 5  # target runs of the space-filling design before a GP ranks mixtures


def _constraints(space: Space) -> dict[str, list[tuple[torch.Tensor, torch.Tensor, float]]]:
    """optimize_acqf's linear constraints: each phase's simplex, and caps over phases (as >=)."""
    eqs, ubs = space.linear_constraints()
    out = {"equality_constraints": [(torch.as_tensor(i, dtype=torch.long), torch.as_tensor(c, dtype=DTYPE), r)
                                    for i, c, r in eqs]}
    if ubs:
        out["inequality_constraints"] = [(torch.as_tensor(i, dtype=torch.long), -torch.as_tensor(c, dtype=DTYPE), -r)
                                         for i, c, r in ubs]
    return out


def _initial_conditions(space: Space, seed: int):
    """BoTorch's ic_generator, on our own sampler: feasible mixtures (no hit-and-run polytope
    sampling, which dominates the time on many domains), the best raw samples by acquisition value."""
    rng = np.random.default_rng(seed)

    def generate(acq_function, bounds, q, num_restarts, raw_samples, fixed_features=None, **_: object):
        d = space.dim
        W = sample(space, raw_samples * q, Sampling(), rng, method="uniform", rounded=False)
        X = torch.as_tensor(W, dtype=DTYPE).reshape(raw_samples, q, d)
        if bounds.shape[-1] > d:  # a fidelity column
            X = torch.cat([X, bounds[1, d:].expand(raw_samples, q, -1).clone()], dim=-1)
        for col, value in (fixed_features or {}).items():
            X[..., col] = value
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vals = torch.cat([acq_function(chunk) for chunk in X.split(64)])
        return X[vals.topk(min(num_restarts, raw_samples)).indices]

    return generate


def _box(space: Space, fid: tuple[float, float] | None = None) -> torch.Tensor:
    lo, hi = list(space.lo), list(space.hi)
    if fid:
        lo, hi = lo + [fid[0]], hi + [fid[1]]
    return torch.tensor([lo, hi], dtype=DTYPE)


@register("bo")
def bo(ctx: ProposalContext, n: int, reason: str = "") -> Proposal:
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.optim import optimize_acqf

    target = ctx.data.target_only()
    if len(target) < INITIAL:  # the design: space-filling, not the order a random search would take
        return at_target(ctx, design(ctx, n, len(target)), reason)
    gp = ctx.surrogate if type(ctx.surrogate) is GPSurrogate else GPSurrogate(ctx.seed).fit(ctx.data)
    if ctx.candidates is not None:
        _, X = open_at(ctx, len(ctx.fidelities) - 1)
        order = np.argsort(-log_ei(gp.predict(X), gp.predict_std(X), float(target.y.min())), kind="stable")
        return at_target(replace(ctx, surrogate=gp), X[order[:n]], reason)
    torch.manual_seed(ctx.seed)
    acq = qLogNoisyExpectedImprovement(gp.model, X_baseline=torch.as_tensor(target.X, dtype=DTYPE),
                                       prune_baseline=True, X_pending=_pending(ctx, fidelity=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cand, _ = optimize_acqf(acq, bounds=_box(ctx.space), q=n, num_restarts=RESTARTS, raw_samples=RAW_SAMPLES,
                                **_constraints(ctx.space),
                                ic_generator=_initial_conditions(ctx.space, ctx.seed))
    prop = finish(replace(ctx, surrogate=gp), list(cand.detach().numpy()), n)
    return replace(prop, reason=reason)


def posterior_optimum(model: MultiFidelityGPSurrogate, space: Space) -> np.ndarray:
    """The posterior-mean optimum at the target fidelity (fidelity column fixed to 1)."""
    from botorch.acquisition import PosteriorMean
    from botorch.acquisition.fixed_feature import FixedFeatureAcquisitionFunction
    from botorch.optim import optimize_acqf

    d = space.dim
    acq = FixedFeatureAcquisitionFunction(PosteriorMean(model.model), d=d + 1, columns=[d], values=[1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, _ = optimize_acqf(acq, bounds=_box(space), q=1, num_restarts=RESTARTS, raw_samples=RAW_SAMPLES,
                             **_constraints(space), ic_generator=_initial_conditions(space, 0))
    return feasible(x.detach().numpy(), space)[0]


@register("mfbo")
def mfbo(ctx: ProposalContext, n: int) -> Proposal:
    from botorch.acquisition.cost_aware import InverseCostWeightedUtility
    from botorch.models.cost import AffineFidelityCostModel
    from botorch.optim import optimize_acqf_mixed

    mf = ctx.surrogate if isinstance(ctx.surrogate, MultiFidelityGPSurrogate) else MultiFidelityGPSurrogate(ctx.seed)
    if len(ctx.fidelities) < 2 or len(ctx.data.target_only()) < INITIAL:
        return bo(ctx, n)  # one fidelity, or the target's design first
    if not mf.applicable(ctx.data):  # no run at a cheap fidelity yet: the cheapest's design
        low = ctx.fidelities[0]
        W = design(replace(ctx, fidelities=[low]), n, int(np.isclose(ctx.data.fidelities, low.value).sum()))
        return Proposal(W, [low.name] * len(W), np.full(len(W), np.nan),
                        reason="a first run at the cheapest fidelity, for the multi-fidelity model")
    values = useful(ctx.data, [f.value for f in ctx.fidelities])
    if len(values) < 2:  # the cheap fidelities rank the target poorly (measured): BO at the target
        return bo(ctx if type(ctx.surrogate) is GPSurrogate else replace(ctx, surrogate=None), n,
                  "every cheap fidelity ranks the target poorly on the mixtures run at both: target runs only")
    if mf is not ctx.surrogate:
        mf.fit(ctx.data)
    torch.manual_seed(ctx.seed)
    d = ctx.space.dim
    utility = InverseCostWeightedUtility(
        cost_model=AffineFidelityCostModel(fidelity_weights={d: 1.0}, fixed_cost=FIXED_COST))
    rng = np.random.default_rng(ctx.seed)
    cset = (open_at(ctx, len(ctx.fidelities) - 1)[1] if ctx.candidates is not None
            else sample(ctx.space, CANDIDATE_SET, ctx.cfg.sampling, rng, method="uniform", rounded=False))
    cset = torch.as_tensor(np.hstack([cset, np.ones((len(cset), 1))]), dtype=DTYPE)
    acq = _mf_acquisition(ctx.cfg.mf_acquisition, mf, cset, utility, d, ctx.space)
    acq.set_X_pending(_pending(ctx, fidelity=True))
    if ctx.candidates is not None:
        return _mf_on_candidates(ctx, mf, acq, values, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cand, _ = optimize_acqf_mixed(acq, bounds=_box(ctx.space, (min(values), 1.0)), q=n,
                                      num_restarts=RESTARTS, raw_samples=RAW_SAMPLES,
                                      fixed_features_list=[{d: v} for v in values],
                                      **_constraints(ctx.space), return_acq_values=False,
                                      options={"maxiter": MAXITER},
                                      ic_generator=None if ctx.cfg.mf_acquisition == "kg"
                                      else _initial_conditions(ctx.space, ctx.seed))
    cand = cand.detach().numpy()
    W = feasible(cand[:, :d], ctx.space)[: len(cand)]
    fids = np.array([min(values, key=lambda v: abs(v - f)) for f in cand[: len(W), d]])
    pairs = fresh(np.hstack([W, fids[:, None]]), _past_pairs(ctx))
    W, fids = pairs[:, :d], pairs[:, d]
    names = {f.value: f.name for f in ctx.fidelities}
    if len(W) < n:  # fill at the target from the posterior mean
        more = finish(replace(ctx, surrogate=mf), [], n - len(W))
        W = np.vstack([W, more.W])
        fids = np.concatenate([fids, np.ones(len(more.W))])
    return Proposal(W, [names[min(values, key=lambda v: abs(v - f))] for f in fids], mf.predict(W),
                    recommendation=posterior_optimum(mf, ctx.space))


def _mf_on_candidates(ctx: ProposalContext, mf: MultiFidelityGPSurrogate, acq, values: list[float],
                      n: int) -> Proposal:
    """The n open (candidate, fidelity) cells of highest acquisition value, at the fidelities in
    use; the recommendation is the candidate of best posterior mean at the target."""
    scored = []  # (value, candidate index, fidelity position)
    for j, level in enumerate(ctx.fidelities):
        if not any(np.isclose(level.value, v) for v in values):
            continue
        idx, X = open_at(ctx, j)
        if not len(idx):
            continue
        Z = torch.as_tensor(np.hstack([X, np.full((len(X), 1), level.value)]), dtype=DTYPE)[:, None, :]
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vals = torch.cat([acq(chunk) for chunk in Z.split(256)]).numpy()
        scored += [(float(v), int(i), j) for v, i in zip(vals, idx)]
    top = sorted(scored, key=lambda t: -t[0])[:n]
    W = ctx.candidates.X[[i for _, i, _ in top]].reshape(len(top), ctx.space.dim)
    _, X = open_at(ctx, len(ctx.fidelities) - 1)
    best = X[np.argmin(mf.predict(X))] if len(X) else None
    return Proposal(W, [ctx.fidelities[j].name for _, _, j in top], mf.predict(W), recommendation=best)


def _mf_acquisition(kind: str, mf: MultiFidelityGPSurrogate, cset: torch.Tensor, utility, d: int, space: Space):
    """GIBBON (default), max-value entropy, or knowledge gradient; all cost-aware, all projecting
    to the target fidelity."""
    from botorch.acquisition.knowledge_gradient import qMultiFidelityKnowledgeGradient
    from botorch.acquisition.max_value_entropy_search import (
        qMultiFidelityLowerBoundMaxValueEntropy,
        qMultiFidelityMaxValueEntropy,
    )
    from botorch.acquisition.utils import project_to_target_fidelity

    def project(X: torch.Tensor) -> torch.Tensor:
        return project_to_target_fidelity(X=X, target_fidelities={d: 1.0}, d=d + 1)

    if kind == "kg":
        best = -float(mf.predict(posterior_optimum(mf, space)[None])[0])  # the model is of the negated objective
        return qMultiFidelityKnowledgeGradient(mf.model, num_fantasies=KG_FANTASIES, current_value=torch.tensor(best),
                                               cost_aware_utility=utility, project=project)
    cls = qMultiFidelityMaxValueEntropy if kind == "mes" else qMultiFidelityLowerBoundMaxValueEntropy
    return cls(mf.model, candidate_set=cset, cost_aware_utility=utility, project=project)


def _pending(ctx: ProposalContext, fidelity: bool) -> torch.Tensor | None:
    """Open runs, which the acquisition fantasizes as already chosen (with their fidelity column)."""
    if not len(ctx.open_runs):
        return None
    X = ctx.open_runs
    if fidelity:
        f = np.ones(len(X)) if ctx.pending_fid is None else ctx.pending_fid
        X = np.hstack([X, f[:, None]])
    return torch.as_tensor(X, dtype=DTYPE)


def _past_pairs(ctx: ProposalContext) -> np.ndarray:
    """Past (mixture, fidelity) pairs: a mixture run cheaply may still be proposed at the target."""
    if ctx.existing_fid is None:
        return np.hstack([ctx.past, np.ones((len(ctx.past), 1))])
    return np.hstack([ctx.past, ctx.existing_fid[:, None]])
