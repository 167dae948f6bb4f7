"""The CLI end to end on a tiny real-text recipe in a temp dir, as a user runs it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import cli, write_recipe


def test_end_to_end(recipe_dict, tmp_path):
    recipe = write_recipe(tmp_path / "recipes" / "tiny.yaml", recipe_dict)
    prep = json.loads(cli("data", "prepare", str(recipe), "--json", cwd=tmp_path).stdout)
    assert set(prep["domains"]) == {"code", "docs", "news"} and prep["vocab_size"] == 257

    summary = json.loads(cli("run", str(recipe), "--json", cwd=tmp_path).stdout)
    assert summary["initial_added"] == 6
    assert [r["round"] for r in summary["rounds"]] == [0, 1]
    assert summary["rounds"][0]["launched"] == {"done": 6, "failed": 0}
    assert summary["rounds"][1]["launched"] == {"done": 2, "failed": 0}
    assert summary["rounds"][0]["fit"]["chosen"] in {s["name"] for s in summary["rounds"][0]["fit"]["scores"]}
    for rnd in summary["rounds"]:
        for p in rnd["proposals"]:
            assert abs(sum(p["mixture"].values()) - 1) < 1e-9 and min(p["mixture"].values()) >= 0
    assert summary["best"]["objective"] == summary["best"]["losses"]["docs"]
    rec = summary["recommendation"]  # the model's answer, first; the best run is not the answer
    assert list(summary)[0] == "recommendation" and abs(sum(rec["mixture"].values()) - 1) < 1e-6
    assert rec["interval"][0] < rec["predicted"] < rec["interval"][1] and rec["surrogate"]

    parts = list((tmp_path / "runs" / "tiny" / "parts").glob("part-*.parquet"))
    assert len(parts) == 1  # compacted at the end of the command
    view = pd.read_parquet(parts[0])
    assert len(view) == 10 and view["run_id"].is_unique
    assert (view["status"] == "done").sum() == 8 and (view["status"] == "proposed").sum() == 2

    status = json.loads(cli("status", str(recipe), "--json", cwd=tmp_path).stdout)
    assert status["by_status"] == {"done": 8, "proposed": 2} and status["best"]["run_id"]
    assert status["recommendation"] == rec

    fit = json.loads(cli("fit", str(recipe), "--surrogate", "linear", "--json", cwd=tmp_path).stdout)
    assert fit["chosen"] == "linear" and fit["runs"] == 8 and -1 <= fit["scores"][0]["spearman"] <= 1

    prop = json.loads(cli("propose", str(recipe), "--n", "3", "--method", "argmin", "--json", cwd=tmp_path).stdout)
    assert len(prop["proposals"]) == 3

    val = json.loads(cli("validate", str(recipe), "--seeds", "2", "--mixture", "mine=0.2,0.5,0.3", "--json",
                         cwd=tmp_path).stdout)
    assert [m["name"] for m in val["mixtures"]] == ["recommendation", "uniform", "natural", "best-run", "mine"]
    assert all(len(m["values"]) == 2 for m in val["mixtures"])
    assert {c["verdict"] for c in val["comparisons"]} <= {"recommendation better", "not distinguishable",
                                                          "recommendation worse"}
    view = pd.read_parquet(tmp_path / "runs" / "tiny" / "parts")
    n_val = int(view["origin"].str.startswith("validate:").sum())
    assert n_val >= 2 * 3  # natural = uniform here (equal token counts): one set of runs
    assert (view["status"] == "proposed").sum() == 5  # validate trains only its own runs

    cli("export", str(recipe), "--format", "csv", "--out", "all.csv", cwd=tmp_path)
    csv = pd.read_csv(tmp_path / "all.csv")
    assert len(csv) == 13 + n_val and {"w_code", "w_docs", "w_news", "loss_docs", "objective"} <= set(csv.columns)

    # a second `run` with no rounds trains the open proposals and adds no initial runs
    again = json.loads(cli("run", str(recipe), "--rounds", "0", "--json", cwd=tmp_path).stdout)
    assert again["initial_added"] == 0 and again["rounds"][0]["launched"]["done"] == 5


def test_human_output_and_init(tmp_path):
    res = cli("init", "recipes/mine.yaml", "--study", "mine", cwd=tmp_path)
    text = (tmp_path / "recipes" / "mine.yaml").read_text()
    assert "study: mine" in text and "mixsearch data fetch" in res.stderr
    again = cli("init", "recipes/mine.yaml", cwd=tmp_path, check=False)
    assert again.returncode == 2 and "exists already" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "missing.yaml"], "error: missing.yaml: no such recipe file"),
        (["run", "bad.yaml"], "error: bad.yaml: proxy.model.heads: Input should be greater than or equal to 1"),
        (["fit", "ok.yaml"], "error: study tiny: needs at least 4 completed target-fidelity runs"),
        (["propose", "ok.yaml", "--method", "best"], "error: --method: unknown method 'best'"),
        (["export", "ok.yaml", "--format", "xlsx"], "error: --format: unknown export format 'xlsx'"),
        (["data", "prepare", "nofiles.yaml"], "error: domain code: source: no files match"),
    ],
)
def test_user_errors_are_one_line_exit_2(recipe_dict, tmp_path, args, message):
    write_recipe(tmp_path / "ok.yaml", recipe_dict)
    bad = {**recipe_dict, "proxy": {**recipe_dict["proxy"], "model": {**recipe_dict["proxy"]["model"], "heads": 0}}}
    write_recipe(tmp_path / "bad.yaml", bad)
    nofiles = json.loads(json.dumps(recipe_dict))
    nofiles["domains"][0]["source"] = {"files": [str(tmp_path / "none" / "*.txt")]}
    write_recipe(tmp_path / "nofiles.yaml", nofiles)
    res = cli(*args, cwd=tmp_path, check=False)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), res.stderr
    assert "Traceback" not in res.stderr
