"""Run store: an append-only directory of Parquet parts under runs/<study>/.

Every write is a new part file, written to a temp name and renamed into place, so concurrent
writers never touch the same file and readers never see half a part. A run's current state is
its newest row (by `seq`); `runs()` returns that view, one row per run. A long command writes
in a batch (`mixsearch.store.batch`): rows are flushed as one part per interval, and the parts
are compacted as they pile up.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mixsearch.errors import UserError
from mixsearch.paths import atomic, not_writable, writable_dir
from mixsearch.store.schema import build_schema, conform, with_known_columns

STATUSES = ("pending", "proposed", "done", "failed")
SCHEMA_VERSION = 1  # of exports; bump when a column changes meaning or type
EXPORT_FORMATS = ("parquet", "csv", "dataset")
READ_ATTEMPTS = 50  # re-reads of a store whose parts change (compaction) while it is read


def now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(timezone.utc))


def atomic_write_table(table: pa.Table, path: Path) -> None:
    """Write a Parquet file atomically; an OSError (a full disk) names `path`."""
    writable_dir(path.parent)
    try:
        with atomic(path) as tmp:
            pq.write_table(table, tmp)
    except PermissionError as exc:
        raise not_writable(path.parent, exc) from None


def _latest(table: pa.Table) -> pa.Table:
    """One row per run_id: the one with the highest seq (rows are in seq order)."""
    ids = table.column("run_id").to_pandas()
    keep = ~ids.duplicated(keep="last").to_numpy()
    return table.filter(pa.array(keep))


class Store:
    """The runs of one study. `columns`: the study's dynamic columns (see schema.py), so
    every part has the same columns whichever command wrote it."""

    def __init__(self, runs_dir: str | Path, study: str, columns: Sequence[str] = ()) -> None:
        self.root = Path(runs_dir) / study
        self.parts = self.root / "parts"
        self.columns = list(columns)
        self.unreadable: dict[Path, str] = {}  # parts that failed to read in the last read, with the reason
        self._cache: dict[Path, tuple[tuple[int, int], pa.Table]] = {}  # parts are immutable once in place
        self._pending: list[dict] | None = None  # rows not yet in a part, while batched (`start_batch`)
        self._mutex = threading.RLock()  # the flushing thread and this process's readers share the cache

    def part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet")) if self.parts.exists() else []

    def schema(self, table: pa.Table | None = None) -> pa.Schema:
        """The store's schema, extended by any other columns `table` has."""
        return build_schema(self.columns, table.schema if table is not None else None)

    def append(self, rows: Sequence[dict]) -> Path | None:
        """Append rows as one new part; each row gets a `seq` that orders updates. While batched,
        the rows wait for the next flush instead (this process's reads see them already)."""
        if not rows:
            return None
        base = time.time_ns()
        stamped = [{**r, "seq": base + i, "updated_at": now()} for i, r in enumerate(rows)]
        with self._mutex:
            if self._pending is not None:
                self._pending.extend(stamped)
                return None
        return self._write(stamped)

    def _write(self, stamped: list[dict]) -> Path:
        name = f"part-{stamped[0]['seq']:020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
        path = self.parts / name
        table = pa.Table.from_pandas(pd.DataFrame(stamped), preserve_index=False)
        atomic_write_table(conform(table, self.schema(table)), path)
        return path

    def flush(self) -> int:
        """Write the rows waiting in a batch as one part; returns how many."""
        with self._mutex:
            rows = self._pending or []
            if rows:
                self._write(rows)
                self._pending = []
        return len(rows)

    def start_batch(self) -> None:
        """Let appends wait in memory for `flush` (`mixsearch.store.batch.Batch` runs both)."""
        with self._mutex:
            if self._pending is None:
                self._pending = []

    def end_batch(self) -> None:
        """Flush what waits and write each append at once again."""
        with self._mutex:
            try:
                self.flush()
            finally:
                self._pending = None

    def _read_part(self, path: Path) -> pa.Table:
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
        hit = self._cache.get(path)
        if hit is None or hit[0] != key:
            table = pq.read_table(path)
            hit = (key, conform(table, self.schema(table)))
            self._cache[path] = hit
        return hit[1]

    def _read(self, pending: bool = True) -> tuple[list[Path], pa.Table]:
        """Read every part (`_read_parts`) and, with `pending`, the rows waiting in a batch, as one
        table in `seq` order."""
        with self._mutex:
            read, tables = self._read_parts()
            if pending and self._pending:
                table = pa.Table.from_pandas(pd.DataFrame(self._pending), preserve_index=False)
                tables.append(conform(table, self.schema(table)))
        tables = [t for t in tables if len(t)] or [self.schema().empty_table()]
        table = pa.concat_tables(tables, promote_options="permissive")
        order = table.select(["run_id", "seq"]).to_pandas()
        # a row can be in a part and in the compacted part that replaces it, when both were listed
        order = order.sort_values("seq", kind="stable").drop_duplicates(["run_id", "seq"])
        return read, table.take(pa.array(order.index.to_numpy()))

    def _read_parts(self) -> tuple[list[Path], list[pa.Table]]:
        """Every part in place, conformed to the store's schema.

        A part that cannot be parsed is recorded in `self.unreadable` (never silently dropped:
        callers report it) and left in place. A part that vanishes while being read was removed
        by a compaction, whose part holds its rows: the listing is read again. The read counts
        only when two listings around it agree, so it never misses a part being swapped in."""
        for attempt in range(READ_ATTEMPTS):
            files = self.part_files()
            tables, read, unreadable, vanished = [], [], {}, False
            for path in files:
                try:
                    tables.append(self._read_part(path))
                    read.append(path)
                except (OSError, pa.ArrowException) as exc:
                    if not path.exists():
                        vanished = True
                        break
                    unreadable[path] = str(exc).splitlines()[0][:200]
            if not vanished and self.part_files() == files:
                self.unreadable = unreadable
                listed = set(files)
                self._cache = {p: v for p, v in self._cache.items() if p in listed}
                break
            time.sleep(0.002 * attempt)
        else:
            raise UserError("the store kept changing while being read; try again", where=str(self.parts))
        return read, tables

    def log(self) -> pd.DataFrame:
        """Every readable row ever written, in write order."""
        return self._read()[1].to_pandas()

    def runs(self) -> pd.DataFrame:
        """One row per run: its newest state."""
        return with_known_columns(_latest(self._read()[1]).to_pandas())

    def compact(self) -> int:
        """Rewrite the current view as one part, then remove the parts it replaced; returns rows
        kept. The new part is in place before any old one goes. Unreadable parts are left where
        they are, and so are rows waiting in a batch."""
        with self._mutex:
            read, table = self._read(pending=False)
            view = _latest(table)
            if len(read) <= 1:
                return len(view)
            name = f"part-{time.time_ns():020d}-{os.getpid()}-compact.parquet"
            atomic_write_table(conform(view, self.schema(view)), self.parts / name)
            for f in read:
                f.unlink(missing_ok=True)
            return len(view)

    def export(self, path: str | Path, fmt: str) -> int:
        """Write the one-row-per-run view, with a `schema_version` column, atomically: a single
        Parquet or CSV file, or a Parquet dataset partitioned by study and round."""
        if fmt not in EXPORT_FORMATS:
            raise UserError(f"unknown export format '{fmt}' (use {', '.join(EXPORT_FORMATS)})", where="--format")
        view = self.runs().assign(schema_version=SCHEMA_VERSION)
        path = Path(path)
        writable_dir(path.parent)
        table = pa.Table.from_pandas(view, preserve_index=False)
        table = conform(table, self.schema(table))
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"mixsearch.schema_version": str(SCHEMA_VERSION).encode()})
        with atomic(path) as tmp:
            if fmt == "parquet":
                pq.write_table(table, tmp)
            elif fmt == "csv":
                view.to_csv(tmp, index=False)
            else:
                pq.write_to_dataset(table, root_path=tmp, partition_cols=["study", "round"])
        return len(view)
