"""Batched writes for long commands: a command that stores thousands of results writes one part
per interval instead of one per result, and compacts the store as the parts pile up, so neither
the part count nor the work per result grows with the study."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol


class Batchable(Protocol):
    """What a batch needs of a store (mixsearch.store.parts.Store)."""

    def start_batch(self) -> None: ...
    def end_batch(self) -> None: ...
    def flush(self) -> int: ...
    def part_files(self) -> list[Path]: ...
    def compact(self) -> int: ...


class Batch:
    """`with Batch(store, interval, max_parts):` a thread flushes the store's waiting rows every
    `interval` seconds and compacts when more than `max_parts` parts are in place; leaving the
    block flushes the rest. A write that fails stops the thread and is raised on leaving."""

    def __init__(self, store: Batchable, interval: float, max_parts: int) -> None:
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
