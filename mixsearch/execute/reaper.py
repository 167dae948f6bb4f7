"""The guard of one Ray worker's commands: `python -I -S reaper.py`, started once per worker
(`Guard`), its stdin a pipe from the worker. The worker writes `+PGID` when it starts a command
(the leader of its own process group) and `-PGID` once that group is gone. When the pipe closes,
the worker has ended however it ended (SIGKILL, ray.kill, its raylet gone), and the guard SIGKILLs
every group still listed, so a command and the processes it started never outlive their worker.
It forks at once and its first process exits, so the guard is no child of the worker (a Ray worker
that exits SIGKILLs its own children first). It imports nothing of mixsearch and starts fast."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading


def watch(lines) -> None:
    """Follow `+PGID`/`-PGID` lines to their end, then kill the groups still listed."""
    groups: set[int] = set()
    for line in lines:
        sign, pgid = line[:1], line[1:].strip()
        if pgid.isdigit():
            (groups.add if sign == "+" else groups.discard)(int(pgid))
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class Guard:
    """The worker side: starts the guard on first use (again if it died) and tells it of each group."""

    _proc: subprocess.Popen | None = None
    _lock = threading.Lock()

    @classmethod
    def start(cls) -> None:
        """Start the guard unless it runs: before a command starts, so the command is never
        without one (a guard started after it would leave a window where the worker could die
        with nobody told of the command)."""
        with cls._lock:
            cls._start()

    @classmethod
    def _start(cls) -> None:
        if cls._proc is None or cls._proc.stdin.closed:
            cls._proc = subprocess.Popen([sys.executable, "-I", "-S", __file__], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True, text=True, bufsize=1)
            cls._proc.wait()  # the first process: it exits once the guard is forked

    @classmethod
    def _send(cls, line: str) -> None:
        with cls._lock:
            for _ in range(2):
                cls._start()
                try:
                    cls._proc.stdin.write(line + "\n")
                    return
                except (BrokenPipeError, ValueError):  # the guard died: start another
                    cls._proc = None

    @classmethod
    def watch(cls, pgid: int) -> None:
        cls._send(f"+{pgid}")

    @classmethod
    def forget(cls, pgid: int) -> None:
        cls._send(f"-{pgid}")


if __name__ == "__main__":
    if os.fork():
        os._exit(0)
    watch(sys.stdin)
