"""Noise-aware answers: replicates and the noise floor, the model's recommendation, validation
against baselines, diverse batches, final-scale constraints, stale data."""

from __future__ import annotations

import sys
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from mixsearch.search import noise, validate as va
from mixsearch.errors import UserError
from mixsearch.search.named_mixtures import parse_mixture, read_mixtures
from mixsearch.bounds import build_space
from mixsearch.mixtures import Space, sample
from mixsearch.propose.base import FidelityLevel, ProposalContext
from mixsearch.propose.batch import propose
from mixsearch.recipe.schema import parse_recipe
from mixsearch.recipe.search import Sampling, Search
from mixsearch.propose.simplex import trust_radius
from mixsearch.search.recommendation import recommendation
from mixsearch.store.schema import WEIGHT
from mixsearch.search.study import Study
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.cv import select
from mixsearch.ui.tables import validation_table
from mixsearch.replay.synthetic import MixingLaw
from mixsearch.search.launch import launch
from mixsearch.search.modelling import fit, recommend
from mixsearch.search.objectives import pareto_runs

NOISE = 0.03
TARGET = [FidelityLevel("target", 1.0)]


LAW = MixingLaw.random(3, seed=5, targets=1)


def FakeTrainer(names: list[str], noise_sd: float):
    """A 'proxy run' whose loss is a known mixing law (LAW) plus seed noise (no training)."""

    def run(spec: dict, data: dict) -> dict:
        w = np.array([spec["mixture"][n] for n in names])
        # seeded by mixture and seed, not the run id: that hashes the data, whose source paths are
        # temporary, so each test run drew other noise (the noise-floor check then failed ~1 in 200)
        key = [round(spec["mixture"][n], 6) for n in names] + [spec["seed"]]
        rng = np.random.default_rng(zlib.crc32(repr(key).encode()))
        loss = float(LAW(w[None])[0] + rng.normal(0, noise_sd))
        return {"status": "done", "losses": {n: loss for n in names}, "wall_time": 0.01, "tokens": 1}

    return run


@pytest.fixture
def study(recipe_dict, tmp_path, ray_local):
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    recipe_dict["search"].update(initial_runs=8, replicates={"mixtures": 4, "seeds": 4}, candidates=3000)
    return Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "runs")


def test_replicates_have_distinct_ids_and_measure_the_known_noise(study):
    study.seed_initial()
    view = study.store.runs()
    reps = view[view["origin"] == "replicate"]
    assert len(reps) == 4 * 4  # uniform, natural and 2 initial mixtures with seeds 0-3
    assert len(view) <= 8 + 16 - 2 and view["run_id"].is_unique  # initial runs among the replicates (seed 0)
    groups = view.groupby([WEIGHT + n for n in study.recipe.domain_names])["seed"].apply(sorted)
    assert (groups.apply(len) == 4).sum() == 4 and all(g == [0, 1, 2, 3] for g in groups if len(g) == 4)
    names = study.recipe.domain_names
    uniform = np.full(3, 1 / 3)
    assert any(np.allclose(uniform, w, atol=1e-3) for w in reps[[WEIGHT + n for n in names]].to_numpy(float))

    launch(study, fn=FakeTrainer(names, NOISE))
    fitted = fit(study)
    assert fitted.noise is not None and fitted.noise.dof == 12 and fitted.noise.mixtures == 4
    assert 0.5 * NOISE < fitted.noise.sd < 1.6 * NOISE
    assert fitted.n_runs == len(study.completed()) - 12  # one row per mixture: the replicate mean
    assert 0 <= fitted.noise.max_spearman <= 1
    gp = fit(study, "gp")  # the measured seed noise is the GP's noise floor
    assert gp.data.noise_sd == fitted.noise.sd and gp.surrogate.noise_sd() >= fitted.noise.sd * (1 - 1e-6)


def test_a_gp_keeps_its_noise_at_least_the_measured_seed_noise():
    """Without a floor the GP learns less noise than the runs have (its mean then chases them);
    with the replicate-measured sd it keeps at least that, also after pickling and warm starts."""
    import pickle
    from dataclasses import replace

    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(4), 30)
    runs = TrainSet(X, (X**2).sum(1) + rng.normal(0, NOISE, 30))
    free = make_surrogate("gp", 0).fit(runs)
    assert free.noise_sd() < NOISE
    floored = make_surrogate("gp", 0).fit(replace(runs, noise_sd=2 * NOISE))
    assert floored.noise_sd() == pytest.approx(2 * NOISE, rel=1e-3)
    assert pickle.loads(pickle.dumps(floored)).noise_sd() == pytest.approx(floored.noise_sd(), rel=1e-9)
    warm = make_surrogate("gp", 0)
    warm.warm_start = free.warm_state()
    assert warm.fit(replace(runs, noise_sd=2 * NOISE)).noise_sd() >= 2 * NOISE * (1 - 1e-6)
    data, floor = noise.fit_data(TrainSet(np.repeat(X[:5], 3, axis=0), rng.normal(0, NOISE, 15)))
    assert len(data) == 5 and data.noise_sd == floor.sd


