"""Which candidates lie near the runs: checked in rank order, stopping once enough are found."""

from __future__ import annotations

import numpy as np

from mixsearch.propose import simplex
from mixsearch.propose.base import feasible


def test_checking_in_order_until_enough_agrees_with_checking_all(monkeypatch):
    monkeypatch.setattr(simplex, "SUPPORT_CHUNK", 16)
    rng = np.random.default_rng(0)
    support = rng.dirichlet(np.ones(5), size=200)
    W = rng.dirichlet(np.ones(5), size=500)
    near = simplex.Support(support)
    every = near.inside(W, np.arange(len(W)))
    assert 20 < every.sum() < len(W)  # some candidates in, some out
    first = simplex.Support(support).inside(W, np.arange(len(W)), first=5)
    cut = np.flatnonzero(first)[-1] + 1
    assert first.sum() >= 5 and cut < len(W)  # it stopped early
    assert (first[:cut] == every[:cut]).all() and not first[cut:].any()
    assert (np.flatnonzero(first)[:5] == np.flatnonzero(every)[:5]).all()  # the same first five


def test_a_support_remembers_what_it_checked_and_answers_the_same_in_another_order():
    rng = np.random.default_rng(1)
    near = simplex.Support(rng.dirichlet(np.ones(5), size=200))
    W = rng.dirichlet(np.ones(5), size=300)
    every = near.inside(W, np.arange(len(W)))
    assert near.checked == 300
    order = rng.permutation(len(W))
    assert (near.inside(W.copy(), order) == every[order]).all()  # the same candidates, in another order
    assert near.checked == 300  # every row was known
    other = rng.dirichlet(np.ones(5), size=50)  # other candidates are checked anew
    assert (near.inside(other, np.arange(50)) == simplex.Support(near.runs).inside(other, np.arange(50))).all()
    assert near.checked == 350


def _counting(model, rows: list[int]):
    predict = model.predict

    def counted(X, fid=None):
        rows.append(len(X))
        return predict(X, fid)

    model.predict = counted
    return model


def test_an_optimum_scores_only_candidates_not_known_to_lie_away_from_the_runs():
    """Refits sharing a Support and the candidates leave out those already known to lie beyond
    every run's radius: fewer predictions, the same optimum as ranking them all."""
    from mixsearch.mixtures import Space
    from mixsearch.recipe.search import Search
    from mixsearch.surrogate.base import TrainSet, make_surrogate

    d = 6
    rng = np.random.default_rng(2)
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    cfg = Search(candidates=3000, top_k=16)
    runs = rng.dirichlet(np.r_[8.0, np.ones(d - 1)], size=120)  # bunched toward d0: most candidates lie away
    y = runs @ rng.normal(size=d) + rng.normal(0, 0.01, len(runs))
    model = make_surrogate("linear", 0).fit(TrainSet(runs, y))
    cands = simplex.draw_candidates(space, cfg, 0)
    alone = simplex.optimum(model, space, cfg, 0, simplex.Support(runs), cands)
    near = simplex.Support(runs)
    every = near.inside(cands, np.arange(len(cands)))
    assert 16 < every.sum() < len(cands) // 2
    scored: list[int] = []
    shared = simplex.optimum(_counting(model, scored), space, cfg, 0, near, cands)
    assert np.allclose(shared, alone)
    assert sum(scored) == every.sum()  # only the candidates near a run were scored


def test_with_no_candidate_near_a_run_the_optimum_ranks_them_all():
    from mixsearch.mixtures import Space
    from mixsearch.recipe.search import Search
    from mixsearch.surrogate.base import TrainSet, make_surrogate

    d = 4
    rng = np.random.default_rng(4)
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    cfg = Search(candidates=500, top_k=8)
    runs = np.repeat(np.eye(d)[:1], 3, axis=0)  # one mixture: radius 0, no candidate lies on it
    model = make_surrogate("linear", 0).fit(TrainSet(runs + rng.normal(0, 1e-3, runs.shape), rng.normal(size=3)))
    cands = simplex.draw_candidates(space, cfg, 0)
    near = simplex.Support(runs)
    first = simplex.optimum(model, space, cfg, 0, near, cands)
    again = simplex.optimum(model, space, cfg, 0, near, cands)  # every candidate is now known to lie away
    assert np.allclose(first, again)
    assert np.allclose(first, simplex.optimum(model, space, cfg, 0, None, cands))


def _reference(model, cands: np.ndarray, runs: np.ndarray, top_k: int) -> np.ndarray:
    """RegMix's top-k average near the runs, by brute force: rank every candidate, keep those near a run."""
    order = np.argsort(model.predict(cands), kind="stable")
    order = order[simplex.Support(runs).inside(cands, order)]
    return cands[order[:top_k]].mean(0)


def test_where_few_candidates_lie_near_the_runs_only_those_are_scored():
    """Fewer than 2 x top_k candidates near a run: ranking them all would check every one anyway, so
    each is checked first and only those near a run are scored; the optimum is the brute-force one.
    Where many lie near, every candidate is ranked and checked in order: the same optimum."""
    from mixsearch.mixtures import Space
    from mixsearch.recipe.search import Search
    from mixsearch.surrogate.base import TrainSet, make_surrogate

    d = 8
    rng = np.random.default_rng(6)
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    cfg = Search(candidates=20_000, top_k=64)
    cands = simplex.draw_candidates(space, cfg, 0)
    for conc, few in ((3.0, True), (0.3, False)):  # runs bunched at the centre, or spread toward the corners
        runs = rng.dirichlet(np.full(d, conc), size=600)
        model = make_surrogate("linear", 0).fit(TrainSet(runs, runs @ rng.normal(size=d) + rng.normal(0, 0.01, 600)))
        near = simplex.Support(runs).inside(cands, np.arange(len(cands))).sum()
        assert (near < 2 * cfg.top_k) == few and near >= 1
        want = feasible(_reference(model, cands, runs, cfg.top_k), space)[0]
        scored: list[int] = []
        assert np.allclose(simplex.optimum(_counting(model, scored), space, cfg, 0, runs, cands), want)
        assert (sum(scored) == near) == few  # few: only the candidates near a run were scored; many: all were
