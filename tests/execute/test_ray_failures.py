"""When Ray fails (it does not start, the cluster is not there, this node's raylet is killed) a
command prints one line `error: ray: ...`, exits 5 without a traceback, and leaves the runs it
was training open: the next invocation resumes them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mixsearch.errors import EXIT_RAY
from mixsearch.raynode import START_ATTEMPTS
from mixsearch.store.parts import Store
from tests.conftest import TRAINERS, cli, write_recipe

pytestmark = pytest.mark.slow  # each test runs a command on a Ray that fails under it

GATED = TRAINERS / "gated.py"
OPTIMUM = {"code": 0.2, "docs": 0.5, "news": 0.3}


def gated_recipe(recipe_dict: dict, tmp_path: Path) -> dict:
    """The command trainer waits while tmp_path/gate exists and notes each start in tmp_path/started;
    no search round, and the cheapest fit."""
    recipe_dict["proxy"]["trainer"] = {
        "command": f"{sys.executable} {GATED} --config {{config}} --out {{out}}", "timeout": 900,
        "params": {"optimum": OPTIMUM, "attempts": str(tmp_path / "attempts.txt"), "gate": str(tmp_path / "gate"),
                   "started": str(tmp_path / "started")}}
    recipe_dict["objective"] = {"metric": "acc", "direction": "maximize"}
    recipe_dict["search"].update(rounds=0, surrogate="linear")  # these tests are of Ray, not of the fit
    return recipe_dict


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _runs_left_open(tmp_path: Path) -> None:
    view = Store(tmp_path / "runs", "tiny").runs()
    assert len(view) == 6 and (view["status"] == "failed").sum() == 0
    assert view["status"].isin(["pending", "proposed"]).sum() >= 1


def _rerun_completes(recipe: Path, tmp_path: Path) -> None:
    summary = json.loads(cli("run", str(recipe), "--json", cwd=tmp_path).stdout)
    assert summary["rounds"][0]["launched"]["failed"] == 0
    view = Store(tmp_path / "runs", "tiny").runs()  # the 6 initial runs done, once each; then proposals
    assert view["run_id"].is_unique and (view["status"] == "done").sum() == 6
    assert set(view["status"]) <= {"done", "proposed"}


def test_a_cluster_that_is_not_there_is_one_line_and_exit_5(recipe_dict, tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", gated_recipe(recipe_dict, tmp_path))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        res = cli("run", str(recipe), "--address", f"127.0.0.1:{port}", cwd=tmp_path, check=False)
    assert res.returncode == EXIT_RAY, res.stderr[-3000:]
    assert _error_lines(res.stderr) == [
        f"error: ray: cannot join the Ray cluster at 127.0.0.1:{port} (nothing listens there); start it "
        f"(ray start --head --port {port}), or leave out --address to train on a local Ray"]
    assert "Traceback" not in res.stderr
    _runs_left_open(tmp_path)
    _rerun_completes(recipe, tmp_path)


def test_a_local_ray_that_does_not_start_is_one_line_and_exit_5(recipe_dict, tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", gated_recipe(recipe_dict, tmp_path))
    (tmp_path / "file").touch()  # Ray's session directory would be below a file: it cannot be made
    res = cli("run", str(recipe), cwd=tmp_path, check=False, env={"RAY_TMPDIR": str(tmp_path / "file" / "ray")})
    assert res.returncode == EXIT_RAY, res.stderr[-3000:]
    lines = _error_lines(res.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ray: the local Ray did not start ("), res.stderr[-3000:]
    assert lines[0].endswith("rerun the command to resume the open runs when the machine is less busy, or start "
                             "Ray yourself (ray start --head) and pass --address")
    assert "Traceback" not in res.stderr
    _runs_left_open(tmp_path)
    _rerun_completes(recipe, tmp_path)


START = """
import sys
import time
import types
import psutil
import ray
import ray._private.node
from mixsearch import raynode
from mixsearch.errors import RayFailure

raynode.START_ATTEMPTS, speed = int(sys.argv[1]), float(sys.argv[2])
# Ray's wait for its raylet reads the clock of its node module: `speed` times the real one
clock = {name: getattr(time, name) for name in dir(time) if not name.startswith("_")}
ray._private.node.time = types.SimpleNamespace(**{**clock, "monotonic": lambda: speed * time.monotonic()})
tries, init = [], ray.init
ray.init = lambda *args, **kwargs: tries.append(1) or init(*args, **kwargs)
try:
    raynode.connect(None, num_cpus=1)
