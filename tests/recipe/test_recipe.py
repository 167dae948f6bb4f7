"""Recipe validation: good recipes load, bad ones fail with one line naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixsearch.errors import UserError
from mixsearch.recipe.schema import load_recipe, parse_recipe_text
from tests.conftest import write_recipe

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_recipes_validate():
    r = load_recipe(ROOT / "recipes" / "quickstart.yaml")
    assert len(r.domains) >= 5
    assert r.objective.kind == "eval" and r.objective.target in {e.name for e in r.eval_sets}
    starter = parse_recipe_text((ROOT / "mixsearch" / "starter.yaml").read_text(), "starter")
    assert starter.study == "starter"


def test_tiny_recipe_loads(recipe_dict, tmp_path):
    r = load_recipe(write_recipe(tmp_path / "r.yaml", recipe_dict))
    assert r.domain_names == ["code", "docs", "news"]
    assert r.proxy.model.width == 32


def _error(tmp_path: Path, data: dict) -> str:
    path = write_recipe(tmp_path / "bad.yaml", data)
    with pytest.raises(UserError) as info:
        load_recipe(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path) + ": ")
    return msg


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("study"), "study: Field required"),
        (lambda d: d["proxy"]["model"].update(width="wide"), "proxy.model.width"),
        (lambda d: d["proxy"]["model"].update(width=30, heads=4), "not divisible by heads"),
        (lambda d: d["proxy"]["train"].update(tokens=0), "proxy.train.tokens"),
        (lambda d: d["proxy"]["train"].update(tokns=5), "proxy.train.tokns: Extra inputs are not permitted"),
        (lambda d: d["domains"][1].update(name="9bad"), "domains[9bad].name: String should match"),
        (lambda d: d["domains"][0].update(source={"files": ["a"], "jsonl": "b"}), "domains[code].source"),
        (lambda d: d["objective"].update(target="nope"), "objective.target 'nope' is not a domain"),
        (lambda d: d.update(objective={"kind": "eval", "target": "docs"}), "is not an eval_set"),
        (lambda d: d.update(constraints={"domains": {"web": {"max": 0.5}}}), "unknown domain 'web'"),
        (lambda d: d.update(constraints={"domains": {"code": {"min": 0.6}, "docs": {"min": 0.6}}}),
         "constraints allow no mixture"),
        (lambda d: d.update(constraints={"domains": {"code": {"min": 0.6, "max": 0.2}}}),
         "constraints.domains.code: min 0.6 > max 0.2"),
        (lambda d: d["search"].update(surrogate="gp-magic"), "search.surrogate"),
        (lambda d: d.update(domains=d["domains"][:1]), "domains: List should have at least 2 items"),
        (lambda d: d.update(objectives=[{"kind": "mean"}]), "objectives needs two or more entries"),
        (lambda d: d.update(objectives=[{"kind": "mean"}, {"kind": "domain", "target": "web"}]),
         "objectives[1].target 'web' is not a domain"),
        (lambda d: d["proxy"].update(fidelities=[{"name": "a", "width": 31}]), "fidelity a: width 31 is not divisible"),
        (lambda d: d["search"].update(initial_fidelities=["huge"]), "unknown fidelity 'huge'"),
    ],
)
def test_invalid_recipes_name_the_field(recipe_dict, tmp_path, mutate, expected):
    mutate(recipe_dict)
    assert expected in _error(tmp_path, recipe_dict)


def test_invalid_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("study: [unclosed\n")
    with pytest.raises(UserError, match=r"broken.yaml: invalid YAML at line"):
        load_recipe(bad)
    with pytest.raises(UserError, match="no such recipe file"):
        load_recipe(tmp_path / "missing.yaml")
    bad.write_text("- just\n- a list\n")
    with pytest.raises(UserError, match="expected a mapping"):
        load_recipe(bad)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["proxy"]["model"].update(layers=99999999999), "proxy.model.layers: Input should be less than"),
        (lambda d: d["proxy"]["model"].update(width=99999999998, heads=2), "proxy.model.width"),
        (lambda d: d["search"].update(initial_runs=100000000000000), "search.initial_runs"),
        (lambda d: d["search"].update(candidates=10**12), "search.candidates"),
        (lambda d: d["proxy"]["train"].update(lr=float("inf")), "proxy.train.lr: Input should be a finite number"),
        (lambda d: d["proxy"]["train"].update(lr=float("nan")), "proxy.train.lr: Input should be a finite number"),
        (lambda d: d["proxy"]["train"].update(tokens=2.5), "proxy.train.tokens: Input should be a valid integer"),
        (lambda d: d["proxy"]["train"].update(tokens="2.5e0"), "proxy.train.tokens: Input should be a valid integer"),
        (lambda d: d["proxy"]["train"].update(tokens="1e30"), "proxy.train.tokens: Input should be less than"),
        (lambda d: d.update(seed=1e30), "seed: Input should be less than"),
        (lambda d: d.update(seed=-1), "seed: Input should be greater than"),
        (lambda d: d["objective"].update(kind="mean", weights={"code": float("inf")}), "objective.weights.code"),
        (lambda d: d["proxy"].update(fidelities=[{"name": "a", "layers": 10**6}]), "proxy.fidelities[a].layers"),
        (lambda d: d["domains"][0].update(name="a/b"), "String should match"),
        (lambda d: d["domains"][0].update(name="x" * 101), "at most 100 characters"),
    ],
)
def test_out_of_range_and_non_finite_values_name_the_field(recipe_dict, tmp_path, mutate, expected):
    mutate(recipe_dict)
    assert expected in _error(tmp_path, recipe_dict)


def test_integers_in_scientific_notation_and_dotted_domain_names(recipe_dict, tmp_path):
    text = write_recipe(tmp_path / "r.yaml", recipe_dict).read_text()
    text = text.replace("name: code", "name: Pile-CC").replace("name: docs", "name: c4.en")
    text = text.replace("name: news", "name: tulu-3-sft").replace("target: docs", "target: c4.en")
    text += "budget:\n  tokens: 2.0e9\n"
    (tmp_path / "r.yaml").write_text(text)
    r = load_recipe(tmp_path / "r.yaml")
    assert r.domain_names == ["Pile-CC", "c4.en", "tulu-3-sft"]
    assert r.budget.tokens == 2_000_000_000 and isinstance(r.budget.tokens, int)
    assert parse_recipe_text(text.replace("tokens: 2.0e9", "tokens: 6e9"), "r").budget.tokens == 6 * 10**9
    assert parse_recipe_text(text.replace("tokens: 2.0e9", "tokens: 1_000"), "r").budget.tokens == 1000


def test_run_with_an_out_of_range_recipe_is_one_line_exit_2(recipe_dict, tmp_path):
    from tests.conftest import cli

    recipe_dict["search"]["initial_runs"] = 100000000000000
    res = cli("run", str(write_recipe(tmp_path / "r.yaml", recipe_dict)), cwd=tmp_path, check=False)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [f"error: {tmp_path / 'r.yaml'}: search.initial_runs: "
                                               "Input should be less than or equal to 100000"]
