"""Run a command as the leader of its own process group, and take the whole group down with
the Ray worker that started it: the worker's death sends us SIGTERM (PR_SET_PDEATHSIG), and we
SIGKILL the group. Run as a script (`python reaper.py PARENT_PID -- ARGV...`): it imports nothing
of mixsearch, so it starts fast and works wherever the worker's Python does."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1


def _kill_group(*_: object) -> None:
    os.killpg(0, signal.SIGKILL)


def main(argv: list[str]) -> int:
    parent, sep, command = argv[0], argv[1], argv[2:]
    assert sep == "--" and command, "usage: reaper.py PARENT_PID -- COMMAND..."
    signal.signal(signal.SIGTERM, _kill_group)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the worker's own cleanup still kills the group
        pass
    if os.getppid() != int(parent):  # the worker died before we could watch it
        _kill_group()
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        print(f"cannot start {command[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 127
    code = child.wait()
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
