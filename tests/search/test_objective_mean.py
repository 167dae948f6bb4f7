"""`objective: {kind: mean, over: [...], weights: {...}}` averages domains, held-out text and tasks."""

from __future__ import annotations

import pytest

from mixsearch.errors import UserError
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.objectives import objective_value, objective_weights


def _recipe(recipe_dict: dict, objective: dict, tmp_path):
    task = tmp_path / "qa.jsonl"
    task.write_text('{"context": "2 + 2 =", "continuation": " 4"}\n')
    recipe_dict["eval_sets"] = [{"name": "held", "source": {"files": [str(tmp_path / "*.txt")]}},
                                {"name": "qa", "kind": "task", "source": {"jsonl": str(task)}}]
    recipe_dict["objective"] = objective
    return parse_recipe(recipe_dict, "r.yaml")


def test_mean_over_domains_eval_sets_and_tasks(recipe_dict, tmp_path):
    r = _recipe(recipe_dict, {"kind": "mean", "over": ["docs", "held", "qa"], "weights": {"qa": 2}}, tmp_path)
    weights = objective_weights(r.objective, r.domain_names)
    assert weights == {"docs": 0.25, "held": 0.25, "qa": 0.5} and r.objective.label == "mean:docs+held+qa"
    losses = {"code": 9.0, "docs": 2.0, "news": 9.0, "held": 4.0, "qa": 1.0}
    assert objective_value(r.objective, losses, r.domain_names) == pytest.approx(0.25 * 2 + 0.25 * 4 + 0.5 * 1)
    with pytest.raises(KeyError, match="loss_qa"):
        objective_value(r.objective, {"docs": 2.0, "held": 4.0}, r.domain_names)


def test_mean_without_over_keeps_its_meaning(recipe_dict, tmp_path):
    r = _recipe(recipe_dict, {"kind": "mean"}, tmp_path)
    thirds = {"code": 1 / 3, "docs": 1 / 3, "news": 1 / 3}
    assert objective_weights(r.objective, r.domain_names) == pytest.approx(thirds)
    r = _recipe(recipe_dict, {"kind": "mean", "weights": {"code": 3, "qa": 1}}, tmp_path)
    assert objective_weights(r.objective, r.domain_names) == {"code": 0.75, "qa": 0.25}


@pytest.mark.parametrize("objective, message", [
    ({"kind": "mean", "over": ["docs", "nope"]}, "objective.over names 'nope', neither a domain nor an eval_set"),
    ({"kind": "mean", "over": ["docs"], "weights": {"qa": 1}}, "objective.weights names 'qa', not one of over"),
    ({"kind": "mean", "weights": {"nope": 1}}, "objective.weights names 'nope', neither a domain nor an eval_set"),
    ({"kind": "domain", "target": "docs", "over": ["docs"]}, "objective: over and weights go with kind=mean"),
    ({"kind": "mean", "over": ["docs"], "weights": {"docs": -1}}, "weights must be >= 0 with a positive sum"),
])
def test_bad_means_name_the_field(recipe_dict, tmp_path, objective, message):
    with pytest.raises(UserError) as exc:
        _recipe(recipe_dict, objective, tmp_path)
    assert message in str(exc.value)


def test_a_task_reads_jsonl(recipe_dict, tmp_path):
    recipe_dict["eval_sets"] = [{"name": "qa", "kind": "task", "source": {"files": ["x.txt"]}}]
    with pytest.raises(UserError, match=r"eval_sets\[qa\]: kind=task reads a local source.jsonl"):
        parse_recipe(recipe_dict, "r.yaml")
