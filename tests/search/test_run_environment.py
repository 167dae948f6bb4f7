"""Each run records the torch version and thread count it trained with, so results compare
across machines; stores written before these columns existed still load."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from mixsearch.execute import schedule
from mixsearch.recipe.schema import parse_recipe
from mixsearch.store.parts import Store
from mixsearch.search.study import Study
from mixsearch.search.launch import launch
from tests.store.test_store_safety import in_process


def test_built_in_runs_record_torch_and_threads(recipe_dict, tmp_path, monkeypatch):
    monkeypatch.setattr(schedule, "connect", lambda *a, **k: None)
    monkeypatch.setattr(schedule, "execute", in_process)
    recipe_dict["search"]["initial_runs"] = 4
    recipe_dict["proxy"]["resources"]["num_cpus"] = 2
    study = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "runs")
    study.seed_initial()
    before = torch.get_num_threads()
    try:
        assert launch(study)["done"] == 4
    finally:
        torch.set_num_threads(before)
    done = study.completed()
    assert set(done["torch"]) == {torch.__version__}
    assert set(done["threads"]) == {2}  # proxy.resources.num_cpus threads on the CPU


def test_a_store_without_the_environment_columns_loads(tmp_path):
    store = Store(tmp_path, "st", ["w_a", "w_b"])
    store.parts.mkdir(parents=True)
    old = pa.table({"run_id": ["r1"], "study": ["st"], "status": ["done"], "objective": [2.5], "w_a": [0.5],
                    "w_b": [0.5], "seq": [1]})
    pq.write_table(old, store.parts / "part-00000000000000000001-1-abcdef01.parquet")
    store.append([{"run_id": "r2", "study": "st", "status": "done", "objective": 2.4, "w_a": 0.2, "w_b": 0.8,
                   "torch": "2.13.0", "threads": 4, "trainer_hash": "abc"}])
    view = store.runs().set_index("run_id")
    assert pd.isna(view.loc["r1", "torch"]) and pd.isna(view.loc["r1", "threads"])
    assert pd.isna(view.loc["r1", "trainer_hash"])
    assert view.loc["r2", "torch"] == "2.13.0" and view.loc["r2", "threads"] == 4
