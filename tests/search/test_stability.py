"""How sure the answer is: bootstrap ranges of the recommended weights, and the noise floor's interval."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from mixsearch.search import noise
from mixsearch.mixtures import Space, sample
from mixsearch.recipe.search import Sampling, Search
from mixsearch.search.recommendation import recommendation
from mixsearch.search.stability import UNSTABLE_L1, Stability, bootstrap
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.cv import CVScore
from mixsearch.replay.synthetic import MixingLaw
from mixsearch.search.modelling import fit, recommend


def test_bootstrap_ranges_cover_the_true_optimum_in_most_studies():
    """20 small noisy studies of known mixing laws (16 runs, 3 domains): the 10-90% range of each
    recommended weight over 8 bootstrap refits holds the true optimum's weight (to 0.005) for all
    three weights in most studies; the model is sure the answer beats uniform where it does."""
    d = 3
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    cfg = Search(candidates=500, top_k=16)
    covered, weights = [], []
    with threadpool_limits(1):  # BLAS threads on these tiny fits only contend (20x the CPU time on a busy machine)
        for seed in range(20):
            _one_study(seed, d, space, cfg, covered, weights)
    assert np.mean(covered) >= 0.6 and np.mean(weights) >= 0.75


def _one_study(seed: int, d: int, space: Space, cfg: Search, covered: list, weights: list) -> None:
    """Recommend and bootstrap on one noisy study; record whether the ranges hold the truth."""
    law = MixingLaw.random(d, seed)
    truth, _ = law.optimum(space)
    X = sample(space, 16, Sampling(), np.random.default_rng(seed))
    parts = law.losses(X) + np.random.default_rng(seed).normal(0, 0.03, (len(X), d))
    data = TrainSet(X, parts.mean(1), None, parts, np.full(d, 1 / d))
    rec = recommendation(make_surrogate("mixing_law", seed).fit(data), "mixing_law", 0.01, len(X), space, cfg, seed,
                    support=X)
    w = np.array([rec.mixture[n] for n in space.names])
    stab = bootstrap("mixing_law", data, w, space, cfg, seed, replicates=(8, 8))
    assert stab.replicates == 8 and set(stab.low) == set(space.names)
    lo, hi = np.array(list(stab.low.values())), np.array(list(stab.high.values()))
    assert np.all(lo <= hi)
    inside = (truth >= lo - 0.005) & (truth <= hi + 0.005)
    covered.append(inside.all())
    weights.extend(inside)
    if law(w[None])[0] < law(space.uniform[None])[0] - 0.05:
        assert stab.p_beats["uniform"] >= 0.75


def test_the_bootstrap_ranks_the_recommendations_candidates_near_the_study_s_runs():
    """Refits rank the same candidates as the recommendation and trust them near the same runs, so
    the candidates already checked are not looked up again: 8 refits check far fewer rows than 8
    recommendations would, and a candidate counted is never one away from every run."""
    from mixsearch.propose.simplex import Support

    d = 6
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    cfg = Search(candidates=4000, top_k=32)
    rng = np.random.default_rng(3)
    X = sample(space, 300, Sampling(), rng)
    y = MixingLaw.random(d, 3)(X) + rng.normal(0, 0.01, len(X))
    data = TrainSet(X, y)
    near = Support(X)
    with threadpool_limits(1):
        rec = recommendation(make_surrogate("linear", 0).fit(data), "linear", 0.01, len(X), space, cfg, 0, support=near)
        once = near.checked
        w = np.array([rec.mixture[n] for n in space.names])
        stab = bootstrap("linear", data, w, space, cfg, 0, replicates=(8, 8), near=near)
    assert stab.replicates == 8 and 0 < once
    assert near.checked - once < 2 * once  # against about 8 x once when each refit drew and checked its own
    assert np.abs(X - w).sum(1).min() <= near.radius * 1.25


def test_refits_on_parallel_threads_give_the_sequential_answer(monkeypatch):
    """LightGBM's refits run on one thread per CPU; each replicate's resample is drawn in order, so
    the ranges and shares are those of refitting one at a time."""
    from mixsearch.surrogate.lgbm import LightGBMSurrogate

    monkeypatch.setattr("os.cpu_count", lambda: 4)
    d = 4
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    cfg = Search(candidates=2000, top_k=16)
    rng = np.random.default_rng(5)
    X = sample(space, 60, Sampling(), rng)
    data = TrainSet(X, MixingLaw.random(d, 5)(X) + rng.normal(0, 0.01, len(X)))
    w = np.full(d, 1 / d)
    parallel = bootstrap("lightgbm", data, w, space, cfg, 0, replicates=(6, 6))
    monkeypatch.setattr(LightGBMSurrogate, "independent_fits", False)
    assert bootstrap("lightgbm", data, w, space, cfg, 0, replicates=(6, 6)) == parallel
    assert parallel.replicates == 6


def test_an_unstable_answer_says_so():
    stable = Stability(8, {"a": 0.1}, {"a": 0.3}, UNSTABLE_L1 / 2, {"uniform": 0.9})
    unstable = Stability(8, {"a": 0.0}, {"a": 0.9}, 0.45, {"uniform": 0.6})
    assert stable.warning() is None and not stable.unstable
    assert unstable.unstable and "median L1 of 0.45 (> 0.2" in unstable.warning()
    assert Stability.from_dict(unstable.to_dict()) == unstable


def test_the_noise_floor_carries_a_chi_square_interval_and_explains_a_spearman_above_its_bound():
    rng = np.random.default_rng(0)
    X = np.repeat(rng.dirichlet(np.ones(3), 4), 2, axis=0)  # 4 mixtures x 2 seeds: 4 dof
    y = MixingLaw.random(3, 0)(X) + rng.normal(0, 0.05, len(X))
    floor = noise.noise_floor(TrainSet(X, y))
    assert floor.dof == 4
    lo, hi = floor.sd_interval
    assert lo < floor.sd < hi and hi / lo > 4  # 4 dof: the sd is known to within a factor of ~5
    assert floor.spearman_interval[0] <= floor.max_spearman <= floor.spearman_interval[1]
    many = noise.sd_interval(0.05, 400)
    assert many[1] / many[0] < 1.2

    bound = noise.NoiseFloor(0.1, 3, 3, 0.5, (0.06, 0.37), (0.2, 0.9))
    within = noise.fit_warnings(CVScore("gp", 0.82, 0.05, 0.1, 5), 40, 3, bound)
    assert any("within its interval" in m and "3 dof" in m for m in within)
    above = noise.fit_warnings(CVScore("gp", 0.95, 0.05, 0.1, 5), 40, 3, bound)
    assert any("above even the upper end" in m for m in above)
    assert not any("perfect-predictor" in m for m in noise.fit_warnings(CVScore("gp", 0.4, 0.05, 0.1, 5), 40, 3, bound))


def _oof(name: str, actual: np.ndarray, sd: float, rng: np.random.Generator) -> CVScore:
    """A scored candidate whose out-of-fold predictions miss the runs by noise of `sd`."""
    from mixsearch.surrogate.cv import spearman

    pred = actual + rng.normal(0, sd, len(actual))
    return CVScore(name, spearman(pred, actual), float(np.mean(np.abs(pred - actual))), 0.1, 5,
                   predicted=pred, actual=actual, candidates=2)


def test_a_surrogate_choice_that_flips_across_resamples_is_an_unstable_answer():
    """Two surrogates whose held-out errors are alike: resampled runs often choose the other, and
    the answer says so; one that is clearly better wins (almost) every resample, no warning."""
    from mixsearch.search.stability import choice_shares
    from mixsearch.surrogate.cv import pick

    flips = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        actual = rng.normal(3.0, 0.1, 40)
        near = [_oof("gp", actual, 0.05, rng), _oof("bimix", actual, 0.05, rng)]
        chosen = pick(near).name
        shares = choice_shares(near, seed)
        assert set(shares) <= {"gp", "bimix"} and abs(sum(shares.values()) - 1) < 1e-9
        stab = Stability(8, {"a": 0.2}, {"a": 0.3}, 0.05, {"uniform": 0.9}, chosen, shares)
        flips += stab.unstable
        if stab.unstable:
            assert "the surrogate choice flips" in stab.warning() and "median L1" not in stab.warning()

        clear = [_oof("gp", actual, 0.01, rng), _oof("bimix", actual, 0.15, rng)]
        shares = choice_shares(clear, seed)
        assert shares["gp"] >= 0.95
        assert Stability(8, {"a": 0.2}, {"a": 0.3}, 0.05, {"uniform": 0.9}, "gp", shares).warning() is None
    assert flips >= 10  # a tie's winner wins about uniformly 50-100% of resamples: most are flagged


def test_the_bootstrap_resamples_the_choice_of_a_real_selection():
    """A study of a curved mixing law: the law's family wins every resample over a linear model
    (no warning); a pinned surrogate (one candidate) has no choice to resample."""
    from mixsearch.surrogate.cv import select

    d = 3
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    X = sample(space, 30, Sampling(), np.random.default_rng(1))
    law = MixingLaw.random(d, 1)
    parts = law.losses(X) + np.random.default_rng(1).normal(0, 0.01, (len(X), d))
    data = TrainSet(X, parts.mean(1), None, parts, np.full(d, 1 / d))
    cfg = Search(candidates=500, top_k=16)
    with threadpool_limits(1):
        best, scores = select(["linear", "mixing_law"], data, 5, 1)
        w = np.full(d, 1 / d)
        stab = bootstrap(best, data, w, space, cfg, 1, replicates=(2, 2), scores=scores)
        pinned = bootstrap(best, data, w, space, cfg, 1, replicates=(2, 2), scores=[s for s in scores if s.name == best])
    assert best == "mixing_law" and stab.surrogate == "mixing_law" and stab.choice == {"mixing_law": 1.0}
    assert not stab.choice_flips and pinned.choice == {}
    assert Stability.from_dict(stab.to_dict()) == stab


def test_a_study_fitted_under_auto_records_how_often_resamples_choose_each_surrogate(tmp_path):
    from mixsearch.search.importer import ImportOptions, import_table
    from mixsearch.recipe.schema import parse_recipe
    from mixsearch.search.study import Study
    from tests.search.test_fitonly import fit_only_recipe, write_pool

    study = Study.open(parse_recipe(fit_only_recipe(), "r.yaml"), tmp_path / "runs")
    write_pool(tmp_path)
    import_table(study, tmp_path / "ratios.csv", ImportOptions(metrics=tmp_path / "metrics.csv", id_column="run",
                                                               weights_prefix="train_", renormalize=0.01))
    fitted = fit(study)
    rec = recommend(study, fitted)
    stab = rec.stability
    assert stab.surrogate == fitted.name == rec.surrogate
    assert set(stab.choice) <= {s.name for s in fitted.scores} and sum(stab.choice.values()) == pytest.approx(1)
    assert recommend(study, fit(study, "linear")).stability.choice == {}  # a pinned surrogate: no choice
