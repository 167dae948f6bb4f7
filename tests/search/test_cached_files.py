"""Files a study keeps under runs/<study>/ are data: nothing in them runs when read, and one that is
unreadable or of the wrong shape is ignored with a warning and rebuilt."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from mixsearch.search.importer import ImportOptions, import_table
from mixsearch.store.lock import StudyLock
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.recommendation import load as load_recommendation
from mixsearch.search.study import Study
from mixsearch.surrogate import fitstore
from mixsearch.search import answer
from mixsearch.search.modelling import LAST_PROPOSAL, fit, last_proposal
from mixsearch.search.answer import validation as load_validation
from tests.conftest import cli, write_recipe
from tests.search.test_fitonly import fit_only_recipe, write_pool

WRONG_SHAPES = ["[1, 2, 3]", "{}", '"text"', "null", "not json {", '{"key": 1, "chosen": [], "scores": {}}',
                '{"mixture": {"web": "x"}, "interval": 3}', "\udcff"]


class Marker:
    """Unpickling this creates a file: the proof that a pickle was loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.makedirs, (self.path,))


def _fitted_study(tmp_path) -> Study:
    study = Study.open(parse_recipe(fit_only_recipe(), "r.yaml"), tmp_path / "runs")
    write_pool(tmp_path)
    import_table(study, tmp_path / "ratios.csv", ImportOptions(metrics=tmp_path / "metrics.csv", id_column="run",
                                                                weights_prefix="train_", renormalize=0.01))
    return study


def test_a_crafted_pickle_in_the_fit_dir_never_runs(tmp_path):
    study = _fitted_study(tmp_path)
    first = fit(study, "linear")
    marker = tmp_path / "pwned"
    folder = study.store.root / fitstore.DIR
    for name in ("fit.pkl", "fit.npz", "model.pt", "fit.json.pkl"):
        (folder / name).write_bytes(pickle.dumps({"key": first.key, "result": Marker(str(marker))}))
    again = fit(study, "linear")
    refit = fit(study, "linear", refit=True)
    assert not marker.exists()
    assert again.reused and not refit.reused
    W = np.random.default_rng(1).dirichlet(np.ones(3), size=50)
    assert np.array_equal(again.surrogate.predict(W), first.surrogate.predict(W))
    assert np.array_equal(again.chosen.predicted, first.chosen.predicted)  # the stored out-of-fold predictions
    assert [s.to_dict() for s in again.scores] == [s.to_dict() for s in first.scores]


def test_the_stored_fit_is_json_only(tmp_path):
    study = _fitted_study(tmp_path)
    fit(study, "lightgbm")
    files = sorted(p.name for p in (study.store.root / fitstore.DIR).iterdir())
    assert files == ["fit.json"]
    doc = json.loads((study.store.root / fitstore.DIR / "fit.json").read_text())
    assert doc["chosen"] == "lightgbm" and len(doc["scores"][0]["predicted"]) == 24


@pytest.mark.parametrize("text", WRONG_SHAPES)
def test_a_fit_file_of_the_wrong_shape_is_ignored_with_a_warning_and_rebuilt(tmp_path, capsys, text):
    study = _fitted_study(tmp_path)
    fit(study, "linear")
    path = study.store.root / fitstore.DIR / "fit.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert fitstore.summary(study.store.root) is None
    assert f"warning: {path}: " in capsys.readouterr().err
    fitted = fit(study, "linear")
    assert not fitted.reused and fitstore.summary(study.store.root)["chosen"] == "linear"
    assert fit(study, "linear").reused


@pytest.mark.parametrize("text", WRONG_SHAPES)
def test_other_study_files_of_the_wrong_shape_are_ignored_with_a_warning(tmp_path, capsys, text):
    root = tmp_path / "st"
    root.mkdir()
    for name, load in (("recommendation.json", load_recommendation), ("validation.json", load_validation)):
        (root / name).write_bytes(text.encode("utf-8", "surrogateescape"))
        assert load(root) is None
        assert f"warning: {root / name}: " in capsys.readouterr().err
    (root / LAST_PROPOSAL).write_bytes(text.encode("utf-8", "surrogateescape"))
    assert last_proposal(root) is None
    assert f"warning: {root / LAST_PROPOSAL}: " in capsys.readouterr().err
    (root / answer.HISTORY).write_bytes(text.encode("utf-8", "surrogateescape"))
    assert answer.history(root) == []
    assert f"warning: {root / answer.HISTORY}: " in capsys.readouterr().err
    (root / ".lock").write_bytes(text.encode("utf-8", "surrogateescape"))
    assert StudyLock(root).holder() is None


def test_status_with_damaged_study_files_warns_and_exits_0(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", fit_only_recipe())
    write_pool(tmp_path)
    cli("import", str(recipe), "ratios.csv", "metrics.csv", "--id", "run", "--weights-prefix", "train_",
        "--renormalize", "0.01", cwd=tmp_path)
    cli("propose", str(recipe), "--surrogate", "linear", cwd=tmp_path)
    root = tmp_path / "runs/imported"
    for name in ("fit/fit.json", "recommendation.json", ".lock"):
        (root / name).write_text("[1, 2, 3]")
    res = cli("status", str(recipe), "--json", cwd=tmp_path)
    doc = json.loads(res.stdout)
    assert doc["surrogate"] is None and doc["recommendation"] is None and doc["locked_by"] is None
    assert "warning: runs/imported/fit/fit.json: " in res.stderr
    assert "warning: runs/imported/recommendation.json: " in res.stderr
    (root / ".lock").unlink()
    fit = json.loads(cli("fit", str(recipe), "--surrogate", "linear", "--json", cwd=tmp_path).stdout)
    assert not fit["reused"]
    assert json.loads(cli("status", str(recipe), "--json", cwd=tmp_path).stdout)["surrogate"]["current"]


def test_logs_show_a_curve_of_another_shape_as_stored(tmp_path):
    from mixsearch.store.parts import Store

    recipe = write_recipe(tmp_path / "r.yaml", fit_only_recipe())
    store = Store(tmp_path / "runs", "imported")
    store.append([{"run_id": f"run{i}", "status": "done", "curve": json.dumps(curve)}
                  for i, curve in enumerate(["text", [1, 2], {"step": 1}, [[1, 3.0]]])])
    for i in range(4):
        res = cli("logs", str(recipe), f"run{i}", cwd=tmp_path)
        assert "curve: not a list of points, shown as stored: " in res.stderr
