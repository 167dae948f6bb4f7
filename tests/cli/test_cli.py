"""The CLI end to end on a tiny real-text recipe in a temp dir, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mixsearch.store.parts import Store
from tests.conftest import cli, write_recipe

PROGRESS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ run [0-9a-f]{10} done objective=\d+\.\d{4} "
                      r"\[\d+/\d+\] eta (\d+:\d\d:\d\d|\?)$")


@pytest.mark.slow
def test_end_to_end(trained_documents):
    """The commands of `documents.trained`, in their order, on one study."""
    docs, folder = trained_documents, Path(trained_documents["folder"])
    prep = docs["data prepare"]
    assert set(prep["domains"]) == {"code", "docs", "news"} and prep["vocab_size"] == 257

    summary = docs["run"]
    assert summary["initial_added"] == 6 and summary["failed"] == 0
    # stderr is a pipe: one plain progress line per finished run, with time, id, status, objective, ETA
    progress = [line for line in docs["run stderr"].splitlines() if PROGRESS.match(line)]
    assert len(progress) == 8, docs["run stderr"]
    assert progress[-1].endswith("[8/8] eta 0:00:00")
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

    parts = list((folder / "after run").glob("part-*.parquet"))
    assert len(parts) == 1  # compacted at the end of the command
    view = pd.read_parquet(parts[0])
    assert len(view) == 10 and view["run_id"].is_unique
    assert (view["status"] == "done").sum() == 8 and (view["status"] == "proposed").sum() == 2

    status = docs["status"]
    assert status["by_status"] == {"done": 8, "proposed": 2} and status["best"]["run_id"]
    assert status["failed"] == 0 and status["failures"] == []  # a count, as in run/sweep
    assert status["recommendation"] == rec and not rec["validated"] and status["current_recommendation"] is None

    fit = docs["fit"]
    assert fit["chosen"] == "linear" and fit["runs"] == 8 and -1 <= fit["scores"][0]["spearman"] <= 1
    assert len(docs["propose"]["proposals"]) == 3

    val = docs["validate"]
    progress = [line for line in docs["validate stderr"].splitlines() if PROGRESS.match(line)]
    n = len(progress)  # counts its own runs, not the search's open proposals it never trains
    assert n >= 6 and progress[-1].endswith(f"[{n}/{n}] eta 0:00:00"), docs["validate stderr"]
    assert [m["name"] for m in val["mixtures"]] == ["recommendation", "uniform", "natural", "best-run", "mine"]
    assert val["recommendation_id"] == val["recommendation"]["id"] and val["recommendation"]["validated"]
    assert val["seeds_used"] == 2 and val["stopped_by"] == "seeds"
    assert all(0 <= c["wilcoxon_p"] <= 1 for c in val["comparisons"])
    answer = docs["status after validate"]["recommendation"]
    assert answer["id"] == val["recommendation_id"] and answer["validation"]["seeds_used"] == 2
    assert all(len(m["values"]) == 2 for m in val["mixtures"])
    assert {c["verdict"] for c in val["comparisons"]} <= {"recommendation better", "not distinguishable",
                                                          "recommendation worse"}
    view = pd.read_parquet(folder / "after validate")
    n_val = int(view["origin"].str.startswith("validate:").sum())
    assert n_val >= 2 * 3  # natural = uniform here (equal token counts): one set of runs
    assert (view["status"] == "proposed").sum() == 5  # validate trains only its own runs

    csv = pd.read_csv(folder / "all.csv")
    assert len(csv) == 13 + n_val and {"w_code", "w_docs", "w_news", "loss_docs", "objective"} <= set(csv.columns)

    # a second `run` with no rounds trains the open proposals and adds no initial runs
    again = docs["run again"]
    assert again["initial_added"] == 0 and again["rounds"][0]["launched"]["done"] == 5


def test_human_output_and_init(tmp_path):
    res = cli("init", "recipes/mine.yaml", "--study", "mine", cwd=tmp_path)
    text = (tmp_path / "recipes" / "mine.yaml").read_text()
    assert "study: mine" in text and "mixsearch data fetch" in res.stderr and "mixsearch data prepare" in res.stderr
    again = cli("init", "recipes/mine.yaml", cwd=tmp_path, check=False)
    assert again.returncode == 2 and "exists already" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "missing.yaml"], "error: missing.yaml: no such recipe file"),
        (["run", "bad.yaml"], "error: bad.yaml: proxy.model.heads: Input should be greater than or equal to 1"),
        (["fit", "ok.yaml"], "error: study tiny: needs at least 4 completed target-fidelity runs"),
        (["propose", "ok.yaml", "--method", "best"], "error: --method: unknown method 'best'"),
        (["validate", "ok.yaml", "--seeds", "many"], "error: --seeds: 'many': expected a number of seeds or auto"),
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


def test_json_stdout_holds_one_document_whatever_children_print(tmp_path):
    """While a --json command runs, fd 1 (inherited by Ray's processes) points at stderr."""
    code = ("import os, sys\n"
            "from mixsearch.ui.output import emit_json, json_stdout\n"
            "with json_stdout():\n"
            "    os.system('echo raylet-says-hello')\n"
            "    print('a stray print')\n"
            "    emit_json({'a': 1})\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert json.loads(res.stdout) == {"a": 1}
    assert "raylet-says-hello" in res.stderr and "a stray print" in res.stderr


def test_json_of_fetch_and_replay_and_help_lists_every_method(recipe_dict, tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    fetched = cli("data", "fetch", str(recipe), "--json", cwd=tmp_path)
    assert json.loads(fetched.stdout) == {} and "nothing to fetch" in fetched.stderr
    replay = cli("replay", "--strategies", "random,regmix", "--seeds", "1", "--domains", "2", "--pool", "20",
                 "--budget", "3", "--json", cwd=tmp_path)
    assert {row["strategy"] for row in json.loads(replay.stdout)["summary"]} == {"random", "regmix"}
    from mixsearch.recipe.schema import Search

    help_text = " ".join(cli("propose", "--help", cwd=tmp_path).stdout.split())
    for method in Search.model_fields["proposer"].annotation.__args__:
        assert method in help_text


def test_tables_in_logs_are_not_wrapped_at_80_columns(recipe_dict, tmp_path):
    names = ["source_code_of_the_standard_library", "language_reference_documentation", "release_notes"]
    for domain, name in zip(recipe_dict["domains"], names):
        domain["name"] = name
    recipe_dict["objective"]["target"] = names[1]
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    Store(tmp_path / "runs", "tiny").append([
        {"run_id": f"{i:012d}", "study": "tiny", "status": "done", "round": 0, "objective": 3.0 + i,
         **{f"w_{n}": w for n, w in zip(names, (0.2, 0.3, 0.5))}} for i in range(2)])
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    res = subprocess.run([sys.executable, "-m", "mixsearch", "status", str(recipe)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True)
    row = next(line for line in res.stdout.splitlines() if "0000000000" in line)  # the best run's row
    assert "3.0000" in row and len(row) > 80
    assert all(n in res.stdout for n in names)
