"""Mixture sampling and projection always respect the simplex and the recipe's bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixsearch import mixtures
from mixsearch.errors import UserError
from mixsearch.bounds import build_space
from mixsearch.mixtures import Space, finalize, project, sample
from mixsearch.recipe.schema import Recipe
from mixsearch.recipe.search import Sampling


@st.composite
def spaces(draw) -> Space:
    d = draw(st.integers(2, 9))
    lo = np.array(draw(st.lists(st.floats(0, 0.3), min_size=d, max_size=d)))
    lo = lo / max(1.0, lo.sum() / 0.9)  # mins sum to at most 0.9
    width = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=d, max_size=d)))
    hi = np.minimum(1.0, lo + width)
    if hi.sum() < 1:  # widen the caps until some mixture fits
        hi = np.minimum(1.0, hi + (1 - hi.sum()) / d + 1e-3)
    prior = np.array(draw(st.lists(st.floats(1e-3, 1.0), min_size=d, max_size=d)))
    prior = project(prior / prior.sum(), lo, hi)[0]
    return Space(tuple(f"d{i}" for i in range(d)), lo, hi, prior)


@settings(max_examples=60, deadline=None)
@given(space=spaces(), method=st.sampled_from(["dirichlet", "uniform", "sobol"]), seed=st.integers(0, 2**16))
def test_samples_lie_on_simplex_within_bounds(space, method, seed):
    cfg = Sampling(method=method)
    W = sample(space, 40, cfg, np.random.default_rng(seed), rounded=False)
    assert W.shape == (40, space.dim)
    assert space.contains(W, tol=1e-9).all()
    R = sample(space, 20, cfg, np.random.default_rng(seed))
    assert space.contains(R, tol=1e-9).all()
    assert len(np.unique(np.round(R, 4), axis=0)) == len(R)  # de-duplicated


@settings(max_examples=60, deadline=None)
@given(space=spaces(), seed=st.integers(0, 2**16))
def test_projection_is_feasible_and_idempotent(space, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(0.2, 0.5, size=(30, space.dim))
    P = project(X, space.lo, space.hi)
    assert space.contains(P, tol=1e-9).all()
    assert np.allclose(project(P, space.lo, space.hi), P, atol=1e-9)
    F = finalize(X, space, min_weight=0.01)
    assert space.contains(F, tol=1e-9).all()


def test_regmix_rounding_and_small_weight_zeroing():
    space = Space(("a", "b", "c"), np.zeros(3), np.ones(3), np.full(3, 1 / 3))
    out = finalize(np.array([[0.99995, 0.00001, 0.00004]]), space, min_weight=2e-4)
    assert out.tolist() == [[1.0, 0.0, 0.0]]
    out = finalize(np.array([[0.123456, 0.5, 0.376544]]), space)
    assert np.allclose(out, [[0.1235, 0.5, 0.3765]]) and abs(out.sum() - 1) < 1e-12


def test_dirichlet_sampling_follows_prior():
    """RegMix: large domains get large weights on average."""
    space = Space(("big", "small"), np.zeros(2), np.ones(2), np.array([0.9, 0.1]))
    W = sample(space, 2000, Sampling(max_prior_multiple=None), np.random.default_rng(0), rounded=False)
    assert W[:, 0].mean() > 0.75


def _recipe(constraints: dict, tokens: int = 1000) -> Recipe:
    return Recipe.model_validate({
        "study": "s", "domains": [{"name": n, "source": {"files": "x"}} for n in ("a", "b", "c")],
        "proxy": {"train": {"tokens": tokens}}, "constraints": constraints})


def test_epoch_caps_become_upper_bounds():
    recipe = _recipe({"max_epochs": 2, "domains": {"c": {"max_epochs": 1, "min": 0.05}}})
    space = build_space(recipe, {"a": 100, "b": 10_000, "c": 300})
    assert np.allclose(space.hi, [0.2, 1.0, 0.3]) and np.allclose(space.lo, [0, 0, 0.05])
    W = sample(space, 200, Sampling(), np.random.default_rng(1))
    assert space.contains(W).all() and (W[:, 0] <= 0.2 + 1e-12).all()


def test_epoch_caps_that_allow_no_mixture_are_a_user_error():
    with pytest.raises(UserError, match="constraints: no mixture satisfies the bounds"):
        build_space(_recipe({"max_epochs": 1}), {"a": 100, "b": 100, "c": 100})


def test_lower_bounds_reach_tiny_domains():
    """Tiny domains vanish from rejection sampling; a min keeps them."""
    recipe = _recipe({"domains": {"c": {"min": 0.02}}})
    space = build_space(recipe, {"a": 10**6, "b": 10**6, "c": 10})
    W = mixtures.sample(space, 100, Sampling(), np.random.default_rng(0))
    assert (W[:, 2] >= 0.02 - 1e-12).all()
