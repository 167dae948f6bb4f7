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
forks = []


def late_fork():
    me = os.getpid()
    pid = fork()
    forks.append(pid)
    if pid == 0 and len(forks) == 1:  # the guard (the first fork) is first scheduled after the reaper
        while os.getppid() == me:  # has ended, as under heavy load
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


def _reap(*command: str) -> subprocess.CompletedProcess:
    from mixsearch.execute import reaper

    return subprocess.run([sys.executable, "-I", "-S", reaper.__file__, str(os.getpid()), "--", *command],
                          capture_output=True, text=True, start_new_session=True, timeout=120)


def test_the_command_starts_with_the_signal_dispositions_of_a_fresh_process():
    res = _reap("sh", "-c", "grep SigIgn /proc/$$/status")
    ignored = int(res.stdout.split()[1], 16)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them; a shell pipeline expects them
        assert not ignored & (1 << (sig - 1)), res.stdout


def test_a_command_that_cannot_start_exits_127_saying_why(tmp_path):
    res = _reap(str(tmp_path / "no-such-trainer"))
    assert res.returncode == 127
    assert res.stderr == f"cannot start {tmp_path / 'no-such-trainer'}: No such file or directory\n"
    assert _reap("sh", "-c", "exit 3").returncode == 3
    assert _reap("sh", "-c", "kill -TERM $$").returncode == 128 + signal.SIGTERM
