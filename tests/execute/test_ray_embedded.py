"""The embedded Ray is this command's own: a cluster already running on the machine is not joined,
and its workers train at the command's priority."""

from __future__ import annotations

import os
import subprocess
import sys

CHILD = """
import os
import ray
from mixsearch import raynode
raynode.connect(None, num_cpus=1)
print("nodes", len(ray.nodes()), "cpus", int(ray.cluster_resources()["CPU"]))


@ray.remote
def niceness():
    import os
    return os.nice(0)


print("niceness", ray.get(niceness.remote()), os.nice(0))
"""


def test_embedded_ray_starts_its_own_instance_even_when_an_address_is_in_the_environment():
    # RAY_ADDRESS is how `ray start` (and /tmp/ray/ray_current_cluster) make a bare ray.init join an
    # existing cluster, which then refuses num_cpus; an embedded start must not look for one.
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:9", "RAY_AUTH_MODE": "disabled"}
    res = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "nodes 1 cpus 1" in res.stdout
    # Ray's default would nice its workers by 15: beside other jobs they would get almost no CPU
    worker, command = res.stdout.split("niceness ")[1].split()
    assert worker == command, res.stdout
