"""SIGINT and SIGTERM end a command cleanly: the main thread gets a `Terminated` exception, so
`finally` blocks and context managers release the study lock, shut Ray down and leave open runs
open; the process then exits 128 + the signal number (130, 143). Signals that arrive during that
clean-up are ignored, so the clean-up is not cut short."""

from __future__ import annotations

import signal
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM)


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
    raise Terminated(signum)


def install() -> None:
    """Route SIGINT and SIGTERM to `Terminated` (call from the main thread)."""
    for s in HANDLED:
        signal.signal(s, _raise)
