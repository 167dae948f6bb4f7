"""SIGINT/SIGTERM end a sweep with exit 130/143, no traceback, the lock released, Ray shut down
and the unfinished runs still open (not failed), so the next sweep resumes them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mixsearch import signals

from mixsearch.execute import schedule
from mixsearch.data.prepare import prepare
from mixsearch.proxy.spec import RunSpec
from mixsearch.recipe.schema import parse_recipe
from mixsearch.recipe.proxy import Resources
from mixsearch.store.parts import Store
from mixsearch.execute.workers import WorkerPool
from tests.conftest import write_recipe

pytestmark = pytest.mark.slow  # each test signals a command that trains on Ray


def _start(args: list[str], cwd: Path, stderr) -> subprocess.Popen:
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    return subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def _ray_processes_of(pid: int) -> list[int]:
    """Live descendants of pid (Ray's raylet, GCS and workers when it started a local Ray)."""
    out = subprocess.run(["ps", "-o", "pid=,ppid=", "-e"], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = map(int, line.split())
        children.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.append(c)
            todo.append(c)
    return found


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_training_leaves_runs_open_and_releases_the_lock(recipe_dict, tmp_path, signum, code):
    recipe_dict["search"]["initial_runs"] = 12
    recipe_dict["proxy"]["train"]["tokens"] = 262144  # seconds a run: stored rows land once a second
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    store = Store(tmp_path / "runs", "tiny")
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = _start(["-m", "mixsearch", "sweep", str(recipe)], tmp_path, err)
        deadline, done = time.time() + 600, 0  # a hang guard, for a machine at load 30+
        while time.time() < deadline and done < 1 and proc.poll() is None:
            time.sleep(0.3)
            view = store.runs()
            done = int((view["status"] == "done").sum())
        assert done >= 1 and proc.poll() is None, "training must have begun"
        ray_procs = _ray_processes_of(proc.pid)
        proc.send_signal(signum)
        rc = proc.wait(timeout=120)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert rc == code, stderr[-3000:]
    assert "Traceback" not in stderr and f"error: interrupted by {signal.Signals(signum).name}" in stderr
    assert not (tmp_path / "runs" / "tiny" / ".lock").exists()
    view = store.runs()
    assert (view["status"] == "failed").sum() == 0 and view["status"].isin(["pending", "proposed"]).sum() >= 1
    deadline = time.time() + 30  # Ray's processes exit shortly after ray.shutdown() returns
    while _alive(ray_procs) and time.time() < deadline:
        time.sleep(0.5)
    assert not _alive(ray_procs), "Ray must be shut down"


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for p in pids:
        try:
            if "zombie" not in Path(f"/proc/{p}/status").read_text().lower():
                alive.append(p)
        except FileNotFoundError:
            pass
    return alive


def test_sigint_during_start_up_is_exit_130_without_traceback(recipe_dict, tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:  # -X importtime reports each import as it finishes
        proc = _start(["-X", "importtime", "-m", "mixsearch", "sweep", str(recipe)], tmp_path, err)
        deadline = time.time() + 60
        while time.time() < deadline and not re.search(r"\|\s+typer$", err_path.read_text(), re.M):
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)  # typer is in: the CLI's other imports are still running
        rc = proc.wait(timeout=120)
    stderr = err_path.read_text()
    assert rc == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert "error: interrupted by SIGINT" in stderr


def _marks_then_sleeps(marker: str):
    def run(spec: dict, data: dict) -> dict:
        Path(marker).touch()
        time.sleep(120)
        return {"status": "done", "losses": {"docs": 1.0}}

    return run


def test_sigint_while_ray_waits_is_terminated(recipe_dict, tmp_path, ray_local):
    """Ray's wait checks for signals in C code, which turned the handler's exception into SystemError."""
    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    data = prepare(parse_recipe(recipe_dict, "t.yaml"))
    marker = tmp_path / "started"

    def interrupt() -> None:  # once the run trains, the driver is inside Ray's wait
        deadline = time.time() + 300
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    saved = {s: signal.getsignal(s) for s in signals.HANDLED}
    signals.install()
    try:
        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(signals.Terminated) as caught:
            schedule.execute([[RunSpec("r0", {"docs": 1.0}, 0, {}, {})]], data, Resources(num_cpus=1),
                             lambda spec, result: None, fn=_marks_then_sleeps(str(marker)))
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        WorkerPool.clear()
    assert marker.exists() and caught.value.exit_code == 130