except RayFailure as exc:
    print("failure", exc)
print("tries", len(tries), "left", len(psutil.Process().children(recursive=True)))
"""


def _start(attempts: int, env: dict[str, str], speed: float = 1.0) -> str:
    """Start the embedded Ray in a fresh process with `attempts` tries, Ray's startup wait
    measured on a clock `speed` times the real one: what it printed."""
    res = subprocess.run([sys.executable, "-c", START, str(attempts), str(speed)], env={**os.environ, **env},
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_a_start_that_fails_is_tried_again_and_what_each_try_started_is_ended(tmp_path):
    (tmp_path / "file").touch()
    out = _start(START_ATTEMPTS, {"RAY_TMPDIR": str(tmp_path / "file" / "ray")})
    assert "failure ray: the local Ray did not start (" in out and f"tries {START_ATTEMPTS} left 0" in out, out


def test_a_start_that_times_out_on_a_busy_machine_is_a_ray_failure_and_ends_what_it_started():
    # Ray's own fault injection: the GCS answers the raylet's registration after 40 s, past the
    # 30 s Ray waits for it, as on an overloaded machine. Those 30 s pass in 3 real ones: the
    # wait's clock runs 10 times fast, and each query of the GCS waits 3 s, not 30 (one try)
    slow = {"RAY_testing_asio_delay_us": "NodeInfoGcsService.grpc_server.RegisterNode=40000000:40000000",
            "RAY_raylet_start_wait_time_s": "3"}
    out = _start(1, slow, speed=10)
    assert "failure ray: the local Ray did not start (The current node timed out during startup" in out, out
    assert "tries 1 left 0" in out, out


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _listed(pid: int) -> list[tuple[psutil.Process, str]]:
    """The descendants of `pid` that still run, each with its command line (a short-lived process
    may end, and stay a zombie for a moment, between being listed and being read)."""
    out = []
    for p in _descendants(pid):
        try:
            out.append((p, " ".join(p.cmdline())))
        except psutil.NoSuchProcess:  # ended, or a zombie
            pass
    return out


def _name(p: psutil.Process) -> str:
    try:
        return p.name()
    except psutil.NoSuchProcess:
        return ""


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize(("name", "what"), [("raylet", "this node's raylet stopped (killed, or out of memory)"),
                                           ("gcs_server", "the local Ray's GCS stopped")])
def test_a_ray_process_killed_mid_run_is_one_line_and_exit_5(recipe_dict, tmp_path, name, what):
    recipe = write_recipe(tmp_path / "r.yaml", gated_recipe(recipe_dict, tmp_path))
    (tmp_path / "gate").touch()
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "mixsearch", "run", str(recipe)], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.time() + 300  # a hang guard
            while time.time() < deadline and proc.poll() is None and not any((tmp_path / "started").glob("*")):
                time.sleep(0.3)
            assert proc.poll() is None and any((tmp_path / "started").glob("*")), err_path.read_text()[-3000:]
            ray_procs = [p for p, line in _listed(proc.pid) if str(GATED) not in line]  # not the trainer
            (victim,) = [p for p in ray_procs if _name(p) == name]
            victim.send_signal(signal.SIGKILL)
            rc = proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
    stderr = err_path.read_text()
    assert rc == EXIT_RAY, stderr[-3000:]
    assert _error_lines(stderr) == [f"error: ray: {what}; rerun the command to resume the open runs"], stderr[-3000:]
    assert "Traceback" not in stderr
    assert not (tmp_path / "runs" / "tiny" / ".lock").exists()
    if name == "gcs_server":  # Ray's other processes would wait a minute for it: the command ends them
        assert not [p.pid for p in ray_procs if _running(p)]
    _, alive = psutil.wait_procs(ray_procs, timeout=120)  # a hang guard: a raylet's orphans end on their own
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], [p.cmdline() for p in alive]
    _runs_left_open(tmp_path)
    (tmp_path / "gate").unlink()
    _rerun_completes(recipe, tmp_path)


def test_listing_a_commands_processes_passes_over_one_that_just_ended():
    """A child that has exited but is not reaped yet is a zombie: psutil cannot read its command
    line. The listing the kill tests use passes over it instead of failing."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.time() + 120  # a hang guard
        while time.time() < deadline and psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.05)
        assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
        with pytest.raises(psutil.ZombieProcess):
            psutil.Process(child.pid).cmdline()
        assert child.pid not in [p.pid for p, _ in _listed(os.getpid())]
    finally:
        child.wait()
