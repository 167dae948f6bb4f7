"""Searching schedules: on a ground truth where the last phase should up-weight one domain, the
recommendation is a schedule that beats the best single static mixture by more than the seed noise;
every proposer stays on the product of simplices, within per-phase bounds and caps over the run."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.mixtures import Space, sample
from mixsearch.propose.base import FidelityLevel, ProposalContext
from mixsearch.propose.batch import propose
from mixsearch.propose.simplex import static_optimum
from mixsearch.recipe.search import Sampling, Search
from mixsearch.replay.synthetic import PhasedLaw
from mixsearch.search.recommendation import recommendation
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet

NOISE = 0.03


def test_the_search_finds_a_schedule_that_beats_the_best_static_mixture():
    law = PhasedLaw.random(4, seed=0)
    space = law.space()
    _, best = law.optimum(space)
    w_static, static = law.static_optimum(space)
    assert static - best > 3 * NOISE  # the ground truth rewards a schedule
    rng = np.random.default_rng(0)
    cfg = Search(candidates=5000, top_k=32)
    X = sample(space, 24, Sampling(), rng)
    y = law(X) + rng.normal(0, NOISE, len(X))
    for r in range(2):
        model = make_surrogate("mixing_law", 0).fit(TrainSet(X, y))
        ctx = ProposalContext(model, space, TrainSet(X, y), [FidelityLevel("target", 1.0)], cfg, r + 1, X)
        W = propose(ctx, 4, "optimize").W
        X, y = np.vstack([X, W]), np.concatenate([y, law(W) + rng.normal(0, NOISE, len(W))])
    model = make_surrogate("mixing_law", 0).fit(TrainSet(X, y))
    rec = recommendation(model, "mixing_law", NOISE, len(X), space, cfg, 0, NOISE, support=X)
    w = np.array([rec.mixture[n] for n in space.names])
    assert space.contains(w).all()
    assert law(w[None])[0] < static - NOISE
    phases = law.layout.split(w)[0]
    assert phases[1, law.late] > phases[0, law.late] + 0.3  # the last phase up-weights the late domain
    by_model = static_optimum(model, space, cfg, 0)
    assert np.allclose(by_model[:4], by_model[4:])  # a static mixture, in every phase
    assert law(by_model[None])[0] > law(w[None])[0] + NOISE


@pytest.mark.parametrize("method", ["regmix", "optimize", "bo", "tpe", "cmaes"])
def test_proposals_stay_within_phase_bounds_and_caps_over_the_run(method):
    law = PhasedLaw.random(3, seed=1)
    base = law.space()
    layout = law.layout
    lo = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.3])  # the last phase holds at least 0.3 of the late domain
    cap = np.array([np.inf, np.inf, 0.2])  # which is at most 0.2 of the run's tokens
    hi = np.minimum(1.0, np.concatenate([cap / s for s in layout.shares]))
    draft = Space(base.names, lo, hi, base.prior, None, layout, cap)
    space = Space(base.names, lo, hi, draft.project(base.prior)[0], None, layout, cap)
    rng = np.random.default_rng(0)
    X = sample(space, 12, Sampling(), rng)
    data = TrainSet(X, law(X))
    ctx = ProposalContext(make_surrogate("gp" if method == "bo" else "mixing_law", 0).fit(data), space, data,
                          [FidelityLevel("target", 1.0)], Search(candidates=2000, top_k=16), 3, X)
    W = propose(ctx, 3, method).W  # propose() asserts the batch lies in the space
    assert len(W) == 3 and space.contains(W, tol=1e-9).all()
    assert (layout.overall(W)[:, 2] <= 0.2 + 1e-4).all() and (W[:, 5] >= 0.3 - 1e-9).all()
