"""The study lock: a reused pid or a stopped heartbeat never blocks the next command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import psutil
import pytest

from mixsearch.errors import LockHeld, UserError
from mixsearch.store.lock import STALE_AFTER_S, StudyLock


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
