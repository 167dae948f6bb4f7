"""`mixsearch import` refuses bad tables with one line naming the row and column; fidelities must be
the recipe's (or mapped to them)."""

from __future__ import annotations

import pandas as pd
import pytest

from mixsearch.errors import UserError
from mixsearch.search.importer import ImportOptions, import_table, parse_mapping
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.study import Study
from tests.conftest import cli, write_recipe

RECIPE = {"study": "imp", "domains": [{"name": "a"}, {"name": "b"}], "objective": {"kind": "mean"}}
PLAN = {**RECIPE, "proxy": {"fidelities": [{"name": "small", "tokens": 1000}, {"name": "big", "tokens": 4000}]}}
GOOD = {"w_a": [0.5, 0.2], "w_b": [0.5, 0.8], "loss_a": [2.0, 2.5], "loss_b": [3.0, 3.5]}


def _import(tmp_path, columns: dict, recipe: dict = RECIPE, mapping: list[str] = ()) -> Study:
    study = Study.open(parse_recipe(recipe, "r.yaml"), tmp_path / "runs")
    pd.DataFrame(columns).to_csv(tmp_path / "t.csv", index=False)
    import_table(study, tmp_path / "t.csv", ImportOptions(mapping=parse_mapping(list(mapping))))
    return study


@pytest.mark.parametrize(("extra", "expected"), [
    ({"seed": [1, 1e30]}, "row 3: column 'seed' is 1e+30; expected a whole number from 0 to"),
    ({"seed": [1, 2.5]}, "row 3: column 'seed' is 2.5; expected a whole number"),
    ({"tokens": [-5, 100]}, "row 2: column 'tokens' is -5; expected a whole number from 1"),
    ({"params": [-1, 100]}, "row 2: column 'params' is -1"),
    ({"loss_a": [2.0, float("nan")]}, "row 3: column 'loss_a' is not a finite number (empty)"),
    ({"loss_a": [float("nan"), float("nan")]}, "column loss_a (to compute it from) has no values"),
    ({"w_a": [11.0, 0.2]}, "row 2: mixture is off the simplex (weights sum to 11.5: w_a=11, w_b=0.5)"),
    ({"status": ["finished", "finished"]}, "column 'status': 'finished' (row 2) is not a mixsearch status"),
    ({"status": ["failed", "pending"]}, "column 'status': no row is 'done' (2 rows skipped)"),
])
def test_bad_rows_name_the_column_and_row(tmp_path, extra, expected):
    with pytest.raises(UserError) as info:
        _import(tmp_path, {**GOOD, **extra})
    assert expected in str(info.value) and str(info.value).startswith(str(tmp_path / "t.csv"))


def test_an_extra_numeric_column_is_ignored(tmp_path):
    study = _import(tmp_path, {**GOOD, "steps": [11, 12]})
    assert len(study.completed()) == 2 and "steps" not in study.completed()


def test_a_foreign_status_column_imports_once_renamed(tmp_path):
    study = _import(tmp_path, {**GOOD, "status": ["finished", "finished"]}, mapping=["status=run_status"])
    assert len(study.completed()) == 2


def test_unknown_fidelities_are_an_error_that_lists_the_plan_and_the_map(tmp_path):
    pool = {**GOOD, "fidelity": ["0.5B", "7B"]}
    with pytest.raises(UserError) as info:
        _import(tmp_path, pool, PLAN)
    msg = str(info.value)
    assert "column 'fidelity': row 2: fidelity '0.5B' is not in the recipe's plan (small, big)" in msg
    assert "--map 'fidelity:0.5B=NAME' --map 'fidelity:7B=NAME'" in msg
    with pytest.raises(UserError, match="'7B' is not in the recipe's plan"):
        _import(tmp_path, pool, PLAN, ["fidelity:0.5B=small"])
    study = _import(tmp_path, pool, PLAN, ["fidelity:0.5B=small", "fidelity:7B=big"])
    done = study.completed().sort_values("w_a")
    assert list(done["fidelity"]) == ["big", "small"]
    assert list(study.fidelity_values(done)) == [1.0, pytest.approx(study.fidelities["small"].value)]


def test_cli_import_errors_are_one_line_exit_2(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", PLAN)
    pd.DataFrame({**GOOD, "fidelity": ["0.5B", "7B"]}).to_csv(tmp_path / "t.csv", index=False)
    res = cli("import", str(recipe), "t.csv", cwd=tmp_path, check=False)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith("error: t.csv: column 'fidelity': row 2:")
    ok = cli("import", str(recipe), "t.csv", "--map", "fidelity:0.5B=small", "--map", "fidelity:7B=big", cwd=tmp_path)
    assert "imported 2 new runs" in ok.stderr
