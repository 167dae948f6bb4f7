"""Which candidates lie near the runs: checked in rank order, stopping once enough are found."""

from __future__ import annotations

import numpy as np

from mixsearch.propose import simplex


def test_checking_in_order_until_enough_agrees_with_checking_all(monkeypatch):
    monkeypatch.setattr(simplex, "SUPPORT_CHUNK", 16)
    rng = np.random.default_rng(0)
    support = rng.dirichlet(np.ones(5), size=200)
    W = rng.dirichlet(np.ones(5), size=500)
    radius = simplex.trust_radius(support)
    every = simplex.supported(W, support, radius)
    assert 20 < every.sum() < len(W)  # some candidates in, some out
    first = simplex.supported(W, support, radius, first=5)
    cut = np.flatnonzero(first)[-1] + 1
    assert first.sum() >= 5 and cut < len(W)  # it stopped early
    assert (first[:cut] == every[:cut]).all() and not first[cut:].any()
    assert (np.flatnonzero(first)[:5] == np.flatnonzero(every)[:5]).all()  # the same first five
