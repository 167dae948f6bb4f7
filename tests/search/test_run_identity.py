"""Run ids know their trainer: a changed command trainer (command, params, env, or the script's
content) trains new runs instead of reusing the old trainer's results; built-in ids are unchanged."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from mixsearch.hashing import stable_hash
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.study import Study
from mixsearch.search.identity import current_trainer
from mixsearch.search.modelling import fit
from tests.conftest import TRAINERS

TRAINER = TRAINERS / "quadratic.py"


def open_study(recipe_dict: dict, tmp_path: Path, trainer: dict | None) -> Study:
    recipe_dict["proxy"]["trainer"] = trainer
    if trainer is None:
        del recipe_dict["proxy"]["trainer"]
    return Study.open(parse_recipe(recipe_dict, "r.yaml"), tmp_path / "runs")


def finish_all(study: Study) -> None:
    """Mark the study's pending runs done, as a launch would."""
    view = study.store.runs()
    study.store.append([{**row, "status": "done", "objective": 0.5}
                        for row in view[view["status"] == "pending"].to_dict("records")])


def test_built_in_trainer_run_ids_are_unchanged(recipe_dict, tmp_path):
    study = open_study(recipe_dict, tmp_path, None)
    mixture, fid = {"code": 0.2, "docs": 0.5, "news": 0.3}, study.target
    same_as_before = stable_hash({"mixture": mixture, "model": fid.model.model_dump(), "train": fid.train.model_dump(),
                                  "seed": 0, "data": study.data().data_hash})
    assert study.trainer_identity is None and study.run_id(mixture, fid) == same_as_before


def test_a_changed_command_trainer_trains_new_runs(recipe_dict, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "train.py"
    shutil.copy(TRAINER, script)
    base = {"command": f"{sys.executable} train.py --config {{config}} --out {{out}}",
            "params": {"attempts": str(tmp_path / "attempts.txt")}, "timeout": 60}
    first = open_study(recipe_dict, tmp_path, base)
    n = first.seed_initial()
    assert n == recipe_dict["search"]["initial_runs"]
    finish_all(first)
    assert open_study(recipe_dict, tmp_path, {**base, "timeout": 120}).seed_initial() == 0  # same trainer: reused

    builtin = open_study(recipe_dict, tmp_path, None)
    mixture, fid = {"code": 0.2, "docs": 0.5, "news": 0.3}, builtin.target
    assert builtin.run_id(mixture, fid) != first.run_id(mixture, fid)

    changes = [{**base, "command": base["command"] + " --verbose"}, {**base, "params": {**base["params"], "lr": 2}},
               {**base, "env": {"TRAINER_MODE": "fast"}}]
    for trainer in changes:
        assert open_study(recipe_dict, tmp_path, trainer).seed_initial() == n, trainer
    script.write_text(script.read_text() + "\n# a changed training program\n")
    edited = open_study(recipe_dict, tmp_path, base)
    assert set(edited.trainer_identity["files"]) == {"train.py"}  # the script; not the interpreter
    assert edited.seed_initial() == n  # the script's content is part of the trainer


def finish_with_objective(study: Study) -> None:
    """Mark the study's pending runs done with an objective that depends on their mixture."""
    view = study.store.runs()
    study.store.append([{**row, "status": "done", "objective": 2.0 + row["w_code"] - 0.5 * row["w_docs"]}
                        for row in view[view["status"] == "pending"].to_dict("records")])


def test_runs_of_another_trainer_are_left_out_of_the_fit(recipe_dict, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(TRAINER, tmp_path / "train.py")
    base = {"command": f"{sys.executable} train.py --config {{config}} --out {{out}}", "params": {"lr": 1}}
    first = open_study(recipe_dict, tmp_path, base)
    n = first.seed_initial()
    finish_with_objective(first)
    assert fit(first, "linear").n_runs == n and not any("another trainer" in w for w in fit(first, "linear").warnings)

    changed = open_study(recipe_dict, tmp_path, {**base, "params": {"lr": 2}})
    assert changed.seed_initial() == n
    finish_with_objective(changed)
    fitted = fit(changed, "linear", refit=True)
    assert fitted.n_runs == n
    assert f"{n} run(s) trained by another trainer (proxy.trainer changed) are excluded from the fit" in fitted.warnings

    builtin = open_study(recipe_dict, tmp_path, None)  # every stored run is a command trainer's
    assert current_trainer(builtin.completed(), builtin.trainer_hash, builtin.is_current_id)[1] == 2 * n


def test_runs_stored_before_the_trainer_was_recorded_still_count(recipe_dict, tmp_path, monkeypatch):
    """A command trainer's runs stored without trainer_hash are its own when their ids match;
    the built-in GPT's runs without it are the built-in's."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(TRAINER, tmp_path / "train.py")
    base = {"command": f"{sys.executable} train.py --config {{config}} --out {{out}}"}
    study = open_study(recipe_dict, tmp_path, base)
    n = study.seed_initial()
    finish_with_objective(study)
    study.store.append([{**row, "trainer_hash": None} for row in study.store.runs().to_dict("records")])
    current, other = current_trainer(study.completed(), study.trainer_hash, study.is_current_id)
    assert len(current) == n and other == 0
    edited = open_study(recipe_dict, tmp_path, {**base, "params": {"lr": 3}})
    assert current_trainer(edited.completed(), edited.trainer_hash, edited.is_current_id)[1] == n

    builtin_dir = tmp_path / "builtin"
    builtin_dir.mkdir()
    builtin = open_study(recipe_dict, builtin_dir, None)
    builtin.seed_initial()
    finish_with_objective(builtin)
    assert set(builtin.store.runs()["trainer_hash"]) == {""}
    assert current_trainer(builtin.completed(), builtin.trainer_hash, builtin.is_current_id)[1] == 0
