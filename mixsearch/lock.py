"""A per-study lock file that survives crashes: stale locks are detected by pid, host and heartbeat."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from mixsearch.errors import LockHeld

HEARTBEAT_S = 15.0
STALE_AFTER_S = 120.0  # a lock from another host whose heartbeat is older than this is stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StudyLock:
    """`with StudyLock(dir):` holds runs/<study>/.lock for the duration, refreshing a heartbeat.

    The lock is taken with O_EXCL. An existing lock is stale when its process is gone (same
    host) or its heartbeat is older than STALE_AFTER_S (another host); a stale lock is renamed
    away (atomic, so only one contender wins) and taken over.
    """

    def __init__(self, root: Path, command: str = "") -> None:
        self.path = Path(root) / ".lock"
        self.command = command
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _info(self) -> dict:
        return {"pid": os.getpid(), "host": socket.gethostname(), "token": self.token,
                "command": self.command, "since": time.time()}

    def holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _stale(self, info: dict | None) -> bool:
        if info is None:  # unreadable or being written: judge by age of the file
            try:
                return time.time() - self.path.stat().st_mtime > STALE_AFTER_S
            except FileNotFoundError:
                return True
        if info.get("host") == socket.gethostname():
            return not _alive(int(info.get("pid", -1)))
        try:
            return time.time() - self.path.stat().st_mtime > STALE_AFTER_S
        except FileNotFoundError:
            return True

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
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
            with os.fdopen(fd, "w") as fh:
                json.dump(self._info(), fh)
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()
            return
        raise LockHeld("could not take the study lock (contended)", where=str(self.path))

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
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
