"""A command under the reaper (`reaper.py`), the leader of its own process group that dies with
the Ray worker: its stdout and stderr are copied into logs as they arrive, and its group is killed
at a timeout or when the wait is cancelled."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mixsearch.execute.logtail import TailLog

REAPER = Path(__file__).with_name("reaper.py")
POLL_S = 1.0  # the wait for output checks the command's exit this often
CHUNK = 1 << 16  # bytes of one read from a pipe
DRAIN_READS = 64  # reads of what an ended command left in its pipes, at most


def run_logged(argv: Sequence[str], log_dir: Path, env: dict[str, str], cwd: str | None, timeout: float) -> int | None:
    """Run argv under the reaper with its stdout and stderr copied into log_dir/stdout.log and
    stderr.log, each kept to its tail (TailLog); its exit code (the reaper's: 127 when it cannot
    start, 128 + N when signal N ended it), or None when `timeout` seconds passed and it was killed."""
    logs: dict[str, TailLog] = {}
    proc = code = None
    try:
        logs = {stream: TailLog(log_dir / f"{stream}.log") for stream in ("stdout", "stderr")}
        proc = subprocess.Popen([sys.executable, "-I", "-S", str(REAPER), str(os.getpid()), "--", *argv],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                                cwd=cwd, start_new_session=True)
        code = _copy_output(proc, {proc.stdout: logs["stdout"], proc.stderr: logs["stderr"]}, timeout)
    finally:  # cancelled (KeyboardInterrupt in the worker) or anything else: leave nothing running
        if proc is not None:
            if proc.poll() is None:
                _kill(proc)
            for pipe in (proc.stdout, proc.stderr):
                pipe.close()
        for log in logs.values():
            log.close()
    return code


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the command's whole process group (it leads one) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _copy_output(proc: subprocess.Popen, logs: dict, timeout: float) -> int | None:
    """Copy the command's pipes into their logs until it ends (its exit code) or `timeout` seconds
    pass (None: its process group is killed), then what its pipes still hold; a process it left
    running that keeps writing to them is not waited for."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        for pipe, log in logs.items():
            sel.register(pipe, selectors.EVENT_READ, log)
        while (code := proc.poll()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                _kill(proc)
                break
            if sel.get_map():
                _copy_ready(sel, min(left, POLL_S))
            else:  # it closed both pipes and runs on
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(min(left, POLL_S))
        for _ in range(DRAIN_READS):
            if not (sel.get_map() and _copy_ready(sel, 0)):
                break
    return code


def _copy_ready(sel: selectors.BaseSelector, timeout: float) -> bool:
    """Copy one read from each pipe that has data (or forget one at its end); whether any was ready."""
    ready = sel.select(timeout)
    for key, _ in ready:
        data = os.read(key.fd, CHUNK)
        if data:
            key.data.write(data)
        else:
            sel.unregister(key.fileobj)
    return bool(ready)
