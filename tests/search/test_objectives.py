"""Objectives over any metric, in either direction: stored in the user's sign, minimised internally; several
objectives give a Pareto set."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mixsearch.errors import UserError
from mixsearch.search.importer import import_runs
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.study import Study
from mixsearch.search.modelling import fit, propose_next, train_set
from tests.conftest import cli, write_recipe

OPTIMUM = np.array([0.2, 0.5, 0.3])


def accuracy(W: np.ndarray) -> np.ndarray:
    """A made-up accuracy with a known maximum of 0.9 at OPTIMUM."""
    return 0.9 - ((W - OPTIMUM) ** 2).sum(1)


def _accuracy_table(tmp_path, n: int = 40) -> tuple:
    W = np.random.default_rng(0).dirichlet(np.ones(3), n)
    df = pd.DataFrame({"mix_code": W[:, 0], "w_docs": W[:, 1], "w_news": W[:, 2], "metric_acc": accuracy(W),
                       "loss_docs": 3 + W[:, 0]})
    path = tmp_path / "acc.csv"
    df.to_csv(path, index=False)
    return path, W


def test_metric_objective_recipe_fields(recipe_dict):
    recipe_dict["objective"] = {"metric": "acc", "direction": "maximize"}
    obj = parse_recipe(recipe_dict, "r").objective
    assert obj.kind == "metric" and obj.sign == -1 and obj.label == "acc (max)"
    recipe_dict["objective"] = {"kind": "domain", "target": "docs", "metric": "acc"}
    with pytest.raises(UserError, match="kind=metric"):
        parse_recipe(recipe_dict, "r")
    recipe_dict["objective"] = {"kind": "domain", "target": "docs", "direction": "upward"}
    with pytest.raises(UserError, match="objective.direction"):
        parse_recipe(recipe_dict, "r")


def test_maximize_objective_selects_and_recommends_the_maximum(recipe_dict, tmp_path):
    recipe_dict["objective"] = {"metric": "acc", "direction": "maximize"}
    recipe_dict["search"].update({"surrogate": "gp", "proposer": "argmin", "candidates": 4000})
    study = Study.open(parse_recipe(recipe_dict, "r"), tmp_path / "runs")
    path, W = _accuracy_table(tmp_path)
    assert import_runs(study, path, {"mix_code": "w_code"}) == (40, 40)
    view = study.store.runs()
    assert np.allclose(np.sort(view["objective"]), np.sort(accuracy(W)))  # stored in the user's sign
    assert np.allclose(view["metric_acc"], view["objective"])

    best = study.best()
    assert best["objective"] == pytest.approx(accuracy(W).max())
    data = train_set(study)
    assert np.allclose(np.sort(data.y), np.sort(-accuracy(W)))  # the surrogate minimises -accuracy

    fitted = fit(study)
    proposals = propose_next(study, fitted, n=2)
    top = proposals.iloc[0]
    mixture = np.array([top["w_code"], top["w_docs"], top["w_news"]])
    assert np.abs(mixture - OPTIMUM).sum() < 0.15
    assert top["predicted"] > accuracy(W).max() - 0.02  # predicted in the user's sign, near the maximum


def test_maximize_multi_objective_pareto_in_user_sign(recipe_dict, tmp_path):
    recipe_dict["objectives"] = [{"metric": "acc", "direction": "maximize"}, {"kind": "domain", "target": "docs"}]
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    path, W = _accuracy_table(tmp_path, 12)
    cli("import", str(recipe), str(path), "--map", "mix_code=w_code", cwd=tmp_path)
    status = json.loads(cli("status", str(recipe), "--json", cwd=tmp_path).stdout)
    acc, loss = accuracy(W), 3 + W[:, 0]
    front = {round(a, 6) for a, l in zip(acc, loss) if not np.any((acc >= a) & (loss <= l) & ((acc > a) | (loss < l)))}
    assert {round(p["objectives"][0], 6) for p in status["pareto"]} == front
    assert status["best"]["objective"] == pytest.approx(acc.max())


def test_import_without_the_metric_column_names_it(recipe_dict, tmp_path):
    recipe_dict["objective"] = {"metric": "pass_at_1", "direction": "maximize"}
    study = Study.open(parse_recipe(recipe_dict, "r"), tmp_path / "runs")
    path, _ = _accuracy_table(tmp_path, 5)
    with pytest.raises(UserError, match="no metric_pass_at_1 column"):
        import_runs(study, path, {"mix_code": "w_code"})


@pytest.mark.slow
def test_multi_objective_study_gives_a_pareto_set(recipe_dict, tmp_path):
    recipe_dict["objectives"] = [{"kind": "domain", "target": "code"}, {"kind": "domain", "target": "docs"}]
    recipe_dict["search"].update(rounds=0, batch_size=3, surrogate="linear")  # of the Pareto set: the cheapest fit
    recipe = write_recipe(tmp_path / "mo.yaml", recipe_dict)
    res = json.loads(cli("run", str(recipe), "--json", cwd=tmp_path).stdout)
    props = res["rounds"][0]["proposals"]
    assert len(props) == 3 and all(abs(sum(p["mixture"].values()) - 1) < 1e-9 for p in props)
    status = json.loads(cli("status", str(recipe), "--json", cwd=tmp_path).stdout)
    front = status["pareto"]
    assert 1 <= len(front) <= 6
    df = pd.read_parquet(next((tmp_path / "runs" / "tiny" / "parts").glob("*.parquet")))
    done = df[df["status"] == "done"]
    Y = done[["objective_0", "objective_1"]].to_numpy()
    assert np.allclose(Y[:, 0], done["loss_code"]) and np.allclose(Y[:, 1], done["loss_docs"])
    for p in front:  # nothing dominates a Pareto run
        y = np.array(p["objectives"])
        assert not np.any(np.all(Y <= y, 1) & np.any(Y < y, 1))
    bad = cli("propose", str(recipe), "--method", "regmix", cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "proposes with motpe or nsga2" in bad.stderr
