"""Which candidates lie near the runs: checked in rank order, stopping once enough are found."""

from __future__ import annotations

import numpy as np

from mixsearch.propose import simplex


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
