"""The embedded local Ray a command starts listens on loopback only, with token authentication."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

# Started the way `run`/`sweep` start it; then every listening or bound socket of the driver and
# of every process under it (GCS, raylet, agents, workers) is listed.
PROBE = """
import json, os, psutil
from mixsearch.execute import schedule
schedule.connect(num_cpus=1)
import ray
ray.get(ray.remote(lambda: 1).remote())  # a worker process too
me = psutil.Process()
found = []
for proc in [me, *me.children(recursive=True)]:
    try:
        for c in proc.net_connections(kind="inet"):
            if c.status == psutil.CONN_LISTEN or (c.type == 2 and not c.raddr):
                found.append([proc.name(), c.laddr.ip, c.laddr.port])
    except psutil.NoSuchProcess:
        pass
print(json.dumps({"sockets": found, "auth": os.environ.get("RAY_AUTH_MODE")}))
schedule.shutdown()
"""


def _loopback(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(addr, "ipv4_mapped", None)
    return (mapped or addr).is_loopback


def test_embedded_ray_listens_on_loopback_only_with_auth(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    res = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    names = {name for name, _, _ in out["sockets"]}
    assert {"gcs_server", "raylet"} <= names, out  # the probe saw Ray's servers
    exposed = [s for s in out["sockets"] if not _loopback(s[1])]
    assert not exposed, f"listening on non-loopback addresses: {exposed}"
    assert out["auth"] == "token"
    assert "disabled" not in res.stderr
