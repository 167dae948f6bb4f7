"""Scratch directories that a writer fills and then renames into place, each locked while its
writer lives: a later writer removes those whose writer died (killed mid-write), never one in use.

`.tmp-<name>-<random>` is the directory and `.tmp-<name>-<random>.lock` beside it the lock file,
taken (flock) before the directory exists and dropped after it is gone. The kernel drops the lock
when its holder dies, on any host that shares the file system (Linux NFS maps flock onto
byte-range locks)."""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = ".tmp-"
LOCK = ".lock"


@contextmanager
def scratch_dir(parent: Path, name: str) -> Iterator[Path]:
    """A new, locked directory in `parent` for the block to fill and rename away; whatever is left
    of it when the block ends (by an error or a signal too) is removed."""
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / f"{PREFIX}{name}-{uuid.uuid4().hex[:12]}"
    lock = path.with_name(path.name + LOCK)
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without locks: remove_abandoned cannot lock it either, so leaves it
            pass
        path.mkdir()
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            lock.unlink(missing_ok=True)
    finally:
        os.close(fd)


def remove_abandoned(parent: Path) -> list[Path]:
    """Remove the scratch directories in `parent` whose writer is gone (their lock is free);
    returns those removed."""
    removed = []
    for path in sorted(parent.glob(PREFIX + "*")):
        if not path.is_dir() or path.name.endswith(LOCK):
            continue
        lock = path.with_name(path.name + LOCK)
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            continue  # not a scratch directory of this module
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its writer is alive (or the file system has no locks)
            os.close(fd)
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
            lock.unlink(missing_ok=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed
