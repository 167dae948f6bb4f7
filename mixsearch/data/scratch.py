"""Scratch directories that a writer fills and then renames into place, each locked while its
writer lives: a later writer removes those whose writer died (killed mid-write), never one in use.

`.tmp-<name>-<random>` is the directory and `.tmp-<name>-<random>.lock` beside it the lock file,
taken (flock) before the directory exists and dropped after it is gone. The kernel drops the lock
when its holder dies, on any host that shares the file system (Linux NFS maps flock onto
byte-range locks).

Writers before these locks made `.<name>-XXXXXXXX` (tempfile.mkdtemp), with no lock: one of those
is taken for abandoned once nothing in it changed for LEGACY_QUIET_S."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = ".tmp-"
LOCK = ".lock"
LEGACY_SUFFIX = "-[a-z0-9_]{8}"  # tempfile.mkdtemp's random part
# A writer of the older naming wrote a shard (8 MB of text) every few seconds to minutes (the
# oldest, a whole domain's tokens at the end); one still at work after this long fails at its
# final rename, and the cache keeps no half-written entry.
LEGACY_QUIET_S = 3600.0


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


def remove_abandoned(parent: Path, legacy: Iterable[str] = ()) -> list[Path]:
    """Remove the scratch directories in `parent` whose writer is gone (their lock is free), and
    those of the older naming made for one of the `legacy` names that nothing changed in for
    LEGACY_QUIET_S; returns those removed."""
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
    return removed + _remove_legacy(parent, list(legacy))


def _remove_legacy(parent: Path, names: list[str]) -> list[Path]:
    """Remove `.<name>-XXXXXXXX` directories in `parent` (a name of `names`) that stayed unchanged
    for LEGACY_QUIET_S."""
    if not names or not parent.is_dir():
        return []
    pattern = re.compile(r"\.(?:" + "|".join(map(re.escape, names)) + ")" + LEGACY_SUFFIX)
    quiet_since = time.time() - LEGACY_QUIET_S
    removed = []
    for path in sorted(parent.iterdir()):
        if not pattern.fullmatch(path.name) or path.is_symlink() or not path.is_dir():
            continue
        try:
            if _changed(path) >= quiet_since:
                continue
        except FileNotFoundError:  # removed meanwhile
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _changed(path: Path) -> float:
    """When anything in the directory tree at `path` last changed (its newest mtime)."""
    newest = path.lstat().st_mtime
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except FileNotFoundError:
                continue
    return newest
