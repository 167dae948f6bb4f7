"""The study's answer: versioned recommendations, the validated one staying the answer, readers
that write nothing, validation runs kept apart from the search's best, and sequential validation."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest

from mixsearch.search import answer, validate as va
from mixsearch.store.lock import StudyLock
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.recommendation import Recommendation
from mixsearch.report.html import write_report
from mixsearch.report.sections import best_so_far
from mixsearch.search.study import Study
from mixsearch.search.verdict import BETTER, SAME, compare
from mixsearch.search.launch import launch
from mixsearch.search.modelling import fit, recommend
from tests.conftest import cli, write_recipe
from tests.search.test_fitonly import fit_only_recipe, write_pool
from tests.search.test_recommend import LAW, FakeTrainer

STAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "


@pytest.fixture
def fake(recipe_dict, tmp_path, ray_local):
    """A study whose 'proxy runs' are a known mixing law plus seed noise, and its recipe file."""
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.cloudpickle.register_pickle_by_value(sys.modules["tests.search.test_recommend"])
    recipe_dict["search"].update(initial_runs=8, candidates=1500, surrogate="linear")
    path = write_recipe(tmp_path / "t.yaml", recipe_dict)
    study = Study.open(parse_recipe(recipe_dict, str(path)), tmp_path / "runs")
    study.seed_initial()
    launch(study, fn=FakeTrainer(study.recipe.domain_names, 0.002))
    return study, path


def Lucky(trainer):
    """The trainer, with every loss 1 lower: its runs beat any run of the plain one."""

    def run(spec: dict, data: dict) -> dict:
        out = trainer(spec, data)
        return {**out, "losses": {k: v - 1.0 for k, v in out["losses"].items()}}

    return run


def _files(root) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (root / answer.HISTORY, root / "recommendation.json") if p.exists()}


def test_the_validated_recommendation_stays_the_answer_after_a_later_fit(fake, tmp_path):
    study, path = fake
    names = study.recipe.domain_names
    trainer = FakeTrainer(names, 0.002)
    first = recommend(study, fit(study), stability=False)
    assert first.id and first.created and first.runs_key and answer.history(study.store.root) == [first]
    result = va.validate(study, first, seeds=2, fn=trainer)
    assert result.to_dict()["recommendation_id"] == first.id
    later = recommend(study, fit(study, "lightgbm"), stability=False)  # another fit moves it
    assert later.id != first.id and later.distance(first) > 0
    assert [r.id for r in answer.history(study.store.root)] == [first.id, later.id]

    state = answer.state(study.store.root)
    assert state.recommendation == first and state.current == later and state.validation is not None
    assert state.distance == pytest.approx(first.distance(later))
    runs = ["--runs-dir", str(tmp_path / "runs")]
    doc = json.loads(cli("status", str(path), *runs, "--json", cwd=tmp_path).stdout)
    assert doc["recommendation"]["id"] == first.id and doc["recommendation"]["validated"]
    assert doc["recommendation"]["mixture"] == pytest.approx(first.mixture)
    assert doc["recommendation"]["validation"]["mixtures"][0]["name"] == "recommendation"
    cur = doc["current_recommendation"]
    assert cur["id"] == later.id and not cur["validated"] and cur["l1_from_validated"] == pytest.approx(state.distance)
    assert cur["hint"] == f"mixsearch validate {path}"
    text = cli("status", str(path), *runs, cwd=tmp_path).stdout
    assert text.index("(validated)") < text.index("measured:") < text.index("(not validated)")
    assert f"mixsearch validate {path}" in text
    # the same fit (reused) records no new recommendation
    again = recommend(study, fit(study, "lightgbm"), stability=False)
    assert again.id == later.id and again.created == later.created and len(answer.history(study.store.root)) == 2


def test_readers_write_no_answer_and_validation_runs_are_not_the_best(fake, tmp_path):
    study, path = fake
    names = study.recipe.domain_names
    trainer = FakeTrainer(names, 0.002)
    rec = recommend(study, fit(study), stability=False)
    va.validate(study, rec, seeds=2, fn=Lucky(trainer))  # runs finished since the fit: a reader refitted
    before = _files(study.store.root)
    fit_dir = sorted((p.name, p.stat().st_mtime_ns) for p in (study.store.root / "fit").iterdir())
    page = write_report(study, tmp_path / "r.html", str(path)).read_text()
    cli("status", str(path), "--runs-dir", str(tmp_path / "runs"), "--json", cwd=tmp_path)
    assert _files(study.store.root) == before
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (study.store.root / "fit").iterdir()) == fit_dir
    assert "No stored fit of the current runs" in page and rec.id in page

    view = study.completed()
    checks = view[view["origin"].str.startswith("validate:")]
    best_check = checks.sort_values("objective").iloc[0]
    assert best_check["objective"] < view[~view.index.isin(checks.index)]["objective"].min()  # it would win
    assert study.best()["run_id"] != best_check["run_id"]
    shown_best = re.search(r"Best observed run (\w+):", page).group(1)
    assert str(study.best()["run_id"]).startswith(shown_best)
    runs_table = page[page.index('id="table-runs"'):]
    assert str(best_check["run_id"])[:12] in runs_table and best_check["origin"] in runs_table
    y = np.array([3.0, 1.0, 2.0, 0.5])
    assert list(best_so_far(y, np.array([True, False, True, False]), 1.0)) == [3.0, 3.0, 2.0, 2.0]


def test_fit_takes_the_study_lock_and_prints_progress_off_a_terminal(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", fit_only_recipe())
    write_pool(tmp_path)
    cli("import", str(recipe), "ratios.csv", "metrics.csv", "--id", "run", "--weights-prefix", "train_",
        "--renormalize", "0.01", cwd=tmp_path)
    root = tmp_path / "runs" / "imported"
    with StudyLock(root, "test"):
        held = cli("fit", str(recipe), "--surrogate", "linear", cwd=tmp_path, check=False)
    assert held.returncode == 3 and "locked" in held.stderr and not (root / "recommendation.json").exists()
    done = cli("fit", str(recipe), "--surrogate", "linear", cwd=tmp_path)  # stderr is a pipe here
    lines = [line for line in done.stderr.splitlines() if re.match(STAMP, line)]
    assert any(line.endswith("cross-validating surrogates…") for line in lines), done.stderr
    assert any(re.search(r"cross-validating surrogates: done in \d+:\d\d:\d\d$", line) for line in lines)
    assert any("recommending" in line for line in lines)
    rec = Recommendation.from_dict(json.loads((root / "recommendation.json").read_text()))
    assert rec.stability is not None and rec.stability.replicates >= 8
    assert set(rec.stability.low) == set(rec.mixture) and 0 <= rec.stability.p_beats["uniform"] <= 1
    assert "range" in done.stdout and "P(better than)" in done.stdout


def test_a_verdict_needs_the_interval_and_the_signed_rank_test():
    rec = {s: 1.0 for s in range(6)}
    steady = {s: 1.1 + 0.001 * s for s in range(6)}
    assert compare("u", rec, steady).verdict == BETTER
    assert compare("u", rec, steady, sign=-1.0).verdict == "recommendation worse"
    # five seeds favour the recommendation, one small loss: the t-interval excludes 0, the exact
    # signed-rank test (p = 0.0625) does not; neither can decide alone
    one_off = {**steady, 5: 0.99}
    c = compare("u", rec, one_off)
    assert c.interval[0] > 0 and c.wilcoxon_p == pytest.approx(0.0625) and c.verdict == SAME
    assert compare("u", {0: 1.0, 1: 1.0, 2: 1.0}, {0: 2.0, 1: 2.1, 2: 2.2}).verdict == SAME  # 3 seeds cannot
    assert compare("u", rec, dict(rec)).wilcoxon_p == 1.0


def test_sequential_validation_stops_early_on_a_large_gain_and_runs_to_the_maximum_on_none(fake):
    study, _ = fake
    names = study.recipe.domain_names
    trainer = FakeTrainer(names, 0.03)
    rec = recommend(study, fit(study), stability=False)
    uniform = float(LAW(np.full((1, len(names)), 1 / len(names)))[0])
    assert uniform - float(LAW(np.array([[rec.mixture[n] for n in names]]))[0]) > 0.1  # a large gain
    rounds = []
    gain = va.validate(study, rec, seeds=3, fn=trainer, max_seeds=12,
                       on_round=lambda scale, c: rounds.append((scale, c.seeds)))
    assert gain.stopped_by == "decided" and len(gain.seeds) == 6 < 12
    assert rounds == [("target", 3), ("target", 4), ("target", 5), ("target", 6)]
    assert next(c for c in gain.comparisons if c.name == "uniform").verdict == BETTER
    assert all(len(a.values) == 6 for a in gain.arms)  # every mixture gets each round's seed

    # a recommendation a hair from uniform: no measurable gain, so every seed up to the maximum
    near = np.full(len(names), 1 / len(names)) + np.r_[0.002, -0.002, np.zeros(len(names) - 2)]
    tiny = Recommendation(dict(zip(names, near)), uniform, (uniform - 0.1, uniform + 0.1), "linear", 8).identified()
    none = va.validate(study, tiny, seeds=3, fn=trainer, max_seeds=8)
    assert none.stopped_by == "max-seeds" and len(none.seeds) == 8
    assert next(c for c in none.comparisons if c.name == "uniform").verdict == SAME
    assert json.loads((study.store.root / answer.VALIDATION).read_text())["seeds_used"] == 8


def test_the_validated_recommendation_is_read_as_recorded(tmp_path):
    """state() gives back the validated record as it was written (stability included), parsed once."""
    from mixsearch.search.stability import Stability

    stab = Stability(8, {"a": 0.1, "b": 0.5}, {"a": 0.4, "b": 0.9}, 0.12, {"uniform": 0.9}, "gp", {"gp": 0.7, "bimix": 0.3})
    rec = Recommendation({"a": 0.3, "b": 0.7}, 2.5, (2.4, 2.6), "gp", 20, 0.01, "k", "id1", "2026-11-29T00:00:00Z", stab)
    doc = {"fidelity": "target", "seeds": [1, 2], "comparisons": [],
           "mixtures": [{"name": "recommendation", "mean": 2.5, "sd": 0.01, "values": {"1": 2.49, "2": 2.51}}],
           "recommendation": rec.to_dict()}
    (tmp_path / answer.VALIDATION).write_text(json.dumps(doc))
    state = answer.state(tmp_path)
    assert state.recommendation == rec and state.validation == doc and state.current is None