def test_the_fit_does_not_depend_on_the_order_runs_finished_in(study, monkeypatch):
    """Ray returns runs in whatever order they finish; the CV folds (and so the chosen surrogate
    and its scores) must not follow that order, or the same runs could give another answer."""
    study.seed_initial()
    launch(study, fn=FakeTrainer(study.recipe.domain_names, NOISE))
    done = study.completed()
    first = fit(study, refit=True)
    for seed in range(3):
        monkeypatch.setattr(study, "completed", lambda seed=seed: done.sample(frac=1, random_state=seed))
        again = fit(study, refit=True)
        assert again.name == first.name
        assert [(s.name, s.spearman, s.mae) for s in again.scores] == [(s.name, s.spearman, s.mae) for s in first.scores]


def test_noise_floor_estimate_is_close_on_many_replicates():
    rng = np.random.default_rng(0)
    X = np.repeat(rng.dirichlet(np.ones(4), 40), 3, axis=0)
    y = MixingLaw.random(4, 0)(X) + rng.normal(0, 0.02, len(X))
    floor = noise.noise_floor(TrainSet(X, y))
    assert floor.dof == 80 and abs(floor.sd - 0.02) < 0.004
    averaged = noise.average_replicates(TrainSet(X, y))
    assert len(averaged) == 40 and np.allclose(averaged.y[0], y[:3].mean())
    # a perfect predictor's Spearman falls as the noise grows
    assert noise.attainable_spearman(averaged.y, 0.001) > noise.attainable_spearman(averaged.y, 0.05)


def test_fit_warns_about_too_few_runs_and_low_spearman():
    chosen = select(["linear"], TrainSet(np.eye(3)[[0, 1, 2, 0]] * 0.5 + 1 / 6, np.array([1.0, 2, 3, 1.1])), 2, 0)[1][0]
    msgs = noise.fit_warnings(chosen, 4, 3, None)
    assert any("fewer than 2 x domains" in m for m in msgs)
    overfit = noise.fit_warnings(chosen.__class__("x", 0.9, 0.001, 0.0, 5), 100, 3,
                                 noise.NoiseFloor(0.05, 10, 4, 0.95))
    assert len(overfit) == 1 and "overfit" in overfit[0]


def test_recommendation_is_closer_to_the_optimum_than_the_best_run():
    """On noisy runs of a known mixing law, the model's optimum beats the winner's-curse pick."""
    d, rec_regret, best_regret = 4, [], []
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    for seed in range(5):
        law = MixingLaw.random(d, seed)
        _, opt = law.optimum(space)
        X = sample(space, 40, Sampling(), np.random.default_rng(seed))
        y = law(X, noise=0.03, seed=seed)
        surrogate = make_surrogate("lightgbm", seed).fit(TrainSet(X, y))
        rec = recommendation(surrogate, "lightgbm", 0.03, len(X), space, Search(candidates=5000, top_k=64), seed)
        w = np.array(list(rec.mixture.values()))
        rec_regret.append(float(law(w[None])[0]) - opt)
        best_regret.append(float(law(X[np.argmin(y)][None])[0]) - opt)
        assert rec.interval[0] < rec.predicted < rec.interval[1]
    assert np.median(rec_regret) < np.median(best_regret)
    assert sum(r < b for r, b in zip(rec_regret, best_regret)) >= 4


