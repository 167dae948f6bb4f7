"""A sweep on a real multi-process Ray cluster: a head node and a worker node on this machine."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest

from mixsearch.store import Store
from tests.conftest import cli, write_recipe
from tests.test_ray_failures import gated_recipe

RAY = str(Path(sys.executable).parent / "ray")


class Cluster(NamedTuple):
    address: str
    second_raylet: int  # the pid of the worker node's raylet


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raylets(port: int) -> set[int]:
    """The raylets of the cluster whose GCS listens on `port`."""
    found = set()
    for p in psutil.process_iter(["name", "cmdline"]):
        args = p.info["cmdline"] or []
        if p.info["name"] == "raylet" and any(a.startswith("--gcs-address=") and a.endswith(f":{port}") for a in args):
            found.add(p.pid)
    return found


@pytest.fixture
def cluster(tmp_path):
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # as users run a cluster: token authentication
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus", "1", "--disable-usage-stats"]

    def ray(*args: str) -> None:
        subprocess.run([RAY, *args], env=env, check=True, capture_output=True, timeout=180)

    ray("get-auth-token", "--generate")  # ~/.ray/auth_token, if there is none yet
    ray("start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--include-dashboard=false",
        *common)
    try:
        head = _raylets(port)
        ray("start", "--address", address, "--node-ip-address", "127.0.0.1", *common)
        (second,) = _raylets(port) - head
        yield Cluster(address, second)
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=180)


def test_sweep_on_a_two_node_cluster(recipe_dict, tmp_path, cluster):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    res = json.loads(cli("sweep", str(recipe), "--address", cluster.address, "--json", cwd=tmp_path,
                         env={"RAY_AUTH_MODE": "token"}).stdout)
    assert res["rounds"][0]["launched"] == {"done": 6, "failed": 0}
    assert len(res["rounds"][0]["proposals"]) == 2
    view = Store(tmp_path / "runs", "tiny").runs()
    assert (view["status"] == "done").sum() == 6 and view["run_id"].is_unique


def test_losing_a_node_mid_run_retries_its_run_on_the_node_left(recipe_dict, tmp_path, cluster):
    recipe = write_recipe(tmp_path / "r.yaml", gated_recipe(recipe_dict, tmp_path))
    (tmp_path / "gate").touch()  # runs wait at the gate: one on each node
    started = tmp_path / "started"
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "mixsearch", "run", str(recipe), "--address", cluster.address],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.time() + 300  # a hang guard
            while time.time() < deadline and proc.poll() is None and len(list(started.glob("*"))) < 2:
                time.sleep(0.3)
            assert len(list(started.glob("*"))) == 2, (tmp_path / "stderr.txt").read_text()[-3000:]
            os.kill(cluster.second_raylet, signal.SIGKILL)
            lost_at = time.time()
            (tmp_path / "gate").unlink()
            rc = proc.wait(timeout=600)  # a hang guard: the lost run used to wait for a node to come back
        finally:
            if proc.poll() is None:
                proc.kill()
    stderr = (tmp_path / "stderr.txt").read_text()
    assert rc == 0, stderr[-3000:]
    print(f"the node was lost {time.time() - lost_at:.0f} s before the command finished")
    view = Store(tmp_path / "runs", "tiny").runs()
    assert view["run_id"].is_unique and (view["status"] == "done").sum() == 6
    assert set(view["status"]) <= {"done", "proposed"}
