"""Files and directories the commands read and write: a refused write is a user error, not a
traceback; a write that fails names its file; a cached file that cannot be used is ignored.

Every file or directory a command publishes is written under a temp name beside its place and
renamed into it (`atomic`): readers see the old one or the new one, never a half-written one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from mixsearch.errors import UserError

T = TypeVar("T")


def not_writable(path: Path, exc: OSError) -> UserError:
    return UserError(f"not writable ({exc.strerror or exc})", where=str(path))


def naming(exc: OSError, path: Path) -> OSError:
    """`exc` with `path` as its file name when it has none (a full disk, a failed rename), so the
    error line says which file could not be written."""
    if exc.filename is not None:
        return exc
    named = OSError(exc.errno, exc.strerror or str(exc), str(path))
    named.__cause__ = exc
    return named


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


def remove(path: Path) -> None:
    """Remove a file or a directory tree, if there is one."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def swap_in(src: Path, dst: Path) -> None:
    """Move `src` onto `dst`; a directory at `dst` is moved aside first, then removed."""
    if not dst.is_dir():
        os.replace(src, dst)
        return
    old = dst.with_name(f".old-{uuid.uuid4().hex}-{dst.name}")
    os.replace(dst, old)
    os.replace(src, dst)
    shutil.rmtree(old)


@contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """A temp path beside `path` to write a file or a directory at; when the block ends without an
    error it replaces `path` (`swap_in`), else it is removed. An OSError names `path`."""
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}-{path.name}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        swap_in(tmp, path)
    except OSError as exc:
        raise naming(exc, path) from None
    finally:
        remove(tmp)


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write `data` (text as UTF-8) to `path` atomically. An OSError names `path`."""
    with atomic(path) as tmp:
        tmp.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def read_cached(path: Path, parse: Callable[[object], T]) -> T | None:
    """A JSON file the study keeps (a fit, an answer) as `parse` makes it, or None when there is none.
    One that cannot be read, is not JSON, or that `parse` rejects (ValueError, TypeError, KeyError:
    the wrong shape) is ignored with a one-line warning on stderr; its writer rebuilds it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
    else:
        try:
            return parse(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            why = _reason(exc)
    print(f"warning: {path}: unreadable or of the wrong shape, ignored; rebuilt when next written ({why})",
          file=sys.stderr)
    return None


def _reason(exc: Exception) -> str:
    """An exception as a short reason; a pydantic error as its first field and message."""
    errors = getattr(exc, "errors", None)
    if callable(errors) and (first := next(iter(errors()), None)):
        return f"{'.'.join(map(str, first['loc'])) or 'top level'}: {first['msg']}"[:200]
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