def test_a_smooth_surrogate_recommends_its_optimum_not_a_top_k_average():
    """A mixing law fitted on per-domain losses (what a study records) is the true law's family:
    its refined optimum is near the true one, where RegMix's top-k average of candidates (kept for
    piecewise models) lands several times further away."""
    d, regrets, topk = 5, [], []
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    cfg = Search(candidates=5000, top_k=64)
    for seed in range(3):
        law = MixingLaw.random(d, seed)
        _, opt = law.optimum(space)
        X = sample(space, 40, Sampling(), np.random.default_rng(seed))
        parts = law.losses(X) + np.random.default_rng(seed).normal(0, 0.01, (len(X), d))
        surrogate = make_surrogate("mixing_law", seed).fit(TrainSet(X, parts.mean(1), None, parts, np.full(d, 1 / d)))
        assert not surrogate.piecewise and make_surrogate("lightgbm").piecewise
        w = np.array(list(recommendation(surrogate, "mixing_law", 0.01, len(X), space, cfg, seed).mixture.values()))
        regrets.append(float(law(w[None])[0]) - opt)
        cands = sample(space, cfg.candidates, cfg.sampling, np.random.default_rng(seed), rounded=False)
        avg = cands[np.argsort(surrogate.predict(cands))[: cfg.top_k]].mean(0)
        topk.append(float(law(avg[None])[0]) - opt)
    assert max(regrets) < 2e-3
    assert np.median(regrets) < np.median(topk) / 2


@pytest.mark.parametrize("name", ["lightgbm", "linear", "loglinear"])
def test_a_piecewise_recommendation_stays_near_the_runs(name):
    """No run put more than 0.4 on d0 and the objective falls with d0: a linear model's optimum
    is the d0 corner and a tree is flat beyond its last split, so neither knows anything there.
    The recommendation is the top-k average of candidates within the trust radius of a run."""
    d, rng = 5, np.random.default_rng(0)
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    X = rng.dirichlet(np.ones(d), 400)
    X = X[X[:, 0] <= 0.4][:60]
    y = 1 - X[:, 0] + 0.3 * X[:, 1] + rng.normal(0, 0.01, len(X))
    surrogate = make_surrogate(name, 0).fit(TrainSet(X, y))
    rec = recommendation(surrogate, name, 0.01, len(X), space, Search(candidates=5000, top_k=32), 0, support=X)
    w = np.array(list(rec.mixture.values()))
    assert np.abs(X - w).sum(1).min() <= 1.25 * trust_radius(X)
    assert w[0] >= 0.3  # still toward the better runs


@pytest.mark.slow
def test_validate_trains_baselines_and_its_verdict_is_right(study):
    names = study.recipe.domain_names
    trainer = FakeTrainer(names, 0.002)
    study.seed_initial()
    launch(study, fn=trainer)
    rec = recommend(study, fit(study))
    nearly = np.full(len(names), 1 / len(names)) + np.r_[6e-5, -6e-5, np.zeros(len(names) - 2)]
    extra = {"same": np.array([rec.mixture[n] for n in names]), "nearly-uniform": nearly}
    result = va.validate(study, rec, seeds=6, extra=extra, fn=trainer)  # the signed-rank test decides from 6
    assert [a.name for a in result.arms] == ["recommendation", "uniform", "natural", "best-run", "same",
                                             "nearly-uniform"]
    assert all(len(a.values) == 6 for a in result.arms)
    view = study.store.runs()
    stored = view[view["origin"].str.startswith("validate:")]
    # one row per distinct (mixture, seed): here natural = uniform (equal token counts), same =
    # recommendation, and a mixture within the store's precision (1e-4) of uniform is uniform
    arms = {a.name: a for a in result.arms}
    assert arms["nearly-uniform"].values == arms["uniform"].values
    assert arms["nearly-uniform"].mixture == arms["uniform"].mixture
    distinct = {tuple(np.round(list(a.mixture.values()), 6)) for a in result.arms}
    assert len(stored) == 6 * len(distinct) and set(stored["seed"]) == set(range(1000, 1006))
    assert stored["origin"].str.removeprefix("validate:").isin([a.name for a in result.arms]).all()
    truth = {a.name: float(LAW(np.array([list(a.mixture.values())]))[0]) for a in result.arms}
    for c in result.comparisons:
        gap = truth[c.name] - truth["recommendation"]
        expected = ("recommendation better" if gap > 0.01 else "recommendation worse" if gap < -0.01
                    else None)
        if expected:
            assert c.verdict == expected, (c, gap)
    same = next(c for c in result.comparisons if c.name == "same")
    assert same.verdict == "not distinguishable" and same.diff == 0
    console = Console(record=True, width=200)
    console.print(validation_table(result.measured(), result.recommendation.id))
    text = console.export_text()
    assert "uniform" in text and "natural" in text and "recommendation better" in text
    # resumable: a second validation reuses every finished run
    again = va.validate(study, rec, seeds=6, extra=extra, fn=trainer)
    assert again.launched == {"done": 0, "failed": 0}
    assert study.best()["origin"] != "validate:recommendation"  # validation runs are not the search's best


