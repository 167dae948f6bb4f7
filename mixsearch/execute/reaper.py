"""Run a command as the leader of its own process group, and take the whole group down with
the Ray worker that started it: the worker's death sends us SIGTERM (PR_SET_PDEATHSIG), and we
SIGKILL the group. A Ray worker that exits (ray.kill, its raylet gone) first SIGKILLs its own
children, this process among them, so a guard process in the group, forked from this one, does
the same when this one ends however it ends; leftovers of a command that finished go with it.
Run as a script (`python reaper.py PARENT_PID -- ARGV...`): it imports nothing of mixsearch, so it
starts fast and works wherever the worker's Python does."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def _kill_group(*_: object) -> None:
    os.killpg(0, signal.SIGKILL)


def _watch(parent: int) -> bool:
    """Kill the group when `parent` (this process's parent) dies, or now if it already has;
    False where the kernel cannot tell us (not Linux)."""
    signal.signal(signal.SIGTERM, _kill_group)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the worker's own cleanup still kills the group
        return False
    if os.getppid() != parent:  # it died before we could watch it
        _kill_group()
    return True


def _guard(reaper: int) -> None:
    """The forked guard: wait, holding none of the command's pipes, until the reaper ends."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    _watch(reaper)
    while True:
        signal.pause()


def _start(command: list[str]) -> int:
    """Fork and exec the command with the signal dispositions a fresh process has (Python ignores
    SIGPIPE and SIGXFSZ); a command that cannot start says why and exits 127. No `subprocess`: its
    import costs more than the rest of this script, once per run."""
    pid = os.fork()
    if pid:
        return pid
    try:
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        os.execvp(command[0], command)
    except OSError as exc:
        os.write(2, f"cannot start {command[0]}: {exc.strerror or exc}\n".encode())
    os._exit(127)


def main(argv: list[str]) -> int:
    parent, sep, command = argv[0], argv[1], argv[2:]
    assert sep == "--" and command, "usage: reaper.py PARENT_PID -- COMMAND..."
    me = os.getpid()  # not the guard's getppid(): a guard first scheduled after this process ended would watch init
    if _watch(int(parent)) and os.fork() == 0:
        _guard(me)
    code = os.waitstatus_to_exitcode(os.waitpid(_start(command), 0)[1])
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
