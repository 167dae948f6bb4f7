"""Processes a test starts and checks on: a command that starts a child and sleeps, and whether a
pid still runs."""

from __future__ import annotations

import time
from pathlib import Path

# a command that starts a child, writes "its pid, the child's pid" to argv[1], and sleeps
FAMILY = """\
import os, subprocess, sys, time
from pathlib import Path
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
Path(sys.argv[1]).write_text(f"{os.getpid()} {child.pid}")
time.sleep(600)
"""


def gone(pid: int, within_s: float = 60.0) -> bool:
    """Whether `pid` ends within `within_s` (a SIGKILL lands asynchronously, later on a busy machine)."""
    deadline = time.monotonic() + within_s
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
