"""Directories the commands write to: a refused write is a user error, not a traceback."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from mixsearch.errors import UserError


def not_writable(path: Path, exc: OSError) -> UserError:
    return UserError(f"not writable ({exc.strerror or exc})", where=str(path))


def writable_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed; a UserError if that, or writing in it, is refused
    (permission denied, a file in the way, a read-only file system)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise not_writable(path, exc) from None
    return path


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write `data` (text as UTF-8) to a temp name beside `path`, then rename it into place:
    readers see the old file or the new one, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}-{path.name}"
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)
    return path
