"""Runs a command trains reach the recipe's tracker when the command's launch finishes."""

from __future__ import annotations

import sys

import pytest

from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.launch import launch
from mixsearch.search.study import Study
from tests.search.test_recommend import FakeTrainer
from tests.tracking.test_tracking import _mlflow_runs

pytestmark = pytest.mark.slow


def test_launched_runs_are_logged_once(recipe_dict, tmp_path, ray_local):
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules["tests.search.test_recommend"])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    recipe_dict["tracking"] = {"mlflow": {"uri": uri}}
    study = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "runs")
    study.seed_initial()
    launch(study, fn=FakeTrainer(study.recipe.domain_names, 0.002), max_runs=4)
    assert len(_mlflow_runs(uri, "tiny")) == 4  # the experiment is named after the study
    launch(study, fn=FakeTrainer(study.recipe.domain_names, 0.002))
    runs = _mlflow_runs(uri, "tiny")
    assert len(runs) == 6 and {r.data.params["trainer"] for r in runs} == {"builtin"}
    assert sorted(r.data.tags["mixsearch.run_id"] for r in runs) == sorted(study.completed()["run_id"])
