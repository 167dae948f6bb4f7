"""A sweep on a real multi-process Ray cluster: a head node and a worker node on this machine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mixsearch.store import Store
from tests.conftest import cli, write_recipe

RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # as users run a cluster: token authentication
    port = _free_port()
    common = ["--num-cpus", "1", "--disable-usage-stats"]

    def ray(*args: str) -> None:
        subprocess.run([RAY, *args], env=env, check=True, capture_output=True, timeout=180)

    ray("get-auth-token", "--generate")  # ~/.ray/auth_token, if there is none yet
    ray("start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--include-dashboard=false",
        *common)
    try:
        ray("start", "--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1", *common)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=180)


def test_sweep_on_a_two_node_cluster(recipe_dict, tmp_path, cluster):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    res = json.loads(cli("sweep", str(recipe), "--address", cluster, "--json", cwd=tmp_path,
                         env={"RAY_AUTH_MODE": "token"}).stdout)
    assert res["rounds"][0]["launched"] == {"done": 6, "failed": 0}
    assert len(res["rounds"][0]["proposals"]) == 2
    view = Store(tmp_path / "runs", "tiny").runs()
    assert (view["status"] == "done").sum() == 6 and view["run_id"].is_unique
