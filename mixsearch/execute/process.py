"""A command as the leader of its own process group that dies with the process that started it (a
Ray worker; `guard.py`): its stdout and stderr are copied into logs as they arrive, processes it
leaves running when it ends go with it, and its group is killed at a timeout or when the wait is
cancelled."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from mixsearch.execute.guard import TAG
from mixsearch.execute.logtail import TailLog

GUARD = Path(__file__).with_name("guard.py")
POLL_S = 1.0  # without a pidfd, the wait for output checks the command's exit this often
CHUNK = 1 << 16  # bytes of one read from a pipe
DRAIN_READS = 64  # reads of what an ended command left in its pipes, at most

_guards: dict[int, tuple[str, int]] = {}  # pid -> (its guard's token, its end of the guard's pipe)
_guards_lock = threading.Lock()


def guard_token() -> str:
    """The token that marks this process's commands for its guard, started on first use (a forked
    copy of this process starts its own)."""
    with _guards_lock:
        if os.getpid() not in _guards:
            watch, alive = os.pipe()  # `alive` stays with this process alone (not inheritable)
            token = uuid.uuid4().hex
            try:
                subprocess.run([sys.executable, "-I", "-S", str(GUARD), str(watch), token], pass_fds=(watch,),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True, timeout=300)
            finally:
                os.close(watch)
            _guards[os.getpid()] = (token, alive)
        return _guards[os.getpid()][0]


def run_logged(argv: Sequence[str], log_dir: Path, env: dict[str, str], cwd: str | None, timeout: float) -> int | None:
    """Run argv with its stdout and stderr copied into log_dir/stdout.log and stderr.log, each kept
    to its tail (TailLog); its exit code (127 when it cannot start, saying why in stderr.log, and
    128 + N when signal N ended it), or None when `timeout` seconds passed and it was killed."""
    logs: dict[str, TailLog] = {}
    proc = None
    try:
        logs = {stream: TailLog(log_dir / f"{stream}.log") for stream in ("stdout", "stderr")}
        try:
            proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, env={**env, TAG: guard_token()}, cwd=cwd,
                                    start_new_session=True)
        except OSError as exc:  # as a shell reports it
            logs["stderr"].write(f"cannot start {argv[0]}: {exc.strerror or exc}\n".encode())
            return 127
        code = _copy_output(proc, {proc.stdout: logs["stdout"], proc.stderr: logs["stderr"]}, timeout)
        return None if code is None else 128 - code if code < 0 else code
    finally:  # cancelled (KeyboardInterrupt in the worker) or anything else: leave nothing running
        if proc is not None:
            if proc.poll() is None:
                _kill(proc)
            for pipe in (proc.stdout, proc.stderr):
                pipe.close()
        for log in logs.values():
            log.close()


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the command's whole process group (it leads one) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _exited(proc: subprocess.Popen) -> bool:
    """Whether the command has ended, without reaping it: while it is not reaped its pid, the id
    of its process group, cannot be taken by another process."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped already
        return True


def _exit_fd(pid: int) -> int | None:
    """A descriptor that turns readable when `pid` ends (Linux 5.3+), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _copy_output(proc: subprocess.Popen, logs: dict, timeout: float) -> int | None:
    """Copy the command's pipes into their logs until it ends (its returncode; what it left running
    in its group is killed) or `timeout` seconds pass (None: its process group is killed), then
    what its pipes still hold."""
    deadline = time.monotonic() + timeout
    exit_fd = _exit_fd(proc.pid)
    code = None
    try:
        with selectors.DefaultSelector() as sel:
            for pipe, log in logs.items():
                sel.register(pipe, selectors.EVENT_READ, log)
            if exit_fd is not None:
                sel.register(exit_fd, selectors.EVENT_READ, None)
            while not _exited(proc):
                left = deadline - time.monotonic()
                if left <= 0:
                    _kill(proc)
                    break
                _copy_ready(sel, min(left, POLL_S))
            else:
                _kill(proc)  # the leader has ended: the rest of its group goes with it
                code = proc.returncode
            for _ in range(DRAIN_READS):
                if not (sel.get_map() and _copy_ready(sel, 0)):
                    break
    finally:
        if exit_fd is not None:
            os.close(exit_fd)
    return code


def _copy_ready(sel: selectors.BaseSelector, timeout: float) -> bool:
    """Copy one read from each pipe that has data (or forget one at its end, or the exit
    descriptor once it fires); whether any was ready."""
    ready = sel.select(timeout)
    for key, _ in ready:
        if key.data is None:
            sel.unregister(key.fileobj)
            continue
        data = os.read(key.fd, CHUNK)
        if data:
            key.data.write(data)
        else:
            sel.unregister(key.fileobj)
    return bool(ready)
