"""Surrogates on runs whose losses a known law generated, and the proposals made with them."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.propose.batch import propose
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.cv import cross_validate, select
from mixsearch.surrogate.laws import bimix
from mixsearch.replay.synthetic import MixingLaw
from tests.lawworld import D, context, law_world

@pytest.fixture(scope="module")
def world():
    return law_world()


def test_law_optimum_is_interior_and_feasible(world):
    space, law, data = world
    w, best = law.optimum(space)
    assert space.contains(w[None]).all()
    assert best <= law(data.X).min() + 1e-9
    assert 0.05 < w.max() < 0.6 - 1e-3  # interior: several domains matter


def test_cross_validation_ranks_held_out_runs(world):
    _, _, data = world
    score = cross_validate("lightgbm", data, folds=5, seed=0)
    assert score.spearman > 0.8 and score.folds == 5 and score.mae < 0.1


def test_a_large_study_fits_only_the_folds_that_hold_out_enough_runs(monkeypatch):
    """Past cv.HELD_OUT held-out runs more folds add little to the Spearman: the first folds that
    reach it are fitted, and only their runs are predicted; a small study fits every fold."""
    from mixsearch.surrogate import cv

    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(3), 100)
    data = TrainSet(X, X @ np.array([1.0, 2.0, 3.0]))
    fits = []
    real = cv.make_surrogate
    monkeypatch.setattr(cv, "make_surrogate", lambda name, seed: fits.append(name) or real(name, seed))
    every = cv.cross_validate("linear", data, folds=5, seed=0)
    assert len(fits) == 5 and every.runs == 100
    monkeypatch.setattr(cv, "HELD_OUT", 30)
    fits.clear()
    few = cv.cross_validate("linear", data, folds=5, seed=0)
    first_two = np.sort(np.concatenate(np.array_split(np.random.default_rng(0).permutation(100), 5)[:2]))
    assert len(fits) == 2 and few.runs == 40 and few.folds == 5
    assert np.array_equal(few.actual, data.y[first_two])
    held = np.isin(np.arange(100), first_two)
    assert np.allclose(few.predicted, every.predicted[held])  # the same folds predict the same runs


@pytest.mark.parametrize("name", ["lightgbm", "mixing_law", "gp"])
@pytest.mark.parametrize("method", ["regmix", "argmin", "optimize"])
def test_surrogates_recover_the_optimum(world, name, method):
    space, law, data = world
    w_star, best = law.optimum(space)
    surrogate = make_surrogate(name, 0).fit(data)
    prop = propose(context(space, data, surrogate, existing=data.X), 4, method)
    assert len(prop.W) == 4 and space.contains(prop.W, tol=1e-9).all()
    assert np.all(np.diff(prop.predicted) >= 0) and prop.fidelity == ["target"] * 4
    true = law(prop.W)
    spread = law(data.X).max() - best
    tolerance = 0.15 if name == "lightgbm" else 0.03  # trees are piecewise constant
    assert true.min() - best < tolerance * spread
    if name != "lightgbm":
        assert np.abs(prop.W[np.argmin(true)] - w_star).sum() < 0.5
    assert not (np.round(prop.W, 4)[:, None, :] == np.round(data.X, 4)[None]).all(-1).any()  # never a past run


def test_mixing_law_fit_recovers_parameters(world):
    _, law, data = world
    model = make_surrogate("mixing_law").fit(data)
    assert len(model.thetas) == D  # one law per target domain
    grid = np.random.default_rng(5).dirichlet(np.ones(D), 500)
    assert np.abs(model.predict(grid) - law(grid)).max() < 0.02


def test_linear_and_loglinear_families():
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(4), size=60)
    coef = np.array([1.0, 2.0, 3.0, 4.0])
    lin = TrainSet(X, X @ coef + 0.5)
    assert np.allclose(make_surrogate("linear").fit(lin).predict(X), lin.y, atol=1e-6)
    exp = TrainSet(X, np.exp(X @ (coef / 4)))
    assert np.allclose(make_surrogate("loglinear").fit(exp).predict(X), exp.y, rtol=1e-6)


def test_bimix_fits_proportion_and_quantity():
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(3), size=150)
    fid = rng.choice([0.1, 0.3, 1.0], size=150)
    theta = np.array([2.0, np.log(0.2), np.log(0.3), np.log(0.1), np.log(0.4), np.log(0.25)])
    y = bimix(theta, X, fid)[0] + rng.normal(0, 0.002, 150)
    data = TrainSet(X, y, fid)
    model = make_surrogate("bimix").fit(data)
    test = rng.dirichlet(np.ones(3), size=100)
    truth = bimix(theta, test, np.ones(100))[0]
    assert np.abs(model.predict(test) - truth).max() < 0.03  # extrapolates to the target quantity


@pytest.mark.parametrize(
    ("family", "make"),
    [
        ("linear", lambda X, rng: TrainSet(X, X @ np.arange(1.0, 6.0) + rng.normal(0, 0.01, len(X)))),
        ("mixing_law", lambda X, rng: (lambda P: TrainSet(X, P.mean(1), parts=P, part_weights=np.full(D, 1 / D)))(
            MixingLaw.random(D, 11).losses(X) + rng.normal(0, 0.003, (len(X), D)))),
    ],
)
def test_auto_selection_picks_the_generating_family(family, make):
    rng = np.random.default_rng(2)
    X = rng.dirichlet(np.ones(D), size=120)
    best, scores = select(["linear", "mixing_law", "lightgbm"], make(X, rng), folds=4, seed=0)
    assert best == family, [(s.name, round(s.spearman, 4), round(s.mae, 4)) for s in scores]


def test_inapplicable_families_are_skipped():
    X = np.random.default_rng(0).dirichlet(np.ones(D), size=6)
    best, scores = select(["linear", "mixing_law", "mfgp"], TrainSet(X, X[:, 0]), folds=3, seed=0)
    assert [s.name for s in scores] == ["linear"]  # mixing_law needs d+3 runs, mfgp two fidelities


def test_unknown_surrogate():
    with pytest.raises(KeyError, match="unknown surrogate 'gpx'"):
        make_surrogate("gpx")


@pytest.mark.parametrize("name", ["mixing_law", "bimix"])
def test_law_gradients_match_finite_differences(name):
    from mixsearch.surrogate import laws

    law = getattr(laws, name)
    rng = np.random.default_rng(0)
    X, D_ = rng.dirichlet(np.ones(4), size=7), rng.choice([0.1, 1.0], size=7)
    theta = rng.normal(0, 0.5, 4 + 2 if name == "mixing_law" else 4 + 3)
    _, jac = law(theta, X, D_)
    for k in range(len(theta)):
        step = np.zeros_like(theta)
        step[k] = 1e-6
        numeric = (law(theta + step, X, D_)[0] - law(theta - step, X, D_)[0]) / 2e-6
        assert np.allclose(jac[:, k], numeric, rtol=1e-5, atol=1e-7)


