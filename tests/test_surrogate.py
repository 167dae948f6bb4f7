"""Surrogates and proposals on runs whose losses a known mixing law generated."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.mixtures import Space, sample
from mixsearch.propose import propose
from mixsearch.recipe import Sampling, Search
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.cv import cross_validate, select
from mixsearch.synthetic import MixingLaw

D = 5


@pytest.fixture(scope="module")
def world():
    space = Space(tuple(f"d{i}" for i in range(D)), np.zeros(D), np.full(D, 0.6), np.full(D, 1 / D))
    law = MixingLaw.random(D, seed=3)
    X = sample(space, 256, Sampling(method="uniform"), np.random.default_rng(0))
    y = law(X, noise=0.002, seed=1)
    return space, law, X, y


def test_law_optimum_is_interior_and_feasible(world):
    space, law, X, _ = world
    w, best = law.optimum(space)
    assert space.contains(w[None]).all()
    assert best <= law(X).min() + 1e-9
    assert 0.05 < w.max() < 0.6 - 1e-3  # interior: several domains matter


def test_lightgbm_ranks_held_out_runs(world):
    _, _, X, y = world
    score = cross_validate("lightgbm", X, y, folds=5, seed=0)
    assert score.spearman > 0.8 and score.folds == 5 and score.mae < 0.1


def test_auto_selection_prefers_the_better_family(world):
    _, _, X, y = world
    best, scores = select(["linear", "lightgbm"], X, y, folds=4, seed=0)
    assert {s.name for s in scores} == {"linear", "lightgbm"}
    chosen = max(scores, key=lambda s: s.spearman)
    assert best == chosen.name
    linear_y = X @ np.arange(1.0, D + 1)  # data a linear law generated: linear must win
    best_lin, scores_lin = select(["linear", "lightgbm"], X, linear_y, folds=4, seed=0)
    assert best_lin == "linear" and next(s for s in scores_lin if s.name == "linear").spearman > 0.99


@pytest.mark.parametrize("method", ["regmix", "argmin"])
def test_proposals_recover_the_optimum_neighbourhood(world, method):
    space, law, X, y = world
    w_star, best = law.optimum(space)
    surrogate = make_surrogate("lightgbm", 0).fit(X, y)
    cfg = Search(candidates=20_000, top_k=32)
    W, pred = propose(surrogate, space, 4, cfg, seed=0, existing=X, method=method)
    assert len(W) == 4 and space.contains(W, tol=1e-9).all()
    assert np.all(np.diff(pred) >= 0)  # best first
    true = law(W)
    spread = law(X).max() - best
    assert true.min() - best < 0.15 * spread  # far better than a typical random run
    assert true.min() < np.median(law(X))
    assert np.abs(W[np.argmin(true)] - w_star).sum() < 0.8
    assert not (np.round(W, 4)[:, None, :] == np.round(X, 4)[None]).all(-1).any()  # never a past run


def test_linear_surrogate_is_exact_on_linear_data():
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(4), size=50)
    y = X @ np.array([1.0, 2.0, 3.0, 4.0]) + 0.5
    pred = make_surrogate("linear").fit(X, y).predict(X)
    assert np.allclose(pred, y, atol=1e-3)


def test_unknown_surrogate_name():
    with pytest.raises(KeyError, match="unknown surrogate 'gp'"):
        make_surrogate("gp")
