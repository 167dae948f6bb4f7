"""mfar: autoregressive multi-fidelity BO, in the manner of NARGP (Perdikaris et al. 2017), with
the cheap fidelities extrapolated to the target.

A GP of the runs at the cheapest fidelity predicts every candidate mixture. Where a second cheap
fidelity exists (the costliest below the target), the change between the two at the same mixture
is a second GP, and the cheap prediction is extrapolated along it to the target, linearly in log
cost (as a scaling law extrapolates loss): a distortion that the cheap fidelities share and that
shrinks as the fidelity grows cancels out. The target model is a GP whose inputs are the mixture
*and* that prediction, so it learns from the target runs themselves how far to trust it (a useless
one ends up ignored, with no threshold and no paired runs needed before that can happen).

Whether cheap runs are bought at all is decided each time from the study's evidence
(propose/evidence.py): their cost against the cheap side's rank agreement with the target (assumed
until MIN_PAIRS target runs measure it). The batch: cheap runs at the cheapest fidelity (Sobol
points) until the plan's number, sized by the budget and the cost ratio; then, where MID_FIRST
runs at the second cheap fidelity cost at most MID_SHARE of a target run, runs at it on mixtures
already run cheaply until MID_FIRST have both (MID_SPREAD spread over the simplex, then by
expected improvement of the extrapolated model); then target runs by expected improvement of the
target model (by the cheap model's mean plus one sd while fewer than TARGET_FIRST target runs
exist: an extrapolation is least sure far from the paired mixtures). When no cheap run pays and
none exists, or the measured agreement is below MIN_AGREEMENT, it is `bo` at the target;
Proposal.reason says which and why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mixsearch.mixtures import DECIMALS, sample
from mixsearch.propose import Proposal, ProposalContext, register
from mixsearch.propose.candidates import fill, rows_in
from mixsearch.propose.design import nearest_distinct, sobol_points
from mixsearch.propose.evidence import MAX_CHEAP, plan
from mixsearch.propose.fidelities import paired
from mixsearch.propose.finite import log_ei, open_at, predicted
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.gp import GPSurrogate

MIN_CHEAP = 4  # runs at the cheapest fidelity before a cheap model is fitted
MIN_AGREEMENT = 0.2  # measured agreement (lower bound) below which the cheap model stops guiding target runs
MID_SPREAD = 4  # then second-cheapest runs on cheaply run mixtures spread apart ...
MID_FIRST = 8  # ... and by the extrapolated model's expected improvement, up to this many pairs
MID_SHARE = 1.0  # ... only while cheap runs pay, and where MID_FIRST of them cost at most this (target runs)
TARGET_FIRST = 2  # target runs picked by the cheap model alone (mean + 1 sd), before the target GP


def unit(v: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """v scaled by the range of ref to about [0, 1] (a GP input on the mixtures' scale)."""
    return (v - ref.min()) / (np.ptp(ref) + 1e-12)


def steps_to_target(low: float, mid: float) -> float:
    """k in y_target ~ y_low + k (y_mid - y_low): the target's distance from `low` in units of the
    log-cost step from `low` to `mid` (2 for fidelities 0.01 / 0.1 / 1)."""
    return float(np.log(1.0 / low) / np.log(mid / low))


@dataclass
class CheapModel:
    """The cheapest fidelity's GP, plus k times a GP of (mid - low) at paired mixtures, if any."""

    low: GPSurrogate
    gap: GPSurrogate | None = None
    k: float = 0.0

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.low.predict(X) + (self.k * self.gap.predict(X) if self.gap else 0.0)

    def predict_std(self, X: np.ndarray) -> np.ndarray:
        sd = self.low.predict_std(X)
        return np.hypot(sd, self.k * self.gap.predict_std(X)) if self.gap else sd

    def hyperparameters(self) -> tuple[dict, dict | None]:
        return self.low.hyperparameters(), self.gap.hyperparameters() if self.gap else None


def cheap_model(low: TrainSet, pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None, k: float, seed: int,
                warm: tuple[dict | None, dict | None] = (None, None)) -> CheapModel:
    """Fit the cheap model on the runs at the cheapest fidelity and the (mixture, y_low, y_mid)
    pairs (at least two to model the gap; GPs warm-started from `warm`)."""
    model = CheapModel(GPSurrogate(seed, warm_start=warm[0]).fit(low))
    if pairs is not None and len(pairs[0]) >= 2:
        X, y_low, y_mid = pairs
        model.gap, model.k = GPSurrogate(seed + 1, warm_start=warm[1]).fit(TrainSet(X, y_mid - y_low)), k
    return model


def best_paired(pairs: tuple[np.ndarray, np.ndarray, np.ndarray], k: float) -> float:
    """The best extrapolated value observed at a paired mixture (the EI baseline of mid runs)."""
    _, y_low, y_mid = pairs
    return float(np.min(y_low + k * (y_mid - y_low)))


def farthest(cands: np.ndarray, taken: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of m candidates picked one by one farthest from `taken` and the picks so far
    (the first at random when nothing is taken)."""
    picks: list[int] = []
    ref = np.asarray(taken, float).reshape(-1, cands.shape[1])
    while len(picks) < min(m, len(cands)):
        if len(ref):
            dist = ((cands[:, None] - ref[None]) ** 2).sum(-1).min(1)
            dist[picks] = -1.0
            i = int(np.argmax(dist))
        else:
            i = int(rng.integers(len(cands)))
        picks.append(i)
        ref = np.vstack([ref, cands[i]])
    return np.array(picks, dtype=int)


@register("mfar")
def mfar(ctx: ProposalContext, n: int) -> Proposal:
    from mixsearch.propose.bo import bo

    if len(ctx.fidelities) < 2:
        return bo(ctx, n)
    fid = ctx.data.fidelities
    low, mid, target = ctx.fidelities[0], ctx.fidelities[-2], ctx.fidelities[-1]
    is_low, is_target = np.isclose(fid, low.value), np.isclose(fid, 1.0)
    rng = np.random.default_rng(ctx.seed)
    pairs = paired(ctx.data, low.value, mid.value) if mid is not low else None
    k = steps_to_target(low.value, mid.value) if pairs is not None else 0.0
    cheap = (cheap_model(TrainSet(ctx.data.X[is_low], ctx.data.y[is_low]), pairs, k, ctx.seed)
             if is_low.sum() >= MIN_CHEAP else None)
    measured = agreement(cheap, ctx.data.target_only()) if cheap is not None else None
    available = len(open_at(ctx, 0)[0]) + int(is_low.sum()) if ctx.candidates is not None else MAX_CHEAP
    low_plan = plan(low.name, low.value, ctx.budget, measured, available)
    if is_low.sum() < low_plan.runs:  # the cheap batch
        done = int(is_low.sum())
        return _proposal(ctx, _cheap_batch(ctx, min(n, low_plan.runs - done), done, rng), low.name, low_plan.reason)
    if cheap is None or (low_plan.measured and low_plan.rho < MIN_AGREEMENT):
        return bo(replace(ctx, surrogate=ctx.surrogate if type(ctx.surrogate) is GPSurrogate else None), n,
                  low_plan.reason)
    reason = low_plan.reason if low_plan.pays else low_plan.reason.replace(
        "target runs only", "no more runs there; the ones so far guide the target runs")
    if pairs is not None and low_plan.pays and MID_FIRST * mid.value <= MID_SHARE:
        W = _mid_runs(ctx, cheap, pairs, k, n, rng)
        if len(W):
            return _proposal(ctx, W, mid.name, reason)
    if ctx.candidates is not None:
        cands = open_at(ctx, len(ctx.fidelities) - 1)[1]
    else:
        cands = sample(ctx.space, ctx.cfg.candidates, ctx.cfg.sampling, rng, rounded=False)
    mu = cheap.predict(cands)
    if is_target.sum() < TARGET_FIRST:  # cautious: where the cheap side is good and sure (mean + 1 sd)
        order = np.argsort(mu + cheap.predict_std(cands), kind="stable")
    else:
        X, y = ctx.data.X[is_target], ctx.data.y[is_target]
        gp = GPSurrogate(ctx.seed).fit(TrainSet(np.hstack([X, unit(cheap.predict(X), mu)[:, None]]), y))
        Z = np.hstack([cands, unit(mu, mu)[:, None]])
        order = np.argsort(-log_ei(gp.predict(Z), gp.predict_std(Z), float(y.min())), kind="stable")
    if ctx.candidates is not None:
        return _proposal(ctx, cands[order[:n]], target.name, reason)
    W = fill(ctx, np.zeros((0, ctx.space.dim)), n, (cands, order), completed=True)
    return _proposal(ctx, W, target.name, reason)


def agreement(cheap: CheapModel, target: TrainSet) -> tuple[float, int] | None:
    """Spearman between the cheap model's prediction at the target runs and their results, and
    how many target runs there are (None: fewer than two)."""
    from mixsearch.surrogate.cv import spearman

    if len(target) < 2:
        return None
    return spearman(cheap.predict(target.X), target.y), len(target)


def _cheap_batch(ctx: ProposalContext, n: int, done: int, rng: np.random.Generator) -> np.ndarray:
    """The next n cheap runs: Sobol points on the simplex (the nearest open candidates, with a
    candidate set), none a past run."""
    if ctx.candidates is not None:
        _, X = open_at(ctx, 0)
        return X[nearest_distinct(X, sobol_points(ctx.space, done, n, ctx.seed))]
    return fill(ctx, np.zeros((0, ctx.space.dim)), n, _ranked(sample(ctx.space, max(4 * n, 256), ctx.cfg.sampling,
                                                                     rng, rounded=False)))


def _mid_runs(ctx: ProposalContext, cheap: CheapModel, pairs: tuple[np.ndarray, np.ndarray, np.ndarray], k: float,
              n: int, rng: np.random.Generator) -> np.ndarray:
    """Second-cheapest runs on mixtures run at the cheapest but not yet at it (nor open there),
    while fewer than MID_FIRST mixtures have both: spread apart first, then by expected
    improvement of the extrapolated model (nothing once MID_FIRST pairs exist)."""
    low, mid = ctx.fidelities[0].value, ctx.fidelities[-2].value
    fid = ctx.data.fidelities
    at_mid = np.vstack([ctx.data.X[np.isclose(fid, mid)], _open_at(ctx, mid)])
    started = len(np.unique(np.round(at_mid, DECIMALS), axis=0)) if len(at_mid) else 0
    if started >= MID_FIRST:
        return np.zeros((0, ctx.space.dim))
    X = ctx.data.X[np.isclose(fid, low)]
    cands = X[np.sort(np.unique(np.round(X, DECIMALS), axis=0, return_index=True)[1])]
    cands = cands[~rows_in(cands, at_mid)]
    if ctx.candidates is not None:
        cands = cands[rows_in(cands, open_at(ctx, len(ctx.fidelities) - 2)[1])]
    m = min(n, MID_FIRST - started)
    if started < MID_SPREAD or len(pairs[0]) < 2:  # no model of the gap yet: spread, up to MID_SPREAD
        return cands[farthest(cands, at_mid, min(m, max(MID_SPREAD - started, 1)), rng)]
    return cands[np.argsort(-log_ei(cheap.predict(cands), cheap.predict_std(cands), best_paired(pairs, k)),
                            kind="stable")[:m]]


def _open_at(ctx: ProposalContext, value: float) -> np.ndarray:
    if ctx.pending_fid is None:
        return np.zeros((0, ctx.space.dim))
    return ctx.open_runs[np.isclose(ctx.pending_fid, value)]


def _proposal(ctx: ProposalContext, W: np.ndarray, fidelity: str, reason: str) -> Proposal:
    return Proposal(W, [fidelity] * len(W), predicted(ctx, W), reason=reason)


def _ranked(cands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidates in their (random) order: the cheap batch has nothing to rank them by yet."""
    return cands, np.arange(len(cands))
