"""Run ids know their trainer: a changed command trainer (command, params, env, or the script's
content) trains new runs instead of reusing the old trainer's results; built-in ids are unchanged."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from mixsearch.hashing import stable_hash
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.study import Study
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
