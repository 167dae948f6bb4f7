"""Starting or joining Ray, and telling whether it still runs.

The embedded Ray is sized for a loaded laptop or CI box (`LOADED_MACHINE`, `START_ATTEMPTS`; the
README's exit-code section names them). When Ray fails (it does not start, the GCS or this node's
raylet stops) a command ends with `RayFailure`: one line, exit code 5, and the runs in flight stay
open, so the next invocation resumes them.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from mixsearch.errors import RayFailure, UserError

# The embedded Ray is for this machine only: Ray's single-machine mode (its default on macOS and
# Windows) makes the node IP 127.0.0.1, so the GCS, raylet, workers and driver listen on loopback
# only; token authentication stays on. Ray reads these when it is imported, so they are set only
# if this process has not imported it yet (as in every command).
EMBEDDED_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
EMBEDDED_ENV_DEFAULTS = {"RAY_AUTH_MODE": "token"}

# Ray's settings for the embedded instance. The GCS declares the node dead only after 10 health
# checks in a row (one every 10 s) went unanswered for 60 s each, not after 5 of 10 s; a worker
# process (Python, torch) gets 10 minutes to register instead of 1. A stopped raylet or GCS is
# still noticed at once: `check_alive` finds nothing listening on its port. Workers keep the
# command's priority: Ray's default nices them by 15, and beside four busy processes of normal
# priority a run then trained for 6 CPU-seconds in 8 minutes. Task events (what Ray's dashboard
# and state API show, neither of which the embedded instance serves) are not recorded: after the
# GCS stopped, leaving Ray waited 5 s to flush them to it.
LOADED_MACHINE = {
    "health_check_period_ms": 10_000,
    "health_check_timeout_ms": 60_000,
    "health_check_failure_threshold": 10,
    "worker_register_timeout_seconds": 600,
    "worker_niceness": 0,
    "task_events_report_interval_ms": 0,
}
# Ray waits a fixed 30 s for its raylet to register with the GCS; a loaded machine gets two tries.
START_ATTEMPTS = 2
RERUN = "rerun the command to resume the open runs"

_watched: list[tuple[str, str, int]] = []  # (what failed if it stops, host, port)
_embedded: list = []  # the processes of the embedded instance this process started (psutil.Process)


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join `address` (auto, host:port or ray://...), or start an embedded local Ray instance
    listening on 127.0.0.1 only, with token authentication."""
    if not address and "ray" not in sys.modules:
        os.environ.update(EMBEDDED_ENV)
        for key, value in EMBEDDED_ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
    import ray

    if ray.is_initialized():
        return
    handler = signal.getsignal(signal.SIGTERM)  # ray.init replaces it with sys.exit; keep the caller's
    try:
        _join(address) if address else _start(num_cpus)
    finally:
        if threading.current_thread() is threading.main_thread() and handler is not None:
            signal.signal(signal.SIGTERM, handler)
    _watch(address)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _join(address: str) -> None:
    import ray

    host, _, port = address.rpartition(":")
    if host and port.isdigit() and not _listening(host, int(port)):  # Ray itself would retry for minutes
        raise RayFailure(f"cannot join the Ray cluster at {address} (nothing listens there)",
                         f"start it (ray start --head --port {port}), or leave out --address to train on a local Ray")
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except ValueError as exc:
        raise UserError(f"cannot join Ray: {_first_line(exc)}", where=f"--address {address}") from None
    except Exception as exc:
        raise RayFailure(f"cannot join the Ray cluster at {address} ({_first_line(exc)})",
                         f"check that it runs (ray status --address {address}), or leave out --address "
                         "to train on a local Ray") from None


def _start(num_cpus: int | None) -> None:
    """ray.init on this machine, tried START_ATTEMPTS times; what a failed try started is ended."""
    import psutil
    import ray

    me = psutil.Process()
    error: Exception | None = None
    for _ in range(START_ATTEMPTS):
        before = {p.pid for p in me.children(recursive=True)}
        try:
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,  # never
                     logging_level=logging.WARNING, log_to_driver=False,  # a cluster `ray start` left running
                     _system_config=LOADED_MACHINE)
            _embedded[:] = [p for p in me.children(recursive=True) if p.pid not in before]
            return
        except Exception as exc:
            error = exc
            ray.shutdown()
            _end([p for p in me.children(recursive=True) if p.pid not in before])
    raise RayFailure(f"the local Ray did not start ({_first_line(error)})",
                     f"{RERUN} when the machine is less busy, or start Ray yourself (ray start --head) and "
                     "pass --address") from None


def _end(procs: list) -> None:
    """Kill `procs` (those already gone are skipped) and wait for them."""
    import psutil

    _kill(procs)
    psutil.wait_procs(procs, timeout=60)


def _kill(procs: list) -> None:
    import psutil

    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def _is_autoscaler(proc) -> bool:
    """Whether `proc` runs Ray's autoscaler monitor (python .../ray/autoscaler/.../monitor.py)."""
    import psutil

    try:
        return any(Path(word).name == "monitor.py" and "autoscaler" in Path(word).parts for word in proc.cmdline())
    except psutil.Error:
        return False


def _watch(address: str | None) -> None:
    """Note the ports of the GCS and of this node's raylet, for `check_alive`."""
    import ray

    ctx = ray.get_runtime_context()
    host, _, port = ctx.gcs_address.rpartition(":")
    head = f"the Ray cluster's head (GCS at {ctx.gcs_address})" if address else "the local Ray's GCS"
    _watched[:] = [(f"{head} stopped", host, int(port))]
    for node in ray.nodes():
        if node["NodeID"] == ctx.get_node_id():
            _watched.append(("this node's raylet stopped (killed, or out of memory)",
                                     node["NodeManagerAddress"], int(node["NodeManagerPort"])))


def _listening(host: str, port: int) -> bool:
    """Whether something accepts connections there; only a refusal counts as no (a live server
    accepts through the kernel however busy it is)."""
    try:
        socket.create_connection((host, port), timeout=30).close()
    except ConnectionRefusedError:
        return False
    except OSError:
        return True
    return True


def check_alive() -> None:
    """RayFailure when the GCS or this node's raylet no longer listens."""
    for what, host, port in _watched:
        if not _listening(host, port):
            _watched.clear()
            raise RayFailure(what, RERUN)


def alive_nodes() -> set[str]:
    import ray

    return {n["NodeID"] for n in ray.nodes() if n["Alive"]}


def watching() -> bool:
    """Whether Ray's own processes are watched and none has been seen to stop."""
    return bool(_watched)


def shutdown() -> None:
    """Leave Ray, stopping the embedded instance. After one of its processes failed, Ray's
    shutdown leaves the others waiting a minute for the GCS to come back: they are ended here.
    The instance's autoscaler monitor, which has nothing to scale, is killed first: on SIGTERM it
    takes the whole second Ray's shutdown gives it."""
    import ray

    instance = _tree(_embedded)  # with the agents and workers they started
    _kill([p for p in instance if _is_autoscaler(p)])
    if ray.is_initialized():
        ray.shutdown()
    _watched.clear()
    _embedded.clear()
    _end(instance)


def _tree(procs: list) -> list:
    """Those of `procs` still running, with the processes they started."""
    import psutil

    left = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left += [p, *p.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    return left
