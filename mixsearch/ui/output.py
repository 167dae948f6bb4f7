"""Consoles and the one JSON document a `--json` command writes on stdout.

While a `--json` command runs, file descriptor 1 points at stderr (so Ray workers, raylet
messages, torch warnings and stray prints cannot reach stdout); the JSON document is written
to the saved original stdout.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

WIDE = 200  # tables written to a file or pipe are not wrapped at 80 columns


def _console(stderr: bool) -> Console:
    """A terminal's own width (or COLUMNS); WIDE for files and pipes."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() or "COLUMNS" in os.environ else WIDE)


err = _console(stderr=True)
out = _console(stderr=False)

_json_fd: int | None = None  # the real stdout while a --json command runs
_emitted = False


def wants_json(argv: list[str]) -> bool:
    """Whether the command line asks for JSON (looked up before parsing, so usage errors know)."""
    args = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in args


@contextmanager
def json_stdout() -> Iterator[None]:
    """Point fd 1 (inherited by every child process) at stderr until the block ends."""
    global _json_fd, _emitted
    sys.stdout.flush()
    _json_fd, _emitted = os.dup(1), False
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(_json_fd, 1)
        os.close(_json_fd)
        _json_fd = None


def _clean(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def _default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "item"):
        return _clean(o.item())
    return str(o)


def emit_json(obj: Any) -> None:
    """Write the command's one JSON document on stdout (NaN and infinities become null)."""
    global _emitted
    text = json.dumps(_clean(obj), default=_default, indent=1) + "\n"
    _emitted = True
    if _json_fd is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    data = text.encode()
    while data:
        data = data[os.write(_json_fd, data):]


def emit_error_json(message: str, exit_code: int) -> None:
    """On failure of a --json command: {"error", "exit_code"} unless a document was written already."""
    if not _emitted:
        emit_json({"error": message, "exit_code": exit_code})
