"""A per-study lock file that survives crashes: stale locks are detected by pid (with its start
time), host and heartbeat."""

from __future__ import annotations

import json
import math
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import psutil

from mixsearch.errors import LockHeld
from mixsearch.paths import naming, not_writable, writable_dir

HEARTBEAT_S = 15.0
STALE_AFTER_S = 120.0  # a lock whose heartbeat is older than this is stale, on any host
START_TOLERANCE_S = 0.05  # process start times are in clock ticks


def _started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch); None if there is no such process."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, ValueError):
        return None
    except psutil.AccessDenied:
        return math.inf  # alive, start time unknown


def _alive(pid: int, started: float | None) -> bool:
    """Whether the process that took the lock still runs: its pid exists and, when the lock
    recorded it, started at the same time (a reused pid, e.g. after a container restart, did not)."""
    now_started = _started(pid)
    if now_started is None:
        return False
    if started is None or math.isinf(now_started):
        return True
    return abs(now_started - float(started)) <= START_TOLERANCE_S


class StudyLock:
    """`with StudyLock(dir):` holds runs/<study>/.lock for the duration, refreshing a heartbeat.

    The lock is taken with O_EXCL. An existing lock is stale when its heartbeat is older than
    STALE_AFTER_S (any host), or, on this host, when its process is gone or its pid now belongs
    to a process that started at another time; a stale lock is renamed away (atomic, so only
    one contender wins) and taken over.
    """

    def __init__(self, root: Path, command: str = "") -> None:
        self.path = Path(root) / ".lock"
        self.command = command
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _info(self) -> dict:
        return {"pid": os.getpid(), "started": _started(os.getpid()), "host": socket.gethostname(),
                "token": self.token, "command": self.command, "since": time.time()}

    def holder(self) -> dict | None:
        """Who holds the lock, or None when nobody does or the file is unreadable or of the wrong shape."""
        try:
            info = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        shape = {"pid": int, "host": str, "since": (int, float), "token": str}
        ok = isinstance(info, dict) and all(isinstance(info.get(k), t) for k, t in shape.items())
        return info if ok else None

    def _stale(self, info: dict | None) -> bool:
        try:
            if time.time() - self.path.stat().st_mtime > STALE_AFTER_S:  # no heartbeat
                return True
        except FileNotFoundError:
            return True
        if info is None:  # unreadable or being written: judged by the heartbeat alone
            return False
        return info.get("host") == socket.gethostname() and not _alive(int(info.get("pid", -1)), info.get("started"))

    def acquire(self) -> None:
        writable_dir(self.path.parent)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except PermissionError as exc:
                raise not_writable(self.path.parent, exc) from None
            except FileExistsError:
                info = self.holder()
                if not self._stale(info):
                    who = f"pid {info['pid']} on {info['host']}" if info else "another process"
                    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["since"])) if info else "?"
                    raise LockHeld(f"study is locked by {who} ({info.get('command', '') if info else ''}) since {since}",
                                   where=str(self.path)) from None
                grave = self.path.with_name(f".lock.stale-{uuid.uuid4().hex}")
                try:
                    os.rename(self.path, grave)
                    grave.unlink()
                except FileNotFoundError:
                    pass
                continue
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump(self._info(), fh)
            except OSError as exc:  # a full disk: the lock is not taken
                self.path.unlink(missing_ok=True)
                raise naming(exc, self.path) from None
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()
            return
        raise LockHeld("could not take the study lock (contended)", where=str(self.path))

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            info = self.holder()
            if info is not None and info.get("token") != self.token:
                return  # taken over by another process: its file, not ours to touch
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return

    def release(self) -> None:
        self._stop.set()
        info = self.holder()
        if info and info.get("token") == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "StudyLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
