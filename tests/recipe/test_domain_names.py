"""Domain names of real corpora (Pile-CC, c4.en, tulu-3-sft) work everywhere a name becomes a
column, a file name or an import mapping: tokenizing, training, the store, import and export."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from mixsearch.execute import schedule
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.study import Study
from mixsearch.search.launch import launch
from tests.conftest import cli, write_recipe
from tests.store.test_store_safety import in_process

NAMES = {"code": "Pile-CC", "docs": "c4.en", "news": "tulu-3-sft"}


def _renamed(recipe_dict: dict) -> dict:
    for d in recipe_dict["domains"]:
        d["name"] = NAMES[d["name"]]
    recipe_dict["objective"] = {"kind": "domain", "target": "c4.en"}
    recipe_dict["constraints"] = {"domains": {"Pile-CC": {"max": 0.8}}}
    recipe_dict["search"]["initial_runs"] = 4
    return recipe_dict


def test_dotted_and_dashed_names_tokenize_train_and_store(recipe_dict, tmp_path, monkeypatch):
    monkeypatch.setattr(schedule, "connect", lambda *a, **k: None)
    monkeypatch.setattr(schedule, "execute", in_process)
    study = Study.open(parse_recipe(_renamed(recipe_dict), "t.yaml"), tmp_path / "runs")
    data = study.data()
    assert set(data.domains) == set(NAMES.values()) and all(d.train_tokens > 0 for d in data.domains.values())
    study.seed_initial()
    launch(study)
    done = study.completed()
    assert len(done) == 4
    for name in NAMES.values():
        assert np.isfinite(done[f"loss_{name}"]).all() and f"w_{name}" in done
    assert (done["w_Pile-CC"] <= 0.8 + 1e-9).all()
    assert np.allclose(done["objective"], done["loss_c4.en"])


def test_dotted_and_dashed_names_round_trip_through_import_and_export(recipe_dict, tmp_path):
    fit_only = {"study": "corpora", "domains": [{"name": n, "tokens": "2.0e9"} for n in NAMES.values()],
                "objective": {"kind": "domain", "target": "c4.en"}, "search": {"candidates": 2000, "cv_folds": 3}}
    recipe = write_recipe(tmp_path / "r.yaml", fit_only)
    rng = np.random.default_rng(0)
    W = rng.dirichlet(np.ones(3), size=8)
    pd.DataFrame({"mix.Pile-CC": W[:, 0], "mix.c4.en": W[:, 1], "tulu share": W[:, 2],
                  "c4 loss": 3 - W[:, 1]}).to_csv(tmp_path / "runs.csv", index=False)
    res = cli("import", str(recipe), "runs.csv", "--weights-prefix", "mix.", "--map", "tulu share=w_tulu-3-sft",
              "--map", "c4 loss=loss_c4.en", "--json", cwd=tmp_path)
    assert json.loads(res.stdout)["imported"] == 8
    cli("export", str(recipe), "--format", "csv", "--out", "all.csv", cwd=tmp_path)
    exported = pd.read_csv(tmp_path / "all.csv")
    assert {"w_Pile-CC", "w_c4.en", "w_tulu-3-sft", "loss_c4.en"} <= set(exported.columns)
    assert np.allclose(exported.sort_values("w_Pile-CC")["w_Pile-CC"], np.sort(W[:, 0]))
    other = write_recipe(tmp_path / "o.yaml", {**fit_only, "study": "again"})
    back = json.loads(cli("import", str(other), "all.csv", "--json", cwd=tmp_path).stdout)
    assert back["imported"] == 8
    fit = json.loads(cli("fit", str(other), "--surrogate", "linear", "--json", cwd=tmp_path).stdout)
    assert fit["chosen"] == "linear"
