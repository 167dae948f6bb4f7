"""A sweep on a real multi-process Ray cluster: a head node and a worker node on this machine."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest

from mixsearch.errors import EXIT_RAY
from mixsearch.store.parts import Store
from tests.conftest import cli, write_recipe
from tests.execute.test_ray_failures import gated_recipe

RAY = str(Path(sys.executable).parent / "ray")
pytestmark = pytest.mark.slow  # each test starts a cluster and runs a command on it


class Cluster(NamedTuple):
    address: str
    second_raylet: int  # the pid of the worker node's raylet


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _of_cluster(args: list[str], port: int) -> bool:
    return any(a.startswith("--gcs-address=") and a.endswith(f":{port}") or a == f"--gcs_server_port={port}"
               for a in args)


def _stop(port: int) -> None:
    """End this cluster's processes only (`ray stop` would end every Ray on the machine)."""
    procs = [p for p in psutil.process_iter(["cmdline"]) if _of_cluster(p.info["cmdline"] or [], port)]
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(procs, timeout=60)


def _raylets(port: int) -> set[int]:
    """The raylets of the cluster whose GCS listens on `port`."""
    found = set()
    for p in psutil.process_iter(["name", "cmdline"]):
        args = p.info["cmdline"] or []
        if p.info["name"] == "raylet" and _of_cluster(args, port):
            found.add(p.pid)
    return found


@contextmanager
def _two_nodes(head_cpus: int, cpus: int = 1, gpus: int = 0) -> Iterator[Cluster]:
    """A head node with `head_cpus` CPUs and a worker node with `cpus`; each declares `gpus` GPUs
    (none real: only what Ray schedules by)."""
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # as users run a cluster: token authentication
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--disable-usage-stats"]

    def ray(*args: str) -> None:
        subprocess.run([RAY, *args], env=env, check=True, capture_output=True, timeout=180)

    common = [*common, "--num-gpus", str(gpus)]
    # the GCS checks each node every second, not every 3 s: a killed node is declared dead after 5
    # refused checks in a row (about 5 s, not 15-20 s); a slow node still has 10 s per check to answer
    health = json.dumps({"health_check_period_ms": 1000, "health_check_failure_threshold": 5})
    ray("start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--include-dashboard=false",
        "--num-cpus", str(head_cpus), f"--system-config={health}", *common)
    try:
        head = _raylets(port)
        ray("start", "--address", address, "--node-ip-address", "127.0.0.1", "--num-cpus", str(cpus), *common)
        (second,) = _raylets(port) - head
        yield Cluster(address, second)
    finally:
        _stop(port)


@pytest.fixture(scope="module", autouse=True)
def auth_token() -> None:
    """~/.ray/auth_token, which the clusters' token authentication reads, if there is none yet."""
    subprocess.run([RAY, "get-auth-token", "--generate"], env={**os.environ, "RAY_AUTH_MODE": "token"}, check=True,
                   capture_output=True, timeout=180)


@pytest.fixture
def cluster():
    """A head node and a worker node, one CPU each."""
    with _two_nodes(head_cpus=1) as c:
        yield c


@pytest.fixture
def cluster_training_on_one_node():
    """A head node with no CPUs for runs and a worker node with one."""
    with _two_nodes(head_cpus=0) as c:
        yield c


def test_sweep_on_a_two_node_cluster(recipe_dict, tmp_path, cluster):
    recipe_dict["search"]["surrogate"] = "linear"  # of the cluster, not of the fit: the cheapest
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    res = json.loads(cli("sweep", str(recipe), "--address", cluster.address, "--json", cwd=tmp_path,
                         env={"RAY_AUTH_MODE": "token"}).stdout)
    assert res["rounds"][0]["launched"] == {"done": 6, "failed": 0}
    assert len(res["rounds"][0]["proposals"]) == 2
    view = Store(tmp_path / "runs", "tiny").runs()
    assert (view["status"] == "done").sum() == 6 and view["run_id"].is_unique
    done = view[view["status"] == "done"]
    assert done["node_id"].nunique() == 2 and done["host"].nunique() == 1  # both nodes trained, on one machine


@pytest.fixture
def cluster_with_gpus():
    """Two nodes of four CPUs and one (declared) GPU each."""
    with _two_nodes(head_cpus=4, cpus=4, gpus=1) as c:
        yield c


