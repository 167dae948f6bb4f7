"""Device-hours are counted on the device a run trained on: a run that asks for a GPU where CUDA
is not usable trains on the CPU, says so once per command, and counts CPU-hours."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from mixsearch.search.budget import Budget, run_hours, spent

SCRIPT = """
import json, os, sys
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # single-machine mode, as the commands start Ray
import ray
from mixsearch.search.budget import spent
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.study import Study
from mixsearch.search.launch import launch

if __name__ == "__main__":
    # Ray is told of a GPU it schedules tasks on; torch finds no CUDA behind it on this machine
    ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    study = Study.open(parse_recipe(json.loads(sys.argv[1]), "r"), sys.argv[2])
    study.seed_initial()
    launched = [launch(study, max_runs=2), launch(study, max_runs=2)]
    view = study.store.runs()
    done = view[view["status"] == "done"]
    print(json.dumps({"launched": launched, "devices": sorted(set(done["device"])),
                      "gpu_hours": float(done["gpu_hours"].sum()), "cpu_hours": float(done["cpu_hours"].sum()),
                      "spent": spent(view).to_dict()}))
"""


def test_gpu_runs_without_cuda_train_on_cpu_warn_once_and_count_cpu_hours(recipe_dict, tmp_path):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("needs a machine without usable CUDA")
    recipe_dict["proxy"]["resources"].update({"num_gpus": 0.5, "ensemble": 1})
    script = tmp_path / "launch_script.py"
    script.write_text(SCRIPT)
    res = subprocess.run([sys.executable, str(script), json.dumps(recipe_dict), str(tmp_path / "runs")],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["launched"] == [{"done": 2, "failed": 0}] * 2
    assert out["devices"] == ["cpu"] and out["gpu_hours"] == 0 and out["cpu_hours"] > 0
    assert out["spent"]["device_hours"] == pytest.approx(out["cpu_hours"])
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "asked for GPUs but trained on the CPU" in warnings[0], res.stderr[-3000:]


def test_device_hours_follow_each_runs_device():
    assert run_hours(3600, 2, 0.5, "cuda", "h") == (2.0, 0.5)
    assert run_hours(3600, 2, 0.5, None, "h") == (2.0, 0.5)  # failed before reporting a device: as asked
    assert run_hours(3600, 2, 0.0, "cpu", "h") == (2.0, 0.0)
    view = pd.DataFrame({"status": ["done", "failed", "done", "pending"], "device": ["cuda", None, "cpu", None],
                         "cpu_hours": [1.0, 1.0, 1.0, 9.0], "gpu_hours": [0.25, 0.25, 0.0, 9.0],
                         "tokens_trained": [10, 5, 10, 0]})
    used = spent(view)
    assert (used.runs, used.cpu_hours, used.gpu_hours, used.tokens) == (3, 3.0, 0.5, 25)
    assert used.device_hours == 0.25 + 0.25 + 1.0
    assert Budget(hours=1.5).reached(used) and not Budget(hours=1.6).reached(used)


def test_a_running_tally_counts_each_result_without_rereading_the_store():
    from mixsearch.search.budget import Tally

    view = pd.DataFrame({"status": ["done", "pending"], "device": ["cpu", None], "cpu_hours": [1.0, 0.0],
                         "gpu_hours": [0.0, 0.0], "tokens_trained": [10, 0]})
    results = [{"status": "done", "device": "cuda", "cpu_hours": 1.0, "gpu_hours": 0.5, "tokens_trained": 4},
               {"status": "failed", "device": "cpu", "cpu_hours": 0.25, "gpu_hours": 0.0, "tokens_trained": 0}]
    reads = []
    tally = Tally(Budget(hours=1.75), lambda: reads.append(1) or view)
    tally.refresh()
    assert not tally.reached()
    tally.add(results[0])
    assert not tally.reached()  # 1.0 CPU-hour + 0.5 GPU-hour
    tally.add(results[1])
    assert tally.reached() and len(reads) == 1
    assert tally.spent == spent(pd.concat([view.iloc[:1], pd.DataFrame(results)], ignore_index=True))
    idle = Tally(Budget(), lambda: reads.append(1) or view)
    idle.refresh()
    idle.add(results[0])
    assert not idle.reached() and len(reads) == 1  # no budget: the store is never read
