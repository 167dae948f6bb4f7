"""The reaper and its guard take a command's whole process group down when the reaper ends,
however late the guard gets to run on a busy machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.execute.processes import FAMILY, alive, gone

LATE_GUARD = """
import os, sys, time
from mixsearch.execute import reaper

fork = os.fork


def late_fork():
    me = os.getpid()
    pid = fork()
    if pid == 0:  # the guard is first scheduled after the reaper has ended, as under heavy load
        while os.getppid() == me:
            time.sleep(0.05)
    return pid


os.fork = late_fork
sys.exit(reaper.main(sys.argv[1:]))
"""


def test_a_guard_that_runs_only_after_the_reaper_died_still_ends_the_command(tmp_path):
    script, pids, wrapper = tmp_path / "family.py", tmp_path / "pids", tmp_path / "late_guard.py"
    script.write_text(FAMILY)
    wrapper.write_text(LATE_GUARD)
    reaper = subprocess.Popen([sys.executable, str(wrapper), str(os.getpid()), "--", sys.executable, str(script),
                               str(pids)], start_new_session=True)
    try:
        deadline = time.monotonic() + 120  # hang guard
        while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        trainer, child = (int(p) for p in pids.read_text().split())
        assert alive(trainer) and alive(child)
        reaper.send_signal(signal.SIGKILL)  # as a Ray worker's exit SIGKILLs its children
        reaper.wait()
        assert gone(trainer) and gone(child)
    finally:
        try:
            os.killpg(reaper.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
