"""Batched writes for long commands: a command that stores thousands of results writes one part
per interval instead of one per result, and compacts the store as the parts pile up, so neither
the part count nor the work per result grows with the study."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

FLUSH_S = 1.0  # a batch writes its rows this often
MAX_PARTS = 32  # a batch compacts the store when more parts than this are in place


class Batchable(Protocol):
    """What a batch needs of a store (mixsearch.store.parts.Store)."""

    def start_batch(self) -> None: ...
    def end_batch(self) -> None: ...
    def flush(self) -> int: ...
    def part_files(self) -> list[Path]: ...
    def compact(self) -> int: ...


class Batch:
    """`with Batch(store):` appends wait in memory (this process's reads see them) and a thread
    writes them as one part every `interval` seconds, compacting the store when more than
    `max_parts` parts are in place; leaving the block writes the rest. A process killed meanwhile
    loses the rows of the last interval only. A write that fails stops the thread and is raised
    on leaving."""

    def __init__(self, store: Batchable, interval: float = FLUSH_S, max_parts: int = MAX_PARTS) -> None:
        self.store, self.interval, self.max_parts = store, interval, max_parts
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_every_interval, name="store-flush", daemon=True)

    def __enter__(self) -> Batch:
        self.store.start_batch()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.store.end_batch()
        if self.error is not None:
            raise self.error

    def _flush_every_interval(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if self.store.flush() and len(self.store.part_files()) > self.max_parts:
                    self.store.compact()
            except Exception as exc:  # raised when the block is left; the rows wait for that flush
                self.error = exc
                return
