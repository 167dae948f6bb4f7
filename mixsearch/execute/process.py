"""A command as the leader of its own process group, watched by its worker's guard (`reaper`):
its stdout and stderr are copied into logs as they arrive, and what the group leaves running when
the leader ends (or at a timeout) is killed."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from mixsearch.execute.logtail import TailLog
from mixsearch.execute.reaper import Guard

POLL_S = 1.0  # the wait for output checks the command's exit this often
EXIT_POLL_S = 0.01  # without a pidfd, the wait for a command that closed its pipes checks this often
CHUNK = 1 << 16  # bytes of one read from a pipe
DRAIN_READS = 64  # reads of what an ended command left in its pipes, at most


def run_logged(argv: Sequence[str], log_dir: Path, env: dict[str, str], cwd: str | None, timeout: float) -> int | None:
    """Run argv with its stdout and stderr copied into log_dir/stdout.log and stderr.log, each kept
    to its tail (TailLog); its exit code (128 + N when signal N ended it), or None when `timeout`
    seconds passed and it was killed. OSError when it cannot start."""
    logs: dict[str, TailLog] = {}
    proc = code = None
    try:
        logs = {stream: TailLog(log_dir / f"{stream}.log") for stream in ("stdout", "stderr")}
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, start_new_session=True)
        Guard.watch(proc.pid)
        code = _copy_output(proc, {proc.stdout: logs["stdout"], proc.stderr: logs["stderr"]}, timeout)
    finally:  # cancelled (KeyboardInterrupt in the worker) or anything else: leave nothing running
        if proc is not None:
            _end_group(proc)
            Guard.forget(proc.pid)
            for pipe in (proc.stdout, proc.stderr):
                pipe.close()
        for log in logs.values():
            log.close()
    return code if code is None or code >= 0 else 128 - code


def _end_group(proc: subprocess.Popen) -> int | None:
    """SIGKILL what is left of the command's process group (it leads one), then reap the leader;
    its exit code, or None if it was still running. The leader is reaped only after the kill, so
    the group's id cannot have passed to another process. Once reaped, its code again."""
    if proc.returncode is not None:
        return proc.returncode
    code = _exited(proc)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    return code


def _exited(proc: subprocess.Popen) -> int | None:
    """The leader's exit code once it has ended (left unreaped), else None."""
    info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    if info is None or info.si_pid == 0:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _copy_output(proc: subprocess.Popen, logs: dict, timeout: float) -> int | None:
    """Copy the command's pipes into their logs until it ends (its exit code) or `timeout` seconds
    pass (None), then, with what is left of its group killed, what its pipes still hold. Its end
    wakes the wait at once (a pidfd: its pipes close a moment before its exit can be read)."""
    deadline = time.monotonic() + timeout
    ended = _pidfd(proc.pid)
    with selectors.DefaultSelector() as sel:
        for pipe, log in logs.items():
            sel.register(pipe, selectors.EVENT_READ, log)
        if ended is not None:
            sel.register(ended, selectors.EVENT_READ, None)
        try:
            while (code := _exited(proc)) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if sel.get_map():
                    _copy_ready(sel, min(left, POLL_S))
                else:  # it closed both pipes and runs on (and no pidfd tells its end)
                    time.sleep(min(left, EXIT_POLL_S))
        finally:
            if ended is not None:
                sel.unregister(ended)
                os.close(ended)
        _end_group(proc)
        for _ in range(DRAIN_READS):
            if not (sel.get_map() and _copy_ready(sel, 0)):
                break
    return code


def _pidfd(pid: int) -> int | None:
    """A file descriptor that turns readable when process `pid` ends (Linux 5.3+), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _copy_ready(sel: selectors.BaseSelector, timeout: float) -> bool:
    """Copy one read from each pipe that has data (or forget one at its end); whether any was ready."""
    ready = sel.select(timeout)
    for key, _ in ready:
        if key.data is None:  # the pidfd: the command ended
            continue
        data = os.read(key.fd, CHUNK)
        if data:
            key.data.write(data)
        else:
            sel.unregister(key.fileobj)
    return bool(ready)
