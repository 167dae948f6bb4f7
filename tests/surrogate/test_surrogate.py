"""Surrogates and proposers on runs whose losses a known law generated."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.mixtures import Space, sample
from mixsearch.propose.base import FidelityLevel, ProposalContext
from mixsearch.propose.batch import propose
from mixsearch.recipe.search import Sampling, Search
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.cv import cross_validate, select
from mixsearch.surrogate.laws import bimix
from mixsearch.replay.synthetic import MixingLaw, MultiFidelityBenchmark

D = 5
TARGET = [FidelityLevel("target", 1.0)]


@pytest.fixture(scope="module")
def world():
    space = Space(tuple(f"d{i}" for i in range(D)), np.zeros(D), np.full(D, 0.6), np.full(D, 1 / D))
    law = MixingLaw.random(D, seed=3)
    X = sample(space, 256, Sampling(method="uniform"), np.random.default_rng(0))
    parts = law.losses(X) + np.random.default_rng(1).normal(0, 0.002, (len(X), D))
    data = TrainSet(X, parts.mean(1), parts=parts, part_weights=np.full(D, 1 / D))
    return space, law, data


def _ctx(space, data, surrogate=None, fidelities=TARGET, existing=None, existing_fid=None, **cfg):
    search = Search(candidates=cfg.pop("candidates", 20_000), top_k=32, **cfg)
    return ProposalContext(surrogate, space, data, fidelities, search, 0, existing, existing_fid)


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


@pytest.mark.parametrize("name", ["lightgbm", "mixing_law", "gp"])
@pytest.mark.parametrize("method", ["regmix", "argmin", "optimize"])
def test_surrogates_recover_the_optimum(world, name, method):
    space, law, data = world
    w_star, best = law.optimum(space)
    surrogate = make_surrogate(name, 0).fit(data)
    prop = propose(_ctx(space, data, surrogate, existing=data.X), 4, method)
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


@pytest.mark.parametrize("method", ["bo", "tpe", "cmaes", "qmc"])
def test_bo_and_optuna_proposals_respect_bounds(world, method):
    space, _, data = world
    bounded = Space(space.names, np.array([0.05, 0, 0, 0, 0.1]), np.array([0.5, 0.4, 0.6, 0.6, 0.6]), space.prior)
    sub = data.subset(np.arange(64))
    prop = propose(_ctx(bounded, sub, make_surrogate("linear").fit(sub), existing=sub.X), 4, method)
    assert len(prop.W) == 4 and bounded.contains(prop.W, tol=1e-9).all()
    assert len(np.unique(np.round(prop.W, 4), axis=0)) == 4


def test_bo_improves_on_the_runs_it_saw(world):
    space, law, data = world
    sub = data.subset(np.arange(40))
    prop = propose(_ctx(space, sub, existing=sub.X), 4, "bo")
    assert law(prop.W).min() < np.sort(law(sub.X))[2]  # better than all but the best two seen


def test_multi_fidelity_gp_and_cost_aware_proposals():
    bench = MultiFidelityBenchmark.random(4, seed=1)
    space = Space(tuple("abcd"), np.zeros(4), np.ones(4), np.full(4, 0.25))
    rng = np.random.default_rng(0)
    X_lo = rng.dirichlet(np.ones(4), 60)
    X_hi = X_lo[:8]
    X = np.vstack([X_lo, X_hi])
    fid = np.concatenate([np.full(60, 0.01), np.ones(8)])
    data = TrainSet(X, bench(X, fid), fid)
    mf = make_surrogate("mfgp").fit(data)
    test = rng.dirichlet(np.ones(4), 200)
    from mixsearch.surrogate.cv import spearman

    assert spearman(mf.predict(test), bench(test, 1.0)) > 0.7  # low-fidelity runs inform the target
    levels = [FidelityLevel("small", 0.01), FidelityLevel("large", 1.0)]
    prop = propose(_ctx(space, data, existing=X, existing_fid=fid, fidelities=levels), 3, "mfbo")
    assert len(prop.W) == 3 and space.contains(prop.W, tol=1e-9).all()
    assert set(prop.fidelity) <= {"small", "large"}

    from mixsearch.propose.bo import posterior_optimum

    w = posterior_optimum(mf, space)
    assert space.contains(w[None]).all()
    assert bench(w[None], 1.0)[0] < np.median(bench(test, 1.0))


def test_unknown_surrogate_and_proposer():
    with pytest.raises(KeyError, match="unknown surrogate 'gpx'"):
        make_surrogate("gpx")
    with pytest.raises(KeyError, match="unknown proposer 'magic'"):
        propose(_ctx(Space(("a", "b"), np.zeros(2), np.ones(2), np.full(2, 0.5)), TrainSet(np.eye(2), np.ones(2))),
                1, "magic")


@pytest.mark.parametrize("acquisition", ["mes", "kg"])
def test_other_multi_fidelity_acquisitions(acquisition):
    bench = MultiFidelityBenchmark.random(3, seed=4)
    space = Space(tuple("abc"), np.zeros(3), np.ones(3), np.full(3, 1 / 3))
    rng = np.random.default_rng(1)
    X = rng.dirichlet(np.ones(3), 24)
    fid = np.where(np.arange(24) < 18, 0.01, 1.0)
    data = TrainSet(X, bench(X, fid), fid)
    levels = [FidelityLevel("small", 0.01), FidelityLevel("large", 1.0)]
    ctx = _ctx(space, data, existing=X, existing_fid=fid, fidelities=levels, mf_acquisition=acquisition)
    prop = propose(ctx, 1, "mfbo")
    assert len(prop.W) == 1 and space.contains(prop.W, tol=1e-9).all() and prop.fidelity[0] in {"small", "large"}
    assert prop.recommendation is not None and space.contains(prop.recommendation[None]).all()


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


def test_bo_uses_the_studys_fitted_gp(world, monkeypatch):
    """bo uses the fitted surrogate instead of fitting its own GP every time."""
    from mixsearch.surrogate.gp import GPSurrogate

    space, law, data = world
    sub = data.subset(np.arange(40))
    fitted = make_surrogate("gp", 0).fit(sub)
    monkeypatch.setattr(GPSurrogate, "_fit", lambda self, d: pytest.fail("bo refitted the GP"))
    prop = propose(_ctx(space, sub, fitted, existing=sub.X), 2, "bo")
    assert len(prop.W) == 2 and space.contains(prop.W, tol=1e-9).all()


def test_mfbo_drops_cheap_fidelities_that_rank_the_target_poorly():
    from mixsearch.propose.fidelities import rank_correlation, useful

    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(3), size=8)
    target = X[:, 0]
    good, bad = target + 0.5, -target + 0.5  # 0.1 ranks like the target, 0.01 the opposite way
    data = TrainSet(np.vstack([X, X, X]), np.concatenate([target, good, bad]), np.repeat([1.0, 0.1, 0.01], 8))
    assert rank_correlation(data, 0.1) == (1.0, 8) and rank_correlation(data, 0.01) == (-1.0, 8)
    assert useful(data, [0.01, 0.1, 1.0]) == [0.1, 1.0]
    assert useful(data.subset(np.r_[0:8, 16:20]), [0.01, 1.0]) == [0.01, 1.0]  # 4 pairs: not measured yet
    only_bad = data.subset(np.r_[0:8, 16:24])
    space = Space(tuple("abc"), np.zeros(3), np.ones(3), np.full(3, 1 / 3))
    levels = [FidelityLevel("small", 0.01), FidelityLevel("target", 1.0)]
    prop = propose(_ctx(space, only_bad, existing=only_bad.X, existing_fid=only_bad.fidelities, fidelities=levels),
                   2, "mfbo")
    assert prop.fidelity == ["target", "target"]  # fell back to BO at the target


def test_mfar_runs_a_cheap_batch_then_trusts_the_cheap_fidelity_as_far_as_the_target_runs_show():
    """mfar proposes cheap runs until the cheapest fidelity has its planned batch, then target runs: first
    the cheap model's best (here the cheap fidelity ranks like the target, so near the optimum),
    then by expected improvement of the GP on (mixture, cheap prediction), as a diverse batch."""
    from mixsearch.propose.evidence import plan

    CHEAP_FIRST = plan("small", 0.01, None).runs

    space = Space(tuple("abc"), np.zeros(3), np.ones(3), np.full(3, 1 / 3))
    levels = [FidelityLevel("small", 0.01), FidelityLevel("target", 1.0)]
    opt = np.array([0.6, 0.3, 0.1])

    def loss(W: np.ndarray) -> np.ndarray:
        return np.abs(W - opt).sum(1)

    X = np.random.default_rng(0).dirichlet(np.ones(3), size=CHEAP_FIRST + 6)

    def ctx(cheap: int, target: int) -> ProposalContext:
        W = np.vstack([X[:cheap], X[:target]])
        data = TrainSet(W, np.concatenate([loss(X[:cheap]) + 0.4, loss(X[:target])]),
                        np.repeat([0.01, 1.0], [cheap, target]))
        return _ctx(space, data, existing=W, existing_fid=data.fidelities, fidelities=levels)

    first = propose(ctx(5, 0), 3, "mfar")
    assert first.fidelity == ["small"] * 3 and space.contains(first.W, tol=1e-9).all()
    assert not np.isin(np.round(first.W, 4), np.round(X[:5], 4)).all(1).any()  # no past run again
    guided = propose(ctx(CHEAP_FIRST + 6, 0), 2, "mfar")
    assert guided.fidelity == ["target"] * 2 and loss(guided.W[:1])[0] < 0.15  # the cheap model's best
    later = propose(ctx(CHEAP_FIRST + 6, 6), 3, "mfar")
    assert later.fidelity == ["target"] * 3 and space.contains(later.W, tol=1e-9).all()
    dist = np.abs(later.W[:, None] - later.W[None]).sum(-1)[np.triu_indices(3, 1)]
    assert (dist >= 0.05 - 1e-9).all()  # a diverse batch
