"""Phased mixtures: the recipe's phases, a product of simplices with per-phase bounds and epoch caps
over the whole run, sampling and projection within it, and the training stream's phase boundaries."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixsearch.data.sampler import run_sampler
from mixsearch.errors import UserError
from mixsearch.bounds import build_space
from mixsearch.layout import Layout
from mixsearch.mixtures import CAP_TOL, finalize, sample
from mixsearch.recipe.schema import parse_recipe
from mixsearch.recipe.search import Sampling
from mixsearch.search.named_mixtures import parse_mixture


def recipe(**extra):
    data = {"study": "s", "domains": [{"name": n, "tokens": t} for n, t in (("web", 4000), ("code", 1000),
                                                                             ("math", 250))],
            "proxy": {"train": {"tokens": 1000}},
            "phases": [{"name": "main", "share": 0.8}, {"name": "anneal", "share": 0.2}], **extra}
    return parse_recipe(data, "recipe.yaml")


def space_of(r):
    return build_space(r, {d.name: d.tokens for d in r.domains})


def test_phases_name_their_weights_and_refuse_bad_schedules():
    r = recipe()
    assert r.mixture_names == ["main_web", "main_code", "main_math", "anneal_web", "anneal_code", "anneal_math"]
    assert recipe(phases=[]).mixture_names == ["web", "code", "math"]
    bad = {"shares sum to 0.9": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}],
           "duplicate phase names": [{"name": "a", "share": 0.5}, {"name": "a", "share": 0.5}],
           "unknown domain 'wiki'": [{"name": "a", "share": 1.0, "domains": {"wiki": {"min": 0.1}}}],
           "bounds allow no mixture": [{"name": "a", "share": 1.0, "domains": {"web": {"min": 0.6},
                                                                              "code": {"min": 0.6}}}]}
    for message, phases in bad.items():
        with pytest.raises(UserError, match=message):
            recipe(phases=phases)
    clash = {"study": "s", "domains": [{"name": "b_c"}, {"name": "c"}],
             "phases": [{"name": "a", "share": 0.5}, {"name": "a_b", "share": 0.5}]}
    with pytest.raises(UserError, match="same weight column: a_b_c"):
        parse_recipe(clash, "recipe.yaml")
    with pytest.raises(UserError, match="bimix"):
        recipe(search={"surrogate": "bimix"})


def test_epoch_caps_hold_over_the_whole_run_not_per_phase():
    # math has 250 tokens for a 1000-token run: at most 0.25 of the run over both phases (one epoch),
    # so the anneal phase alone may be all math (0.2 x 1.0) but not with main above 0.0625
    r = recipe(constraints={"max_epochs": 1.0}, phases=[{"name": "main", "share": 0.8},
                                                        {"name": "anneal", "share": 0.2,
                                                         "domains": {"math": {"min": 0.5}}}])
    space = space_of(r)
    assert space.cap is not None and space.cap[2] == pytest.approx(0.25)
    assert space.hi[2] == pytest.approx(0.25 / 0.8) and space.hi[5] == pytest.approx(1.0)
    W = sample(space, 300, Sampling(), np.random.default_rng(0))
    assert space.contains(W, tol=1e-9).all()
    overall = Layout.of(r).overall(W)
    assert overall[:, 2].max() <= 0.25 + CAP_TOL
    assert W[:, 5].min() >= 0.5 - 1e-9  # the anneal phase's own bound
    assert (W[:, 2] > 0.1).any()  # main may still use math where the anneal phase leaves room
    too_tight = recipe(constraints={"max_epochs": 1.0},
                       phases=[{"name": "main", "share": 0.5, "domains": {"math": {"min": 0.3}}},
                               {"name": "anneal", "share": 0.5, "domains": {"math": {"min": 0.3}}}])
    with pytest.raises(UserError, match="epoch caps over the run"):
        space_of(too_tight)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(0.05, 2.0))
def test_projection_lands_in_the_product_of_simplices_within_caps(seed, scale):
    space = space_of(recipe(constraints={"max_epochs": 1.0}))
    X = np.random.default_rng(seed).normal(0.2, scale, size=(20, space.dim))
    P = space.project(X)
    assert space.contains(P, tol=1e-7).all()
    assert np.allclose(space.project(P), P, atol=1e-6)
    R = finalize(X, space)
    assert space.contains(R, tol=1e-9).all()
    assert np.allclose(R, np.round(R, 4))


def test_phases_are_sampled_independently_and_baselines_hold_in_every_phase():
    r = recipe()
    space = space_of(r)
    W = sample(space, 200, Sampling(method="uniform"), np.random.default_rng(1))
    split = Layout.of(r).split(W)
    assert np.allclose(split.sum(2), 1.0)
    assert np.abs(split[:, 0] - split[:, 1]).sum(1).min() > 0  # no row repeats its mixture across phases
    assert np.allclose(space.uniform, np.full(6, 1 / 3), atol=1e-6)
    assert np.allclose(space.natural[:3], space.natural[3:])
    static = space.static()
    assert static.names == ("web", "code", "math")


def test_a_named_mixture_is_a_schedule_or_one_static_mixture():
    r = recipe()
    layout, names = Layout.of(r), r.mixture_names
    _, static = parse_mixture("s=0.5,0.3,0.2", names, layout)
    assert np.allclose(static, [0.5, 0.3, 0.2, 0.5, 0.3, 0.2])
    _, sched = parse_mixture("t=0.6,0.4,0,0.2,0.2,0.6", names, layout)
    assert np.allclose(sched, [0.6, 0.4, 0, 0.2, 0.2, 0.6])
    with pytest.raises(UserError, match="sum to 1"):
        parse_mixture("u=0.5,0.5,0,0.5,0.2,0.2", names, layout)


def test_phase_boundaries_hold_in_the_training_stream():
    """Domains of distinct token values: every sequence says which domain it came from, so the tokens
    drawn per domain per phase can be counted."""
    arrays = {"web": np.full(5000, 1, np.int64), "code": np.full(5000, 2, np.int64),
              "math": np.full(5000, 3, np.int64)}
    phases = [{"name": "main", "share": 0.7, "mixture": {"web": 0.5, "code": 0.5, "math": 0.0}},
              {"name": "anneal", "share": 0.3, "mixture": {"web": 0.0, "code": 0.0, "math": 1.0}}]
    steps, batch, context = 50, 16, 8
    sampler = run_sampler(arrays, {"web": 0.35, "code": 0.35, "math": 0.3}, phases, steps, context, batch, seed=3)
    counts = np.zeros((2, 4), int)
    for step in range(steps):
        x, _ = sampler.batch()
        phase = 0 if step < 35 else 1
        counts[phase] += np.bincount(x.numpy().ravel(), minlength=4)
    assert counts[0, 3] == 0 and counts[1, 1] == counts[1, 2] == 0  # no token crosses a boundary
    assert counts[1, 3] == 15 * batch * context  # the anneal phase: 30% of the steps, all math
    assert counts[0, 1] + counts[0, 2] == 35 * batch * context
    assert 0.4 < counts[0, 1] / (35 * batch * context) < 0.6
    again = run_sampler(arrays, {}, phases, steps, context, batch, seed=3)
    first = run_sampler(arrays, {}, phases, steps, context, batch, seed=3)
    assert all(np.array_equal(again.batch()[0], first.batch()[0]) for _ in range(steps))  # deterministic
    static = run_sampler(arrays, phases[0]["mixture"], None, steps, context, batch, seed=3)
    fresh = run_sampler(arrays, {}, phases, steps, context, batch, seed=3)
    assert all(np.array_equal(static.batch()[0], fresh.batch()[0]) for _ in range(35))  # phase 1 = static run
