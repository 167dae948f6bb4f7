"""Run store: an append-only directory of Parquet parts under runs/<study>/.

Every write is a new part file, written to a temp name and renamed into place, so concurrent
writers never touch the same file and readers never see half a part. A run's current state is
its newest row (by `seq`); `runs()` returns that view, one row per run.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mixsearch.errors import UserError

WEIGHT = "w_"
LOSS = "loss_"
METRIC = "metric_"  # metric_<name>: any other number a trainer reports (accuracy, pass@k, ...)
STATUSES = ("pending", "proposed", "done", "failed")
SCHEMA_VERSION = 1  # of exports; bump when a column changes meaning or type
EXPORT_FORMATS = ("parquet", "csv", "dataset")


def now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(timezone.utc))


def atomic_write_table(table: pa.Table, path: Path) -> None:
    """Write a Parquet file to a temp name beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}-{path.name}"
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Store:
    """The runs of one study."""

    def __init__(self, runs_dir: str | Path, study: str) -> None:
        self.root = Path(runs_dir) / study
        self.parts = self.root / "parts"
        self.unreadable: dict[Path, str] = {}  # parts that failed to read, with the reason

    def part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet")) if self.parts.exists() else []

    def append(self, rows: Sequence[dict]) -> Path | None:
        """Append rows as one new part; each row gets a `seq` that orders updates."""
        if not rows:
            return None
        base = time.time_ns()
        stamped = [{**r, "seq": base + i, "updated_at": now()} for i, r in enumerate(rows)]
        name = f"part-{base:020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
        path = self.parts / name
        atomic_write_table(pa.Table.from_pandas(pd.DataFrame(stamped), preserve_index=False), path)
        return path

    def _read(self, files: Iterable[Path]) -> tuple[list[Path], pd.DataFrame]:
        """Read parts; an unreadable one is recorded in `self.unreadable` (never silently
        dropped: callers report it) and left in place. Returns the parts read and their rows."""
        frames, read = [], []
        for path in files:
            try:
                frames.append(pq.read_table(path).to_pandas())
                read.append(path)
                self.unreadable.pop(path, None)
            except (OSError, pa.ArrowException) as exc:
                self.unreadable[path] = str(exc).splitlines()[0][:200]
        frames = [f for f in frames if len(f)]
        if not frames:
            return read, pd.DataFrame(columns=["run_id", "status", "seq"])
        return read, pd.concat(frames, ignore_index=True).sort_values("seq", kind="stable")

    def log(self) -> pd.DataFrame:
        """Every readable row ever written, in write order."""
        return self._read(self.part_files())[1]

    def runs(self) -> pd.DataFrame:
        """One row per run: its newest state."""
        log = self.log()
        if log.empty:
            return log
        return log.drop_duplicates("run_id", keep="last").reset_index(drop=True)

    def compact(self) -> int:
        """Rewrite the current view as one part and remove the parts it replaced; returns rows kept.
        Unreadable parts are left where they are."""
        files = self.part_files()
        read, log = self._read(files)
        view = log.drop_duplicates("run_id", keep="last")
        if len(read) <= 1:
            return len(view)
        name = f"part-{time.time_ns():020d}-{os.getpid()}-compact.parquet"
        atomic_write_table(pa.Table.from_pandas(view, preserve_index=False), self.parts / name)
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
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".tmp-{uuid.uuid4().hex}-{path.name}"
        table = pa.Table.from_pandas(view, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"mixsearch.schema_version": str(SCHEMA_VERSION).encode()})
        try:
            if fmt == "parquet":
                pq.write_table(table, tmp)
            elif fmt == "csv":
                view.to_csv(tmp, index=False)
            else:
                pq.write_to_dataset(table, root_path=tmp, partition_cols=["study", "round"])
            _replace(tmp, path)
        finally:
            if tmp.is_dir():
                shutil.rmtree(tmp)
            else:
                tmp.unlink(missing_ok=True)
        return len(view)


def _replace(src: Path, dst: Path) -> None:
    """Move src onto dst; an existing directory at dst is swapped out first, then removed."""
    if dst.is_dir():
        old = dst.parent / f".old-{uuid.uuid4().hex}-{dst.name}"
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old)
    else:
        os.replace(src, dst)


def weights_matrix(df: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The mixture columns of a runs frame, in domain order."""
    return df[[WEIGHT + n for n in names]].to_numpy(dtype=float)
