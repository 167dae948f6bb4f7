"""Batched store writes: one part per interval, compaction as parts pile up, and a kill loses at
most the rows of the last interval."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

import pytest

from mixsearch.store import parts as store_mod
from mixsearch.store.batch import Batch
from mixsearch.store.parts import Store


def _row(i: int, status: str = "done") -> dict:
    return {"run_id": f"r{i}", "study": "st", "status": status, "w_a": 0.5, "w_b": 0.5, "objective": float(i)}


def _wait_for(predicate, guard_s: float = 60.0) -> None:
    """Wait until `predicate()` holds (a hang guard, not a speed check)."""
    deadline = time.monotonic() + guard_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_rows_wait_for_the_flush_and_this_process_reads_them_at_once(tmp_path):
    s = Store(tmp_path, "st")
    s.append([_row(0, "pending"), _row(1, "pending")])
    with Batch(s, interval=3600):
        for i in range(5):
            s.append([_row(i)])
        assert len(s.part_files()) == 1  # nothing written yet
        view = s.runs()
        assert sorted(view["run_id"]) == [f"r{i}" for i in range(5)] and set(view["status"]) == {"done"}
        assert Store(tmp_path, "st").runs()["status"].eq("pending").all()  # another reader: the parts only
    assert len(s.part_files()) == 2  # the batch's rows: one part
    view = Store(tmp_path, "st").runs()
    assert len(view) == 5 and set(view["status"]) == {"done"}
    s.append([_row(9)])  # after the batch: written at once
    assert len(s.part_files()) == 3


def test_the_thread_flushes_each_interval(tmp_path):
    s = Store(tmp_path, "st")
    with Batch(s, interval=0.05):
        s.append([_row(1)])
        _wait_for(lambda: len(s.part_files()) == 1)
        assert list(Store(tmp_path, "st").runs()["run_id"]) == ["r1"]


def test_parts_stay_bounded_while_a_batch_writes(tmp_path):
    s = Store(tmp_path, "st")
    most = 0
    with Batch(s, interval=0.001, max_parts=4):
        for i in range(300):
            s.append([_row(i, "pending")])
            s.append([_row(i)])
            most = max(most, len(s.part_files()))
    assert most <= 4 + 2  # the compacted part is in place before the parts it replaces go
    view = Store(tmp_path, "st").runs()
    assert len(view) == 300 and view["run_id"].is_unique and set(view["status"]) == {"done"}


def test_a_write_that_fails_in_the_thread_is_raised_when_the_batch_ends(tmp_path, monkeypatch):
    s = Store(tmp_path, "st")
    calls = []

    def full(table, where, **kw):
        calls.append(where)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_mod.pq, "write_table", full)
    with pytest.raises(OSError, match="No space left"):
        with Batch(s, interval=0.01):
            s.append([_row(1)])
            _wait_for(lambda: len(calls) > 0)
    assert s.part_files() == []


def _append_then_hang(root: str, ready) -> None:
    s = Store(root, "st")
    with Batch(s, interval=3600):
        s.append([_row(i) for i in range(5)])
        s.flush()
        s.append([_row(i) for i in range(5, 8)])  # the last interval's rows: not written
        ready.set()
        time.sleep(600)


def test_a_killed_writer_loses_only_the_rows_of_the_last_interval(tmp_path):
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_append_then_hang, args=(str(tmp_path), ready))
    proc.start()
    try:
        assert ready.wait(120)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
    s = Store(tmp_path, "st")
    view = s.runs()
    assert sorted(view["run_id"]) == [f"r{i}" for i in range(5)] and len(s.log()) == 5 and not s.unreadable
