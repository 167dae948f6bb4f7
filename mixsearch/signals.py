"""SIGINT and SIGTERM end a command cleanly: the main thread gets a `Terminated` exception, so
`finally` blocks and context managers release the study lock, shut Ray down and leave open runs
open; the process then exits 128 + the signal number (130, 143). Signals that arrive during that
clean-up are ignored, so the clean-up is not cut short.

C code that checks for signals while it blocks (Ray's waits) turns an exception raised by the
handler into `SystemError`; code that blocks in such calls runs them inside `deferred()`, where a
signal is only noted and raised as `Terminated` at the block's own checks."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM)

_noted: list[int] | None = None  # inside deferred(): the signals received so far


class Terminated(BaseException):
    """Raised in the main thread on SIGINT/SIGTERM; a BaseException so `except Exception` keeps out."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(self.name)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A second signal while cleaning up after the first."""


def _raise(signum: int, frame: FrameType | None) -> None:
    for s in HANDLED:
        signal.signal(s, _ignore)
    if _noted is not None:
        _noted.append(signum)
        return
    raise Terminated(signum)


def install() -> None:
    """Route SIGINT and SIGTERM to `Terminated` (call from the main thread)."""
    for s in HANDLED:
        signal.signal(s, _raise)


@contextmanager
def deferred() -> Iterator[Callable[[], None]]:
    """Within the block a signal is only noted; the yielded check() raises it as `Terminated`, and
    so does leaving the block normally."""
    global _noted
    outer, _noted = _noted, []
    noted = _noted

    def check() -> None:
        if noted:
            raise Terminated(noted[0])

    try:
        yield check
    finally:
        _noted = outer
        if outer is not None:
            outer.extend(noted)
    check()
