"""Take a process's commands down with it: one guard per process that starts commands (a Ray
worker), outside its process tree, that kills every command it started, and their descendants,
when that process ends, however it ends.

The process holds the only write end of a pipe the guard reads, so the pipe reads end-of-file
when the process is gone (SIGKILL, ray.kill, its raylet gone, a crash), also when that happened
before the guard first ran. Its commands carry TAG=<token> in their environment, set when they are
executed and inherited by everything they start (in any process group), so the guard finds them
in /proc without being told each one: a command is marked from its first instruction, whatever
moment its starter dies. The guard forks itself away at start: a Ray worker that exits SIGKILLs
its direct children, and the guard has to outlive it.

Run as a script (`python -I -S guard.py FD TOKEN`): built-in modules only, so it starts fast and
works wherever the worker's Python does. `_signal` is the C part of `signal`, which would import
`enum`."""

from __future__ import annotations

import os
import sys
import time

import _signal

TAG = "MIXSEARCH_GUARD"
SWEEP_ROUNDS = 100  # sweeps at most, until one finds nothing (a command may be starting a child)
SWEEP_PAUSE_S = 0.05


def tagged(token: str) -> list[int]:
    """Processes whose environment holds TAG=token (other users' are unreadable: not ours)."""
    mark = f"{TAG}={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if mark in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone, or not ours
            continue
    return found


def sweep(token: str) -> None:
    """SIGKILL every process tagged with `token`, again until a sweep finds none."""
    for _ in range(SWEEP_ROUNDS):
        pids = tagged(token)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, _signal.SIGKILL)
            except OSError:
                pass
        time.sleep(SWEEP_PAUSE_S)


def watch(fd: int, token: str) -> None:
    """Wait until nobody holds the pipe's write end any more, then sweep."""
    while True:
        try:
            if not os.read(fd, 4096):
                break
        except InterruptedError:
            continue
    sweep(token)


def main(argv: list[str]) -> int:
    fd, token = int(argv[0]), argv[1]
    if os.fork():  # the starter reaps this process at once; the guard is nobody's child but init's
        return 0
    os.setsid()  # out of the starter's session and group: nothing aimed at those reaches it
    devnull = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(devnull, std)
    watch(fd, token)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
