"""Directories the commands write to: a refused write is a user error, not a traceback."""

from __future__ import annotations

import os
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
