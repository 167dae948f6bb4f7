"""Progress on stderr. Proxy runs: a rich bar with an ETA on a terminal, else (cron, CI, pipes)
one plain line per finished run: ISO time, run id, status, objective, count and ETA. Slow steps
(fitting, proposing): a spinner on a terminal, else a timestamped line when the step starts,
every HEARTBEAT_S while it runs, and when it ends, with the time it took."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone

from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn, TransferSpeedColumn)

from mixsearch.ui.output import err

HEARTBEAT_S = 60.0


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _stamp() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class RunProgress:
    """`with RunProgress(label) as p:` then `p.on_result(row)` per finished run; `p.grow(n)` when
    n more runs are launched; `p.phase(text)` around a slow step (a spinner on a terminal)."""

    def __init__(self, label: str = "proxy runs") -> None:
        self.label = label
        self.tty = err.is_terminal
        self.total = 0
        self.done = 0
        self._start = time.monotonic()
        self._bar: Progress | None = None
        self._task = None

    def __enter__(self) -> "RunProgress":
        if self.tty:
            self._bar = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
                                 TimeRemainingColumn(), console=err)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=None, info="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def grow(self, total: int) -> None:
        """The runs expected so far (done ones included)."""
        self.total = max(total, self.done)
        if self._bar is not None:
            self._bar.update(self._task, total=self.total)

    def eta(self) -> float | None:
        if self.done == 0 or self.total <= self.done:
            return None if self.done == 0 else 0.0
        return (time.monotonic() - self._start) / self.done * (self.total - self.done)

    def on_result(self, row: dict) -> None:
        self.done += 1
        self.total = max(self.total, self.done)
        obj = row.get("objective", math.nan)
        ok = row["status"] == "done"
        what = f"objective={obj:.4f}" if ok and obj is not None and math.isfinite(obj) else f"({row.get('error')})"
        if self._bar is not None:
            self._bar.update(self._task, advance=1, total=self.total, info=f"last: {row['status']} {what}")
            return
        eta = self.eta()
        err.print(f"{_stamp()} run {row['run_id'][:10]} {row['status']} {what} [{self.done}/{self.total}] "
                  f"eta {'?' if eta is None else _clock(eta)}", markup=False, highlight=False, soft_wrap=True)

    def note(self, text: str) -> None:
        """A line between runs (e.g. a sequential validation's round)."""
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            _line(text)

    @contextmanager
    def phase(self, text: str) -> Iterator[None]:
        """A slow step between runs: the bar's text on a terminal, else a timestamped line."""
        if self._bar is not None:  # one live display at a time: the bar's spinner shows it
            self._bar.update(self._task, info=f"{text}…")
        else:
            err.print(f"{_stamp()} {text}", markup=False, highlight=False, soft_wrap=True)
        yield


def _line(text: str) -> None:
    err.print(f"{_stamp()} {text}", markup=False, highlight=False, soft_wrap=True)


def spinner(text: str) -> AbstractContextManager:
    """A slow command step: a spinner on a terminal, else timestamped lines (see the module)."""
    return err.status(f"{text}…", spinner="dots") if err.is_terminal else _timed(text)


@contextmanager
def _timed(text: str) -> Iterator[None]:
    start = time.monotonic()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(HEARTBEAT_S):
            _line(f"{text}: still running ({_clock(time.monotonic() - start)} so far)")

    _line(f"{text}…")
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
    _line(f"{text}: done in {_clock(time.monotonic() - start)}")


def sweep_callback(progress: RunProgress, open_runs: Callable[[], int]) -> Callable[[dict], None]:
    """A per-result callback for a sweep: when a round's first result arrives, the expected total
    grows by the runs open then."""

    def on_result(row: dict) -> None:
        if progress.done >= progress.total:
            progress.grow(progress.done + open_runs() + 1)
        progress.on_result(row)

    return on_result


def bytes_progress(as_json: bool) -> Progress:
    """Per domain: bytes of source tokenized, bytes/s and time left."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=err, disable=as_json)
