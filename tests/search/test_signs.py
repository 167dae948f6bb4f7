"""Objectives of any sign and offset: every surrogate recommends the same mixture, values are shown
in the user's sign, and `auto` trusts only a surrogate that ranks held-out runs better than chance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mixsearch.search.importer import import_runs
from mixsearch.mixtures import Space, sample
from mixsearch.search.objectives import user_sign
from mixsearch.recipe.schema import parse_recipe
from mixsearch.recipe.search import Sampling, Search
from mixsearch.propose.simplex import optimum
from mixsearch.search.study import Study
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.cv import CVScore, chance_bound, cross_validate, spearman
from mixsearch.replay.synthetic import MixingLaw, MultiFidelityBenchmark
from mixsearch.search.modelling import fit, propose_next, recommend

D = 4
DOMAINS = ("web", "code", "books")
# the user's value s * y + k of a loss y, minimised for s = +1 and maximised for s = -1: the
# sign-adjusted training target is y + s * k in every case, negative for the last two
VARIANTS = [(1, 0.0), (-1, 0.0), (1, 1000.0), (-1, -1000.0), (1, -1000.0), (-1, 1000.0)]


@pytest.fixture(scope="module")
def world():
    space = Space(tuple(f"d{i}" for i in range(D)), np.zeros(D), np.full(D, 0.7), np.full(D, 1 / D))
    law = MixingLaw.random(D, seed=3)
    X = sample(space, 40, Sampling(method="uniform"), np.random.default_rng(0))
    return space, X, law(X, noise=0.005, seed=1)


@pytest.fixture(scope="module")
def multi_fidelity():
    bench = MultiFidelityBenchmark.random(3, seed=0)
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(3), 48)
    fid = np.repeat([0.01, 0.1, 1.0], 16)
    space = Space(("a", "b", "c"), np.zeros(3), np.ones(3), np.full(3, 1 / 3))
    return space, X, bench(X, fid, noise=0.002, seed=1), fid


@pytest.mark.parametrize("name", ["linear", "loglinear", "lightgbm", "mixing_law", "bimix", "gp", "mfgp"])
def test_every_surrogate_recommends_the_same_for_any_sign_and_offset(world, multi_fidelity, name):
    space, X, y, fid = (*multi_fidelity,) if name == "mfgp" else (*world, None)
    cfg = Search(candidates=3000, top_k=16)
    probe = sample(space, 50, Sampling(method="uniform"), np.random.default_rng(2))
    ref_w = ref_pred = None
    for s, k in VARIANTS:
        user = s * y + k  # the objective in the user's sign; s is also the training set's sign
        data = TrainSet(X, s * user, fid)
        model = make_surrogate(name, 0).fit(data)
        w = optimum(model, space, cfg, 0, data.target_only().X)
        shown = user_sign(s, model.predict(probe))  # predictions in the user's sign ...
        as_loss = s * (shown - k)  # ... and as the loss they were made from
        if ref_w is None:
            ref_w, ref_pred = w, as_loss
            assert np.ptp(ref_pred) > 0.01
            continue
        assert np.abs(w - ref_w).sum() < 0.02, (s, k, w, ref_w)
        assert np.allclose(as_loss, ref_pred, atol=2e-3), (s, k)


def fit_only_study(tmp_path, values: np.ndarray, W: np.ndarray, direction: str, surrogate: str = "auto") -> Study:
    """A fit-only study of imported runs whose objective is the metric `acc` in `direction`."""
    recipe = {"study": "s", "domains": [{"name": n, "tokens": t} for n, t in zip(DOMAINS, (6e9, 3e9, 1e9))],
              "objective": {"metric": "acc", "direction": direction},
              "search": {"candidates": 2000, "top_k": 8, "cv_folds": 5, "batch_size": 2, "surrogate": surrogate}}
    study = Study.open(parse_recipe(recipe, "r.yaml"), tmp_path / "runs")
    table = pd.DataFrame({**{f"w_{d}": W[:, j] for j, d in enumerate(DOMAINS)}, "metric_acc": values})
    table.to_csv(tmp_path / "runs.csv", index=False)
    assert import_runs(study, tmp_path / "runs.csv", {}) == (len(W), len(W))
    return study


def test_a_maximized_metric_study_recommends_the_true_optimum_in_the_users_sign(tmp_path):
    law = MixingLaw.random(3, seed=3)
    W = np.random.default_rng(0).dirichlet(np.ones(3), 40)
    accuracy = 5 - law(W, noise=0.002, seed=1)  # positive, maximised: the training set holds its negation
    study = fit_only_study(tmp_path, accuracy, W, "maximize")
    fitted = fit(study)
    assert fitted.chosen.beats_chance and not fitted.explore
    rec = recommend(study, fitted)
    w_star, best = law.optimum(study.space())
    w = np.array([rec.mixture[d] for d in DOMAINS])
    assert law(w[None])[0] - best < 0.01 * np.ptp(accuracy)  # within 1% of the runs' spread of the optimum
    assert rec.predicted == pytest.approx(5 - best, abs=0.01)  # the maximum, as accuracy (not its negation)
    assert rec.interval[0] < rec.predicted < rec.interval[1]
    proposed = propose_next(study, fitted, 2)
    assert (proposed["predicted"] > accuracy.max() - 0.05).all()


def test_proposals_never_show_a_negative_zero():
    assert math.copysign(1.0, float(user_sign(-1.0, 0.0))) == 1.0
    assert str(user_sign(-1.0, np.zeros(2)).tolist()) == "[0.0, 0.0]"


def test_chance_bound_is_the_one_sided_five_percent_level():
    rng = np.random.default_rng(0)
    for n in (8, 20, 40):
        null = np.array([spearman(rng.permutation(n).astype(float), np.arange(n, dtype=float)) for _ in range(4000)])
        assert 0.03 < float(np.mean(null >= chance_bound(n))) < 0.07
    assert chance_bound(3) == 1.0 and chance_bound(100) < chance_bound(10) < 0.6
    constant = CVScore("loglinear", 0.0, 0.1, 0.01, 5, predicted=np.zeros(30), actual=np.arange(30.0))
    assert not constant.beats_chance  # a constant predictor (Spearman 0) is never trusted


def test_auto_without_a_surrogate_that_beats_chance_explores(tmp_path, world):
    W = np.random.default_rng(0).dirichlet(np.ones(3), 24)
    noise = np.random.default_rng(5).normal(0.5, 0.1, len(W))  # unrelated to the mixture
    study = fit_only_study(tmp_path, noise, W, "maximize")
    fitted = fit(study)
    assert fitted.explore and not any(s.beats_chance for s in fitted.scores if s.skipped is None)
    assert fitted.warnings[0].startswith("no surrogate ranks held-out runs better than chance")
    again = fit(study)  # the stored CV, reused: still untrusted
    assert again.reused and again.explore and [s.candidates for s in again.scores] == [s.candidates for s in fitted.scores]
    proposed = propose_next(study, fitted, 3)
    assert len(proposed) == 3 and proposed["origin"].eq("propose:qmc/explore").all()
    assert proposed["predicted"].isna().all()  # an untrusted model predicts nothing for them
    pinned = fit(study, "lightgbm")
    assert not pinned.explore and "lightgbm does not rank held-out runs better than chance" in pinned.warnings[0]

    space, X, y = world  # the same law with structure: trusted
    score = cross_validate("gp", TrainSet(X, y), 5, 0)
    assert score.beats_chance and score.spearman > chance_bound(len(X))


def test_a_recommendation_from_a_model_that_does_not_beat_chance_is_marked_untrusted(tmp_path, capsys):
    from mixsearch.ui.tables import recommendation_table

    W = np.random.default_rng(0).dirichlet(np.ones(3), 24)
    noise = np.random.default_rng(5).normal(0.5, 0.1, len(W))  # unrelated to the mixture
    study = fit_only_study(tmp_path, noise, W, "maximize")
    rec = recommend(study, fit(study, "lightgbm"), stability=False)
    assert not rec.trusted and "does not rank held-out runs better than chance" in rec.distrust
    assert rec.to_dict()["trusted"] is False
    table = recommendation_table(rec.to_dict())
    assert "not a trusted answer" in str(table.caption)
