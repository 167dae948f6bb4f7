"""The external command trainer: a user's program as the proxy run, through Ray, with failures."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixsearch.search.budget import Budget, spent
from mixsearch.errors import UserError
from mixsearch.execute.logtail import LOG_CAP
from mixsearch.execute.workers import WorkerPool
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.runlogs import run_logs
from mixsearch.search.study import Study
from mixsearch.search.launch import launch
from tests.conftest import TRAINERS, cli, write_recipe
from tests.execute.processes import FAMILY, alive, gone

TRAINER = TRAINERS / "quadratic.py"
OPTIMUM = {"code": 0.2, "docs": 0.5, "news": 0.3}


def command_recipe(recipe_dict: dict, tmp_path: Path, **params) -> dict:
    recipe_dict["proxy"]["trainer"] = {
        "command": f"{sys.executable} {TRAINER} --config {{config}} --out {{out}}", "timeout": 60,
        "params": {"optimum": OPTIMUM, "attempts": str(tmp_path / "attempts.txt"), **params}}
    recipe_dict["objective"] = {"metric": "acc", "direction": "maximize"}
    return recipe_dict


@pytest.mark.slow
def test_run_through_ray_with_the_cli_maximizes_the_metric(recipe_dict, tmp_path):
    recipe_dict = command_recipe(recipe_dict, tmp_path, save_config=True)
    recipe_dict["search"].update({"initial_runs": 16, "surrogate": "gp", "proposer": "argmin", "candidates": 4000})
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    summary = json.loads(cli("run", str(recipe), "--rounds", "1", "--json", cwd=tmp_path).stdout)
    assert summary["rounds"][0]["launched"] == {"done": 16, "failed": 0}
    assert summary["rounds"][1]["launched"] == {"done": 2, "failed": 0}
    best = summary["best"]
    acc = 0.9 - sum((best["mixture"][n] - OPTIMUM[n]) ** 2 for n in OPTIMUM)
    assert best["objective"] == pytest.approx(acc) and best["metrics"]["acc"] == pytest.approx(acc)
    assert best["losses"]["docs"] == pytest.approx(3 - best["mixture"]["docs"])
    top = summary["rounds"][1]["proposals"][0]
    assert sum(abs(top["mixture"][n] - OPTIMUM[n]) for n in OPTIMUM) < 0.15  # near the known maximum
    assert top["predicted"] > 0.85

    logs = tmp_path / "runs" / "tiny" / "logs" / best["run_id"]
    assert sorted(p.relative_to(logs).as_posix() for p in logs.rglob("*")) == [
        "out", "out/config.json", "stdout.log"]  # what the store does not hold: no config, metrics or empty log
    config = json.loads((logs / "out" / "config.json").read_text())
    assert config["run_id"] == best["run_id"] and config["fidelity"]["name"] == "target"
    assert config["tokens"] == recipe_dict["proxy"]["train"]["tokens"] and config["vocab_size"] == 257
    docs = config["domains"]["docs"]
    assert docs["dtype"] == "uint16" and sum(s["tokens"] for s in docs["shards"]) >= docs["train_tokens"] > 0
    assert all(Path(s["path"]).is_file() for s in docs["shards"]) and docs["sources"]["format"] == "files"
    assert config["params"]["optimum"] == OPTIMUM
    assert "attempt 1" in (logs / "stdout.log").read_text()
    shown = cli("logs", str(recipe), best["run_id"][:8], cwd=tmp_path).stdout
    assert "attempt 1" in shown and "curve" in shown  # the command's stdout and its metrics.json curve

    # validate trains with the same command trainer, not the built-in GPT
    checked = json.loads(cli("validate", str(recipe), "--seeds", "2", "--json", cwd=tmp_path).stdout)
    assert checked["launched"]["failed"] == 0 and checked["launched"]["done"] > 0
    for arm in checked["mixtures"]:
        assert len(arm["values"]) == 2
        expected = 0.9 - sum((arm["mixture"][n] - OPTIMUM[n]) ** 2 for n in OPTIMUM)
        assert arm["mean"] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("mode, error, attempts, status", [
    ("fail", "exit code 3: Traceback (most recent call last): | RuntimeError: CUDA out of memory", 2, "failed"),
    ("hang", "timed out after 2 s (killed); hanging", 2, "failed"),
    ("nan", "metrics.json: metric 'acc' is not a finite number (nan)", 2, "failed"),
    ("nofile", "wrote no metrics.json", 2, "failed"),
    ("flaky", None, 2, "done"),
])
def test_failing_commands_give_failed_rows_after_retries(ray_local, recipe_dict, tmp_path, mode, error, attempts,
                                                          status):
    recipe_dict = command_recipe(recipe_dict, tmp_path, mode=mode, raw=True)
    recipe_dict["proxy"]["trainer"].update({"timeout": 2, "data": "raw"})
    recipe_dict["proxy"]["resources"]["retries"] = 1
    recipe_dict["search"]["initial_runs"] = 4
    study = Study.open(parse_recipe(recipe_dict, "r"), tmp_path / "runs")
    study.seed_initial()
    assert launch(study, max_runs=1)[status] == 1
    row = study.store.runs().query("status != 'pending'").iloc[0]
    assert row["status"] == status
    stored = None if pd.isna(row["error"]) else row["error"]  # a null string reads as missing
    assert (error or "") in (stored or "") and (stored is None) == (error is None)
    assert len((tmp_path / "attempts.txt").read_text().split()) == attempts
    assert row["wall_time"] > 0  # a failed run held its worker until it failed: that time counts
    if mode == "hang":
        assert row["wall_time"] >= 2 * 2  # both attempts ran into the 2 s timeout
    if status == "failed":
        assert row["cpu_hours"] == pytest.approx(row["wall_time"] / 3600)
    else:  # its first, failed attempt counts too
        assert row["cpu_hours"] > row["wall_time"] / 3600
    assert row["gpu_hours"] == 0
    used = spent(study.store.runs())
    assert used.cpu_hours == used.device_hours == pytest.approx(row["cpu_hours"])
    assert Budget(hours=row["cpu_hours"] / 2).reached(used)
    if mode == "hang":  # the killed command's process group is gone
        log = (tmp_path / "runs" / "tiny" / "logs" / row["run_id"] / "stderr.log").read_text()
        assert log.strip() == "hanging"
        assert gone(int((tmp_path / "attempts.pid").read_text()))
    if status == "done":
        assert row["objective"] == pytest.approx(row["metric_acc"]) and np.isfinite(row["loss_docs"])


def test_a_quiet_run_that_succeeds_keeps_no_folder_and_a_failed_one_keeps_its_whole_folder(ray_local, recipe_dict,
                                                                                            tmp_path):
    recipe_dict = command_recipe(recipe_dict, tmp_path, raw=True, quiet=True)
    recipe_dict["proxy"]["trainer"]["data"] = "raw"
    recipe_dict["proxy"]["resources"]["retries"] = 0
    recipe_dict["search"]["initial_runs"] = 4
    for mode, runs, outcome in [("ok", 1, "done"), ("nofile", 1, "failed")]:
        recipe_dict["proxy"]["trainer"]["params"]["mode"] = mode
        study = Study.open(parse_recipe(recipe_dict, "r"), tmp_path / mode)
        study.seed_initial()
        assert launch(study, max_runs=runs)[outcome] == runs
    assert list((tmp_path / "ok" / "tiny").glob("logs/*")) == []
    (failed,) = (tmp_path / "nofile" / "tiny" / "logs").iterdir()
    assert sorted(p.name for p in failed.iterdir()) == ["config.json", "out", "stderr.log", "stdout.log"]


def test_workers_run_in_the_recipes_ray_runtime_env(ray_local, recipe_dict, tmp_path):
    recipe_dict = command_recipe(recipe_dict, tmp_path, raw=True, report_env="MIXSEARCH_RUNTIME_VALUE")
    recipe_dict["proxy"]["trainer"]["data"] = "raw"
    recipe_dict["proxy"]["resources"]["runtime_env"] = {"env_vars": {"MIXSEARCH_RUNTIME_VALUE": "7"}}
    recipe_dict["search"]["initial_runs"] = 4
    study = Study.open(parse_recipe(recipe_dict, "r"), tmp_path / "runs")
    study.seed_initial()
    try:
        assert launch(study, max_runs=1)["done"] == 1
    finally:
        WorkerPool.clear()  # its worker holds a CPU the next tests' workers need
    assert study.store.runs().query("status == 'done'")["metric_from_env"].tolist() == [7.0]


def test_command_output_is_stored_up_to_its_last_mebibyte(ray_local, recipe_dict, tmp_path):
    recipe_dict = command_recipe(recipe_dict, tmp_path, raw=True, print_bytes=3 * LOG_CAP)
    recipe_dict["proxy"]["trainer"]["data"] = "raw"
    recipe_dict["search"]["initial_runs"] = 4
    study = Study.open(parse_recipe(recipe_dict, "r"), tmp_path / "runs")
    study.seed_initial()
    assert launch(study, max_runs=1)["done"] == 1
    run_id = study.store.runs().query("status == 'done'").iloc[0]["run_id"]
    stored = (tmp_path / "runs" / "tiny" / "logs" / run_id / "stdout.log").read_bytes()
    note, kept = stored.split(b"\n", 1)
    assert len(stored) <= LOG_CAP
    dropped, total = (int(n.replace(",", "")) for n in re.findall(r"[\d,]+", note.decode())[:2])
    assert note.startswith(b"[mixsearch: the first ") and dropped + len(kept) == total > 3 * LOG_CAP
    lines = kept.decode().splitlines()
    last = 3 * LOG_CAP // 32 - 1
    assert lines[0].startswith("step ") and len(lines[0]) == 31  # whole lines only
    assert lines[-1].startswith(f"step {last:9d} loss ")  # the end of the output is kept
    assert run_logs(study, run_id).logs["stdout"] == stored.decode()


def test_builtin_trainer_cannot_report_other_metrics(recipe_dict, tmp_path):
    recipe_dict["objective"] = {"metric": "acc", "direction": "maximize"}
    recipe_dict["search"]["initial_runs"] = 4
    study = Study.open(parse_recipe(recipe_dict, "r"), tmp_path / "runs")
    study.seed_initial()
    with pytest.raises(UserError, match="give proxy.trainer.command"):
        launch(study)


def test_trainer_command_must_parse(recipe_dict):
    recipe_dict["proxy"]["trainer"] = {"command": "python 'unclosed"}
    with pytest.raises(UserError, match="proxy.trainer: command: No closing quotation"):
        parse_recipe(recipe_dict, "r")




@pytest.mark.parametrize("end", ["SIGKILL", "ray.kill"])
def test_a_command_and_its_children_die_with_their_worker(ray_local, tmp_path, end):
    """The Ray worker running a command trainer ends: killed outright (SIGKILL), or by Ray (as a
    worker is when its raylet dies or a command stops its pool: it SIGKILLs its own children first).
    The command and the processes it started go with it."""
    from mixsearch.execute.command import run_command
    from mixsearch.proxy.spec import RunSpec
    from mixsearch.execute.workers import Worker

    script, pids = tmp_path / "family.py", tmp_path / "pids"
    script.write_text(FAMILY)
    spec = RunSpec("family", {"docs": 1.0}, 0, {}, {"tokens": 1},
                   trainer={"command": f"{sys.executable} {script} {pids}", "timeout": 600,
                            "logs": str(tmp_path / "logs")}).to_dict()
    worker = ray_local.remote(Worker).options(num_cpus=1, max_restarts=0).remote()
    worker_pid = ray_local.get(worker.pid.remote(), timeout=300)
    run = worker.run.remote(run_command, spec, {})
    deadline = time.monotonic() + 120  # hang guard
    while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    trainer, child = (int(p) for p in pids.read_text().split())
    assert alive(trainer) and alive(child)
    if end == "SIGKILL":
        os.kill(worker_pid, signal.SIGKILL)
    else:
        ray_local.kill(worker, no_restart=True)
    assert gone(trainer) and gone(child)
    with pytest.raises(ray_local.exceptions.RayActorError):
        ray_local.get(run, timeout=300)


LEAVER = """\
import json, subprocess, sys
from pathlib import Path
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
Path(sys.argv[1]).write_text(str(child.pid))
(Path(sys.argv[2]) / "metrics.json").write_text(json.dumps({"acc": 1.0}))
"""


def test_processes_a_finished_command_leaves_running_end_with_it(tmp_path):
    from mixsearch.execute.command import run_command
    from mixsearch.proxy.spec import RunSpec

    script, pid = tmp_path / "leaver.py", tmp_path / "pid"
    script.write_text(LEAVER)
    spec = RunSpec("leaver", {"docs": 1.0}, 0, {}, {"tokens": 1},
                   trainer={"command": f"{sys.executable} {script} {pid} {{out}}", "timeout": 600,
                            "logs": str(tmp_path / "logs")}).to_dict()
    assert run_command(spec, {})["status"] == "done"
    assert gone(int(pid.read_text()))


LEAN = """
import json
import sys