def test_fractional_gpus_pack_runs_on_each_nodes_gpu(recipe_dict, tmp_path, cluster_with_gpus):
    """num_gpus 0.5: two runs share each GPU at once, and the GPUs, not the CPUs (8), bound the
    runs in flight (4)."""
    recipe_dict = gated_recipe(recipe_dict, tmp_path)
    recipe_dict["proxy"]["resources"]["num_gpus"] = 0.5
    recipe_dict["search"]["initial_runs"] = 8
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    (tmp_path / "gate").touch()
    started = tmp_path / "started"
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "mixsearch", "run", str(recipe), "--address",
                                 cluster_with_gpus.address], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=err)
        try:
            deadline = time.time() + 300  # a hang guard
            while time.time() < deadline and proc.poll() is None and len(list(started.glob("*"))) < 4:
                time.sleep(0.3)
            assert len(list(started.glob("*"))) == 4, (tmp_path / "stderr.txt").read_text()[-3000:]  # at the gate
            (tmp_path / "gate").unlink()
            assert proc.wait(timeout=600) == 0, (tmp_path / "stderr.txt").read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
    view = Store(tmp_path / "runs", "tiny").runs()
    done = view[view["status"] == "done"]
    assert len(done) == 8 and view["run_id"].is_unique
    assert done["node_id"].nunique() == 2 and set(done["num_gpus"]) == {0.5} and set(done["device"]) == {"cuda:0"}
    workers = {f.read_text().split()[0] for f in started.iterdir()}
    assert len(workers) == 4  # two per GPU: the pool is sized by the GPUs


def _run_and_lose_the_second_node(recipe: Path, tmp_path: Path, cluster: Cluster, in_flight: int) -> tuple[int, str]:
    """`mixsearch run` on the cluster; once `in_flight` runs train, the worker node's raylet is
    killed and the runs may finish. Returns the exit code and stderr."""
    (tmp_path / "gate").touch()  # runs wait at the gate
    started = tmp_path / "started"
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "mixsearch", "run", str(recipe), "--address", cluster.address],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.time() + 300  # a hang guard
            while time.time() < deadline and proc.poll() is None and len(list(started.glob("*"))) < in_flight:
                time.sleep(0.3)
            assert len(list(started.glob("*"))) == in_flight, (tmp_path / "stderr.txt").read_text()[-3000:]
            os.kill(cluster.second_raylet, signal.SIGKILL)
            lost_at = time.time()
            (tmp_path / "gate").unlink()
            rc = proc.wait(timeout=600)  # a hang guard: a lost run must not wait for a node to come back
        finally:
            if proc.poll() is None:
                proc.kill()
    print(f"the node was lost {time.time() - lost_at:.0f} s before the command ended")
    attempts = (tmp_path / "attempts.txt").read_text().split()
    retried = {r for r in attempts if attempts.count(r) > 1}
    view = Store(tmp_path / "runs", "tiny").runs()
    for _, row in view[view["run_id"].isin(retried)].iterrows():  # the runs lost with the node (goal: 30 s)
        print(f"run {row['run_id'][:10]} was stored {row['finished_at'].timestamp() - lost_at:.1f} s after its node "
              f"was lost")
    return rc, (tmp_path / "stderr.txt").read_text()


def test_losing_a_node_mid_run_retries_its_run_on_the_node_left(recipe_dict, tmp_path, cluster):
    recipe = write_recipe(tmp_path / "r.yaml", gated_recipe(recipe_dict, tmp_path))
    rc, stderr = _run_and_lose_the_second_node(recipe, tmp_path, cluster, in_flight=2)  # one on each node
    assert rc == 0, stderr[-3000:]
    store = Store(tmp_path / "runs", "tiny")
    view = store.runs()
    assert view["run_id"].is_unique and (view["status"] == "done").sum() == 6
    assert set(view["status"]) <= {"done", "proposed"}
    log = store.log()
    assert not log[log["status"] == "done"]["run_id"].duplicated().any()  # each run stored once
    attempts = (tmp_path / "attempts.txt").read_text().split()
    retried = {r for r in attempts if attempts.count(r) > 1}
    assert len(retried) == 1  # the run in flight on the lost node, trained again on the node left
    nodes = set(view[view["run_id"].isin(retried)]["node_id"])
    assert len(nodes) == 1 and nodes == set(view[view["status"] == "done"]["node_id"])


def test_losing_the_only_node_with_room_is_one_line_and_exit_5(recipe_dict, tmp_path, cluster_training_on_one_node):
    recipe = write_recipe(tmp_path / "r.yaml", gated_recipe(recipe_dict, tmp_path))
    rc, stderr = _run_and_lose_the_second_node(recipe, tmp_path, cluster_training_on_one_node, in_flight=1)
    assert rc == EXIT_RAY, stderr[-3000:]
    assert [line for line in stderr.splitlines() if line.startswith("error:")] == [
        "error: ray: no live Ray node has room for a worker (num_cpus=1.0, num_gpus=0.0); add a node to the "
        "cluster, then rerun the command to resume the open runs"], stderr[-3000:]
    assert "Traceback" not in stderr
    view = Store(tmp_path / "runs", "tiny").runs()
    assert (view["status"] == "failed").sum() == 0 and view["status"].isin(["pending", "proposed"]).sum() >= 1
