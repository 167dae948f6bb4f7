"""The study lock: one holder at a time (a second command exits 3); a reused pid or a stopped heartbeat
never blocks the next command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import psutil
import pytest

from mixsearch.errors import EXIT_LOCKED, LockHeld, UserError
from mixsearch.store.lock import STALE_AFTER_S, StudyLock
from tests.conftest import cli, write_recipe


def _write_lock(root, **info) -> None:
    (root / ".lock").write_text(json.dumps({"host": socket.gethostname(), "token": "x", "command": "sweep",
                                            "since": time.time(), **info}))


@pytest.fixture
def other_process():
    """A live process on this host that is not the holder of any lock."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_live_holder_with_a_fresh_heartbeat_holds_the_lock(tmp_path, other_process):
    started = psutil.Process(other_process.pid).create_time()
    _write_lock(tmp_path, pid=other_process.pid, started=started)
    with pytest.raises(LockHeld, match=f"pid {other_process.pid}"):
        StudyLock(tmp_path).acquire()


def test_a_reused_pid_does_not_hold_the_lock(tmp_path, other_process):
    """After a container restart the recorded pid belongs to another, newer process."""
    started = psutil.Process(other_process.pid).create_time()
    _write_lock(tmp_path, pid=other_process.pid, started=started - 3600)
    with StudyLock(tmp_path) as lock:
        info = lock.holder()
        assert info["token"] == lock.token and info["pid"] == os.getpid()
        assert info["started"] == pytest.approx(psutil.Process().create_time())


def test_a_stopped_heartbeat_is_stale_on_this_host_too(tmp_path, other_process):
    started = psutil.Process(other_process.pid).create_time()
    _write_lock(tmp_path, pid=other_process.pid, started=started)
    old = time.time() - STALE_AFTER_S - 10
    os.utime(tmp_path / ".lock", (old, old))
    with StudyLock(tmp_path) as lock:
        assert lock.holder()["token"] == lock.token


def test_lock_under_a_file_is_a_user_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserError, match="afile/st: not writable"):
        StudyLock(tmp_path / "afile" / "st").acquire()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_excludes_a_second_holder_and_takes_over_stale_locks(tmp_path):
    with StudyLock(tmp_path, "sweep"):
        with pytest.raises(LockHeld, match=r"study is locked by pid \d+ on .* \(sweep\)"):
            StudyLock(tmp_path).acquire()
    assert not (tmp_path / ".lock").exists()  # released

    lock_file = tmp_path / ".lock"
    lock_file.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "token": "x",
                                     "command": "sweep", "since": time.time()}))
    with StudyLock(tmp_path) as lock:  # a crashed holder on this host: stale
        assert StudyLock(tmp_path).holder()["token"] == lock.token

    lock_file.write_text(json.dumps({"pid": 1, "host": "elsewhere", "token": "y", "command": "sweep",
                                     "since": time.time()}))
    with pytest.raises(LockHeld):  # another host with a fresh heartbeat: held
        StudyLock(tmp_path).acquire()
    old = time.time() - STALE_AFTER_S - 5
    os.utime(lock_file, (old, old))
    with StudyLock(tmp_path) as lock:  # its heartbeat stopped: stale
        assert StudyLock(tmp_path).holder()["token"] == lock.token


def test_cli_exits_3_when_the_study_is_locked(recipe_dict, tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    with StudyLock(tmp_path / "runs" / "tiny", "someone else"):
        res = cli("sweep", str(recipe), cwd=tmp_path, check=False)
    assert res.returncode == EXIT_LOCKED
    assert res.stderr.strip().startswith("error: runs/tiny/.lock: study is locked by pid")
    assert len(res.stderr.strip().splitlines()) == 1