import yaml

from mixsearch.execute import schedule
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.launch import launch
from mixsearch.search.study import Study

out = {}
for path in sys.argv[1:]:  # a command trainer's study, then the built-in GPT's, on one Ray
    recipe = parse_recipe(yaml.safe_load(open(path)), path)
    study = Study.open(recipe, sys.argv[1] + ".runs")
    study.seed_initial()
    counts = launch(study)
    worker = schedule.call(lambda: "torch" in sys.modules, resources=recipe.proxy.resources)
    out[recipe.study] = {"counts": counts, "driver": "torch" in sys.modules, "worker": worker}
schedule.shutdown()
print(json.dumps(out))
"""


@pytest.mark.slow  # starts its own Ray
def test_the_driver_loads_no_torch_nor_do_a_command_trainers_workers(recipe_dict, tmp_path):
    """A user's trainer may not use PyTorch at all: its runs cost no torch import (about 2 s of
    CPU in each process). The built-in GPT's load it on the workers only, and their results hold
    no torch object that would load it in the driver."""
    builtin = {**copy.deepcopy(recipe_dict), "study": "builtin", "search": {**recipe_dict["search"], "initial_runs": 4}}
    recipe_dict = command_recipe(recipe_dict, tmp_path)
    recipe_dict["search"]["initial_runs"] = 4
    paths = [str(write_recipe(tmp_path / "r.yaml", recipe_dict)), str(write_recipe(tmp_path / "b.yaml", builtin))]
    res = subprocess.run([sys.executable, "-c", LEAN, *paths], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.splitlines()[-1])
    assert out == {"tiny": {"counts": {"done": 4, "failed": 0}, "driver": False, "worker": False},
                   "builtin": {"counts": {"done": 4, "failed": 0}, "driver": False, "worker": True}}