def test_validation_mixture_parsing(tmp_path):
    names = ["a", "b", "c"]
    assert parse_mixture("mine=0.2,0.3,0.5", names)[0] == "mine"
    with pytest.raises(UserError, match="sum to 1"):
        parse_mixture("bad=0.2,0.3,0.6", names)
    with pytest.raises(UserError, match="3 domains"):
        parse_mixture("bad=0.5,0.5", names)
    (tmp_path / "m.csv").write_text("name,a,b,c\nx,0.1,0.1,0.8\n")
    (tmp_path / "m.yaml").write_text("y: {a: 0.5, c: 0.5}\nz: [0.2, 0.2, 0.6]\n")
    assert list(read_mixtures(tmp_path / "m.csv", names)) == ["x"]
    got = read_mixtures(tmp_path / "m.yaml", names)
    assert np.allclose(got["y"], [0.5, 0, 0.5]) and np.allclose(got["z"], [0.2, 0.2, 0.6])


def _world(d: int = 5):
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.full(d, 0.7), np.full(d, 1 / d))
    X = sample(space, 48, Sampling(method="uniform"), np.random.default_rng(0))
    data = TrainSet(X, MixingLaw.random(d, 2)(X, noise=0.002))
    return space, data


@pytest.mark.parametrize("method", ["regmix", "argmin", "optimize", "bo", "tpe", "qmc"])
def test_batches_are_diverse_and_avoid_open_runs(method):
    space, data = _world()
    surrogate = make_surrogate("loglinear").fit(data)
    # open runs at the surrogate's optimum: every proposer wants to go there
    best = recommendation(surrogate, "loglinear", 0.01, len(data), space, Search(candidates=5000), 0)
    w = np.array(list(best.mixture.values()))
    pending = np.vstack([w, 0.98 * w + 0.02 / len(w)])
    cfg = Search(candidates=5000, top_k=16, min_distance=0.05)
    ctx = ProposalContext(surrogate, space, data, TARGET, cfg, 0, np.vstack([data.X, pending]), pending=pending)
    prop = propose(ctx, 4, method)
    W = prop.W
    assert len(W) == 4
    pair = np.abs(W[:, None] - W[None]).sum(-1) + 9 * np.eye(len(W))
    assert pair.min() >= 0.05 - 1e-9
    assert np.abs(W[:, None] - pending[None]).sum(-1).min() >= 0.05 - 1e-9


def test_kl_pull_moves_proposals_toward_natural():
    space, data = _world()
    natural = np.array([0.5, 0.2, 0.1, 0.1, 0.1])
    space = Space(space.names, space.lo, space.hi, space.prior, natural)
    surrogate = make_surrogate("loglinear").fit(data)
    dists = []
    for kl in (0.0, 1.0):
        ctx = ProposalContext(surrogate, space, data, TARGET, Search(candidates=5000, kl_to_natural=kl), 0)
        dists.append(np.abs(propose(ctx, 2, "regmix").W - natural).sum(1).mean())
    assert dists[1] < dists[0]


def _recipe(d: int, final_tokens: int, epochs: float) -> dict:
    return {"study": "p", "domains": [{"name": f"d{i}", "source": {"files": ["x"]}} for i in range(d)],
            "proxy": {"train": {"tokens": 1000}},
            "constraints": {"max_epochs": epochs, "final_tokens": final_tokens}}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=st.integers(3, 5), seed=st.integers(0, 10_000), final=st.integers(10**6, 10**8),
       epochs=st.floats(1.0, 4.0))
def test_final_tokens_caps_hold_for_every_proposer(d, seed, final, epochs):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(10**5, 10**8, d)
    if (epochs * tokens / final).clip(max=1).sum() < 1.01:  # no feasible mixture: the user error path
        tokens = tokens + int(final)
    recipe = parse_recipe(_recipe(d, final, epochs), "p.yaml")
    space = build_space(recipe, {f"d{i}": int(t) for i, t in enumerate(tokens)})
    X = sample(space, 24, Sampling(), rng)
    data = TrainSet(X, MixingLaw.random(d, seed)(X, noise=0.002))
    surrogate = make_surrogate("linear").fit(data)
    cfg = Search(candidates=2000, top_k=16)
    for method in ("regmix", "argmin", "optimize", "bo", "mfbo", "mfar", "tpe", "cmaes", "qmc", "motpe", "nsga2"):
        ctx = ProposalContext(surrogate, space, data, TARGET, cfg, seed, X)
        W = propose(ctx, 2, method).W
        assert np.all(W * final <= epochs * tokens * (1 + 1e-6) + 1e-6 * final), method
    rec = recommendation(surrogate, "linear", 0.01, len(X), space, cfg, seed)
    assert np.all(np.array(list(rec.mixture.values())) * final <= epochs * tokens * (1 + 1e-6) + 1e-6 * final)


