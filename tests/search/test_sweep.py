"""Unattended sweeps: budgets, resumption after SIGKILL, worker deaths, imports, reports."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mixsearch.errors import EXIT_RUNS_FAILED, UserError
from mixsearch.search.importer import import_runs
from mixsearch.proxy.train import train_proxy
from mixsearch.recipe.schema import parse_recipe
from mixsearch.store.parts import Store
from mixsearch.search.study import Study
from mixsearch.search.launch import launch
from tests.conftest import cli, write_recipe


@pytest.mark.slow
def test_max_runs_and_budget_stop_and_the_next_sweep_resumes(recipe_dict, tmp_path):
    recipe_dict["search"]["surrogate"] = "linear"  # of budgets and resuming, not of the fit: the cheapest
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    first = json.loads(cli("sweep", str(recipe), "--max-runs", "4", "--json", cwd=tmp_path).stdout)
    assert first["stopped_by"] == "max-runs" and first["rounds"][0]["launched"] == {"done": 4, "failed": 0}
    assert first["rounds"][0]["fit"] is None  # the round is unfinished: no fit yet
    view = Store(tmp_path / "runs", "tiny").runs()
    assert (view["status"] == "done").sum() == 4 and (view["status"] == "pending").sum() == 2

    second = json.loads(cli("sweep", str(recipe), "--json", cwd=tmp_path).stdout)
    assert second["initial_added"] == 0 and second["stopped_by"] == "rounds"
    assert second["rounds"][0]["launched"] == {"done": 2, "failed": 0}
    assert len(second["rounds"][0]["proposals"]) == 2 and second["spent"]["runs"] == 6
    assert second["spent"]["cpu_hours"] > 0 and second["spent"]["tokens"] >= 6 * 4096

    third = json.loads(cli("sweep", str(recipe), "--budget-hours", "0.000001", "--json", cwd=tmp_path).stdout)
    assert third["stopped_by"] == "budget" and third["rounds"] == []  # already over budget: launches nothing
    view = Store(tmp_path / "runs", "tiny").runs()
    assert len(view) == 8 and view["run_id"].is_unique and (view["status"] == "proposed").sum() == 2


@pytest.mark.slow
def test_sigkill_mid_sweep_then_resume(recipe_dict, tmp_path):
    recipe_dict["search"].update(initial_runs=8, rounds=0, surrogate="linear")  # the cheapest fit
    recipe_dict["proxy"]["train"]["tokens"] = 262144  # seconds a run: stored rows land once a second
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    store = Store(tmp_path / "runs", "tiny")
    proc = subprocess.Popen([sys.executable, "-m", "mixsearch", "sweep", str(recipe)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    done = 0
    while time.time() < deadline and done < 3:
        time.sleep(0.3)
        view = store.runs()
        done = int((view["status"] == "done").sum()) if len(view) else 0
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its embedded Ray, as a cron timeout would
    proc.wait()
    assert 3 <= done < 8, "the sweep must be killed mid-way"
    view = store.runs()
    assert len(view) == 8 and view["run_id"].is_unique and not store.unreadable
    assert (tmp_path / "runs" / "tiny" / ".lock").exists()  # left behind by the killed process

    res = json.loads(cli("sweep", str(recipe), "--json", cwd=tmp_path).stdout)
    assert res["initial_added"] == 0
    assert res["rounds"][0]["launched"]["done"] == 8 - int((view["status"] == "done").sum())
    final = store.runs()
    assert (final["status"] == "done").sum() == 8 and final["run_id"].is_unique
    assert len(store.log()) == len(final)  # compacted: exactly one row per run


@pytest.fixture
def study(recipe_dict, tmp_path, ray_local):
    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "runs")


def _dies_once(marker_dir: str):
    def run(spec: dict, data: dict) -> dict:
        mark = Path(marker_dir) / spec["run_id"]
        if not mark.exists():
            mark.write_text("died")
            os._exit(1)  # the Ray worker process dies mid-run
        return train_proxy(spec, data)

    return run


def test_worker_killed_mid_run_is_retried_and_stored_once(study, tmp_path):
    study.seed_initial()
    marks = tmp_path / "marks"
    marks.mkdir()
    assert launch(study, fn=_dies_once(str(marks))) == {"done": 6, "failed": 0}
    assert len(list(marks.iterdir())) == 6
    view = study.store.runs()
    assert len(view) == 6 and (view["status"] == "done").all() and len(study.store.log()) == 12  # pending + done


def test_failed_runs_give_exit_4(recipe_dict, tmp_path):
    recipe_dict["proxy"]["train"].update(lr=1e30, grad_clip=1e30)  # every run diverges
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    res = cli("sweep", str(recipe), "--json", cwd=tmp_path, check=False)
    assert res.returncode == EXIT_RUNS_FAILED
    summary = json.loads(res.stdout)
    assert summary["failed"] == 6 and summary["stopped_by"] == "too-few-completed-runs"
    status = json.loads(cli("status", str(recipe), "--json", cwd=tmp_path).stdout)
    assert status["by_status"] == {"failed": 6} and status["failed"] == 6
    assert all("diverged" in f["error"] for f in status["failures"])


def _runs_file(tmp_path: Path, **overrides) -> Path:
    df = pd.DataFrame({"code_share": [0.2, 0.5, 0.3], "w_docs": [0.3, 0.25, 0.3], "w_news": [0.5, 0.25, 0.4],
                       "loss_docs": [3.1, 3.0, 3.2], "tokens": [4096, 4096, 8192]})
    for k, v in overrides.items():
        df[k] = v
    path = tmp_path / "elsewhere.csv"
    df.to_csv(path, index=False)
    return path


def test_import_validates_everything_before_storing(recipe_dict, tmp_path):
    study = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "runs")
    mapping = {"code_share": "w_code"}
    cases = [
        ({"loss_docs": [3.1, float("nan"), 3.2]}, r"elsewhere.csv: row 3: column 'loss_docs' is not a finite number"),
        ({"w_news": [0.5, 0.9, 0.4]}, r"elsewhere.csv: row 3: mixture is off the simplex \(weights sum to 1.65"),
        ({"w_web": [0.1, 0.1, 0.1]}, r"elsewhere.csv: column w_web: unknown domain 'web'"),
    ]
    for overrides, message in cases:
        with pytest.raises(UserError, match=message):
            import_runs(study, _runs_file(tmp_path, **overrides), mapping)
        assert study.store.runs().empty  # nothing written, not even the valid rows
    with pytest.raises(UserError, match="no weight column for domain 'code'"):
        import_runs(study, _runs_file(tmp_path), {})
    with pytest.raises(UserError, match="--map: no column 'nope'"):
        import_runs(study, _runs_file(tmp_path), {"nope": "w_code"})

    assert import_runs(study, _runs_file(tmp_path), mapping) == (3, 3)
    assert import_runs(study, _runs_file(tmp_path), mapping) == (0, 3)  # idempotent
    view = study.store.runs()
    assert list(view["objective"]) == [3.1, 3.0, 3.2]  # objective = loss of the recipe's target
    assert sorted(view["tokens"]) == [4096, 4096, 8192]


def test_import_cli_and_report(recipe_dict, tmp_path):
    recipe_dict["search"]["surrogate"] = "linear"  # the report's sections, not the fit: the cheapest
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    path = tmp_path / "many.parquet"
    rows = []
    for i in range(12):
        a = (i + 1) / 14
        rows.append({"w_code": a, "w_docs": (1 - a) / 2, "w_news": (1 - a) / 2, "objective": 3 + (a - 0.4) ** 2,
                     "loss_code": 3 - a, "tokens": 4096 if i % 2 else 8192})
    pd.DataFrame(rows).to_parquet(path)
    res = cli("import", str(recipe), str(path), "--json", cwd=tmp_path)
    assert json.loads(res.stdout) | {"renormalized": 0} == {"imported": 12, "rows": 12, "already_present": 0,
                                                             "renormalized": 0, "skipped_not_done": 0, "unmatched": 0}
    bad = cli("import", str(recipe), str(tmp_path / "missing.csv"), cwd=tmp_path, check=False)
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: {tmp_path / 'missing.csv'}: no such file"
    cli("fit", str(recipe), cwd=tmp_path)  # report only reads: the answer and the fit come from `fit`
    cli("report", str(recipe), "--out", "report.html", cwd=tmp_path)
    page = (tmp_path / "report.html").read_text()
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings == ["Recommendation", "Objective against each domain&#x27;s weight", "Search history",
                        "Surrogate", "Runs", "Recipe, data and versions"]  # tokens >= the target's: one fidelity
    figures = re.findall(r'<div class="fig" id="fig-([a-z-]+)"', page)
    assert figures == ["weights", "by-weight", "history", "fit"]
