"""Proposers on runs whose losses a known law generated: bounds, improvement over the runs seen,
multi-fidelity acquisitions, and the evidence that decides whether cheap fidelities pay."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.mixtures import Space
from mixsearch.propose.base import FidelityLevel, ProposalContext
from mixsearch.propose.batch import propose
from mixsearch.propose.autoregressive import MID_FIRST, MID_SHARE
from mixsearch.propose.evidence import lower_bound, plan
from mixsearch.recipe.search import Search
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet
from mixsearch.replay.synthetic import MultiFidelityBenchmark
from tests.lawworld import context, law_world


@pytest.fixture(scope="module")
def world():
    return law_world()


@pytest.mark.parametrize("method", ["bo", "tpe", "cmaes", "qmc"])
def test_bo_and_optuna_proposals_respect_bounds(world, method):
    space, _, data = world
    bounded = Space(space.names, np.array([0.05, 0, 0, 0, 0.1]), np.array([0.5, 0.4, 0.6, 0.6, 0.6]), space.prior)
    sub = data.subset(np.arange(64))
    prop = propose(context(bounded, sub, make_surrogate("linear").fit(sub), existing=sub.X), 4, method)
    assert len(prop.W) == 4 and bounded.contains(prop.W, tol=1e-9).all()
    assert len(np.unique(np.round(prop.W, 4), axis=0)) == 4


def test_bo_improves_on_the_runs_it_saw(world):
    space, law, data = world
    sub = data.subset(np.arange(40))
    prop = propose(context(space, sub, existing=sub.X), 4, "bo")
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
    prop = propose(context(space, data, existing=X, existing_fid=fid, fidelities=levels), 3, "mfbo")
    assert len(prop.W) == 3 and space.contains(prop.W, tol=1e-9).all()
    assert set(prop.fidelity) <= {"small", "large"}

    from mixsearch.propose.bo import posterior_optimum

    w = posterior_optimum(mf, space)
    assert space.contains(w[None]).all()
    assert bench(w[None], 1.0)[0] < np.median(bench(test, 1.0))


@pytest.mark.parametrize("acquisition", ["mes", "kg"])
def test_other_multi_fidelity_acquisitions(acquisition, monkeypatch):
    from mixsearch.propose import bo

    # a smaller search: knowledge gradient's start points on the simplex are costly to sample
    monkeypatch.setattr(bo, "RAW_SAMPLES", 32)
    monkeypatch.setattr(bo, "KG_FANTASIES", 8)
    bench = MultiFidelityBenchmark.random(3, seed=4)
    space = Space(tuple("abc"), np.zeros(3), np.ones(3), np.full(3, 1 / 3))
    rng = np.random.default_rng(1)
    X = rng.dirichlet(np.ones(3), 24)
    fid = np.where(np.arange(24) < 18, 0.01, 1.0)
    data = TrainSet(X, bench(X, fid), fid)
    levels = [FidelityLevel("small", 0.01), FidelityLevel("large", 1.0)]
    ctx = context(space, data, existing=X, existing_fid=fid, fidelities=levels, mf_acquisition=acquisition)
    prop = propose(ctx, 1, "mfbo")
    assert len(prop.W) == 1 and space.contains(prop.W, tol=1e-9).all() and prop.fidelity[0] in {"small", "large"}
    assert prop.recommendation is not None and space.contains(prop.recommendation[None]).all()


def test_unknown_proposer():
    with pytest.raises(KeyError, match="unknown proposer 'magic'"):
        propose(context(Space(("a", "b"), np.zeros(2), np.ones(2), np.full(2, 0.5)), TrainSet(np.eye(2), np.ones(2))),
                1, "magic")


def test_bo_uses_the_studys_fitted_gp(world, monkeypatch):
    """bo uses the fitted surrogate instead of fitting its own GP every time."""
    from mixsearch.surrogate.gp import GPSurrogate

    space, law, data = world
    sub = data.subset(np.arange(40))
    fitted = make_surrogate("gp", 0).fit(sub)
    monkeypatch.setattr(GPSurrogate, "_fit", lambda self, d: pytest.fail("bo refitted the GP"))
    prop = propose(context(space, sub, fitted, existing=sub.X), 2, "bo")
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
    prop = propose(context(space, only_bad, existing=only_bad.X, existing_fid=only_bad.fidelities, fidelities=levels),
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
        return context(space, data, existing=W, existing_fid=data.fidelities, fidelities=levels)

    first = propose(ctx(5, 0), 3, "mfar")
    assert first.fidelity == ["small"] * 3 and space.contains(first.W, tol=1e-9).all()
    assert not np.isin(np.round(first.W, 4), np.round(X[:5], 4)).all(1).any()  # no past run again
    guided = propose(ctx(CHEAP_FIRST + 6, 0), 2, "mfar")
    assert guided.fidelity == ["target"] * 2 and loss(guided.W[:1])[0] < 0.15  # the cheap model's best
    later = propose(ctx(CHEAP_FIRST + 6, 6), 3, "mfar")
    assert later.fidelity == ["target"] * 3 and space.contains(later.W, tol=1e-9).all()
    dist = np.abs(later.W[:, None] - later.W[None]).sum(-1)[np.triu_indices(3, 1)]
    assert (dist >= 0.05 - 1e-9).all()  # a diverse batch


def test_evidence_weighs_agreement_against_cost():
    assert plan("small", 0.01, 40.0).pays  # very cheap: worth a batch before anything is measured
    assert not plan("small", 0.177, 40.0).pays and "does not pay" in plan("small", 0.177, 40.0).reason
    assert not plan("small", 0.01, 40.0, measured=(0.05, 20)).pays  # measured: it says nothing
    assert plan("small", 0.01, 40.0, measured=(0.95, 20)).pays
    assert lower_bound(0.6, 6) < lower_bound(0.6, 30) < 0.6
    assert plan("small", 0.01, 40.0).runs <= 0.25 * 40 / 0.01  # at most a share of the budget


def _levels(*values: float) -> list[FidelityLevel]:
    return [FidelityLevel(f"f{i}", v) for i, v in enumerate(values)]


def test_mfar_goes_target_only_where_cheap_runs_are_dear_and_says_so():
    space = Space(tuple("abc"), np.zeros(3), np.ones(3), np.full(3, 1 / 3))
    X = np.random.default_rng(0).dirichlet(np.ones(3), 6)
    data = TrainSet(X, X[:, 0], np.ones(6))
    ctx = ProposalContext(None, space, data, _levels(0.2, 0.5, 1.0), Search(candidates=500), 0, X, data.fidelities)
    prop = propose(ctx, 2, "mfar")
    assert prop.fidelity == ["f2", "f2"] and "does not pay" in prop.reason and "target runs only" in prop.reason


def test_mfar_buys_second_fidelity_runs_only_where_they_cost_at_most_a_target_run():
    """After its cheap batch, mfar runs mixtures at the second cheap fidelity where MID_FIRST of them
    cost at most MID_SHARE target runs (0.1: 0.8), and not where they cost more (0.5: 3.0)."""
    space = Space(tuple("abc"), np.zeros(3), np.ones(3), np.full(3, 1 / 3))
    runs = plan("f0", 0.01, None).runs
    X = np.random.default_rng(0).dirichlet(np.ones(3), runs)
    data = TrainSet(X, X[:, 0] + 0.1 * X[:, 1], np.full(runs, 0.01))
    assert MID_FIRST * 0.5 > MID_SHARE  # the dear case is dear
    for mid, expected in ((0.1, "f1"), (0.5, "f2")):
        ctx = ProposalContext(None, space, data, _levels(0.01, mid, 1.0), Search(candidates=500), 0, X,
                              data.fidelities)
        prop = propose(ctx, 2, "mfar")
        assert prop.fidelity == [expected] * 2 and "pays" in prop.reason