def test_runs_on_an_older_data_hash_are_excluded_with_a_warning(study):
    study.recipe.search.replicates = None
    study.seed_initial()
    launch(study, fn=FakeTrainer(study.recipe.domain_names, 0.002))
    view = study.store.runs()
    old = view.head(2).assign(data_hash="0ld")
    study.store.append(old.drop(columns=["seq", "updated_at"]).to_dict("records"))
    fitted = fit(study)
    assert fitted.n_runs == len(view) - 2
    assert fitted.warnings[0] == "2 run(s) trained on an older data hash are excluded from the fit"


@pytest.mark.slow
def test_report_answers_first_and_shows_the_pareto_front(recipe_dict, tmp_path, ray_local):
    import ray

    from mixsearch.report.html import write_report

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    recipe_dict["objectives"] = [{"kind": "domain", "target": "docs"}, {"kind": "domain", "target": "code"}]
    recipe_dict["search"].update(initial_runs=8, surrogate="linear", candidates=2000)
    study = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "runs")
    names = study.recipe.domain_names

    def trainer(spec: dict, data: dict) -> dict:  # docs and code losses pull opposite ways
        w = np.array([spec["mixture"][n] for n in names])
        base = float(LAW(w[None])[0])
        return {"status": "done", "losses": {"docs": base - w[1], "code": base - w[0], "news": base},
                "wall_time": 0.01, "tokens": 1}

    study.seed_initial()
    launch(study, fn=trainer)
    recommend(study, fit(study))  # the report reads the stored fit and answer; it fits nothing
    page = write_report(study, tmp_path / "r.html").read_text()
    sections = [line for line in page.split("<h2>")[1:]]
    assert sections[0].startswith("Recommendation")
    assert "predicted objective" in sections[0] and "95% interval" in sections[0]
    assert "Not validated yet" in sections[0]
    assert "Pareto front" in page and "objective" in page
    front = pareto_runs(study)
    assert all(str(rid)[:10] in page for rid in front["run_id"])


@pytest.mark.parametrize("method", ["regmix", "argmin", "optimize"])
def test_regression_proposals_keep_away_from_completed_runs(method):
    """Re-training a finished mixture (or a near copy) at the same fidelity wastes a run."""
    space, data = _world()
    surrogate = make_surrogate("loglinear").fit(data)
    cfg = Search(candidates=5000, top_k=16, min_distance=0.05)
    first = propose(ProposalContext(surrogate, space, data, TARGET, cfg, 0, data.X), 4, method).W
    near = 0.99 * first + 0.01 / space.dim  # these proposals were trained (near copies) and finished
    done = TrainSet(np.vstack([data.X, near]), np.concatenate([data.y, surrogate.predict(near)]))
    W = propose(ProposalContext(surrogate, space, done, TARGET, cfg, 0, done.X), 4, method).W
    assert len(W) == 4
    assert np.abs(W[:, None] - done.X[None]).sum(-1).min() >= 0.05 - 1e-9


def test_regression_interval_uses_residuals_near_the_optimum():
    """A regression surrogate's interval comes from the out-of-fold residuals of the runs it
    predicts best, not from its global MAE (which corner mixtures far from the optimum dominate)."""
    from mixsearch.search.recommendation import near_optimum_sd, predictive_sd
    from mixsearch.surrogate.linear import LinearSurrogate

    rng = np.random.default_rng(0)
    predicted = np.linspace(2.0, 4.0, 40)
    residual = np.where(predicted < 2.5, 0.01, 0.5) * rng.choice([-1.0, 1.0], 40)  # bad fit far from the optimum
    near = near_optimum_sd(predicted, predicted + residual)
    assert near == pytest.approx(0.01)  # the best quarter (10 runs) only
    assert near_optimum_sd(predicted[:4], predicted[:4]) is None  # too few runs: fall back to the MAE
    X = rng.dirichlet(np.ones(3), 20)
    model = LinearSurrogate().fit(TrainSet(X, X @ np.array([1.0, 2.0, 3.0])))
    mae = float(np.mean(np.abs(residual)))
    assert predictive_sd(model, X[0], mae, None, near) == pytest.approx(0.01)
    assert predictive_sd(model, X[0], mae, None) == pytest.approx(mae * np.sqrt(np.pi / 2))
