"""A process's guard takes down every command it started, and their descendants, when that
process ends however it ends, also when the guard first runs after it ended; commands start as a
fresh process would, and one that cannot start says why."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import psutil

from mixsearch.execute import guard
from mixsearch.execute.process import run_logged
from tests.execute.processes import FAMILY, alive, gone

# a starter of commands: starts its guard, runs FAMILY tagged in a group of its own as run_logged
# does, prints its pid and its guard's token, and sleeps
STARTER = """
import os, subprocess, sys, time
from mixsearch.execute import process

token = process.guard_token()
subprocess.Popen([sys.executable, sys.argv[1], sys.argv[2]], env={**os.environ, "MIXSEARCH_GUARD": token},
                 start_new_session=True)
print(os.getpid(), token, flush=True)
time.sleep(600)
"""


def _wait_for(path, within_s: float = 120) -> str:
    deadline = time.monotonic() + within_s  # hang guard
    while not (path.exists() and path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.read_text()


def _guards_of(token: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if any(a.endswith("guard.py") for a in cmd) and token in cmd:
            found.append(p)
    return found


def test_a_starter_s_commands_and_their_children_die_with_it_and_its_guard_is_not_its_child(tmp_path):
    family, pids, starter = tmp_path / "family.py", tmp_path / "pids", tmp_path / "starter.py"
    family.write_text(FAMILY)
    starter.write_text(STARTER)
    proc = subprocess.Popen([sys.executable, str(starter), str(family), str(pids)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=os.getcwd())
    try:
        pid, token = proc.stdout.readline().split()
        trainer, child = (int(p) for p in _wait_for(pids).split())
        assert alive(trainer) and alive(child)
        children = {c.pid for c in psutil.Process(int(pid)).children(recursive=True)}
        assert trainer in children
        guards = _guards_of(token)
        assert len(guards) == 1 and guards[0].pid not in children  # a Ray worker's exit SIGKILLs its children
        proc.send_signal(signal.SIGKILL)  # the starter dies without a word
        proc.wait()
        assert gone(trainer) and gone(child)
    finally:
        for pid_text in (pids.read_text().split() if pids.exists() else []):
            try:
                os.kill(int(pid_text), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_guard_first_run_after_its_starter_ended_still_ends_its_commands(tmp_path):
    family, pids = tmp_path / "family.py", tmp_path / "pids"
    family.write_text(FAMILY)
    token = uuid.uuid4().hex
    command = subprocess.Popen([sys.executable, str(family), str(pids)], start_new_session=True,
                               env={**os.environ, guard.TAG: token})
    try:
        trainer, child = (int(p) for p in _wait_for(pids).split())
        watch, starter_end = os.pipe()
        os.close(starter_end)  # the starter is already gone when its guard starts
        subprocess.run([sys.executable, "-I", "-S", guard.__file__, str(watch), token], pass_fds=(watch,), check=True,
                       timeout=120)
        os.close(watch)
        assert gone(trainer) and gone(child)
        assert command.wait(timeout=60) == -signal.SIGKILL
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
            command.wait()


def test_a_guard_leaves_other_processes_alone(tmp_path):
    token = uuid.uuid4().hex
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                             env={**os.environ, guard.TAG: uuid.uuid4().hex})  # another starter's command
    plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        guard.sweep(token)
        assert alive(other.pid) and alive(plain.pid)
        assert guard.tagged(token) == []
    finally:
        for p in (other, plain):
            p.kill()
            p.wait()


def test_the_command_starts_with_the_signal_dispositions_of_a_fresh_process(tmp_path):
    assert run_logged(["sh", "-c", "grep SigIgn /proc/$$/status"], tmp_path, dict(os.environ), None, 120) == 0
    ignored = int((tmp_path / "stdout.log").read_text().split()[1], 16)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them; a shell pipeline expects them
        assert not ignored & (1 << (sig - 1))


def test_a_command_that_cannot_start_exits_127_saying_why(tmp_path):
    missing = tmp_path / "no-such-trainer"
    assert run_logged([str(missing)], tmp_path, dict(os.environ), None, 120) == 127
    assert (tmp_path / "stderr.log").read_text() == f"cannot start {missing}: No such file or directory\n"
    assert run_logged(["sh", "-c", "exit 3"], tmp_path, dict(os.environ), None, 120) == 3
    assert run_logged(["sh", "-c", "kill -TERM $$"], tmp_path, dict(os.environ), None, 120) == 128 + signal.SIGTERM


def test_the_command_carries_its_starter_s_token(tmp_path):
    from mixsearch.execute.process import guard_token

    run_logged(["sh", "-c", f"echo ${guard.TAG}"], tmp_path, dict(os.environ), None, 120)
    assert (tmp_path / "stdout.log").read_text().strip() == guard_token()
