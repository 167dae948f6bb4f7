"""Run store: an append-only directory of Parquet parts under runs/<study>/.

Every write is a new part file, written to a temp name and renamed into place, so concurrent
writers never touch the same file and readers never see half a part. A run's current state is
its newest row (by `seq`); `runs()` returns that view, one row per run.
"""

from __future__ import annotations

import os
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
STATUSES = ("pending", "proposed", "done", "failed")


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

    def log(self, files: Iterable[Path] | None = None) -> pd.DataFrame:
        """Every row ever written, in write order."""
        frames = []
        for path in self.part_files() if files is None else files:
            try:
                frames.append(pq.read_table(path).to_pandas())
            except (OSError, pa.ArrowInvalid) as exc:
                raise UserError(f"unreadable Parquet part: {exc}", where=str(path)) from None
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=["run_id", "status", "seq"])
        return pd.concat(frames, ignore_index=True).sort_values("seq", kind="stable")

    def runs(self) -> pd.DataFrame:
        """One row per run: its newest state."""
        log = self.log()
        if log.empty:
            return log
        return log.drop_duplicates("run_id", keep="last").reset_index(drop=True)

    def compact(self) -> int:
        """Rewrite the current view as one part and remove the parts it replaced; returns rows kept."""
        files = self.part_files()
        if len(files) <= 1:
            return len(self.runs())
        view = self.log(files).drop_duplicates("run_id", keep="last")
        name = f"part-{time.time_ns():020d}-{os.getpid()}-compact.parquet"
        atomic_write_table(pa.Table.from_pandas(view, preserve_index=False), self.parts / name)
        for f in files:
            f.unlink(missing_ok=True)
        return len(view)

    def export(self, path: str | Path, fmt: str) -> int:
        """Write the one-row-per-run view to a single Parquet or CSV file (atomically)."""
        view = self.runs()
        path = Path(path)
        if fmt == "parquet":
            atomic_write_table(pa.Table.from_pandas(view, preserve_index=False), path)
        elif fmt == "csv":
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f".tmp-{uuid.uuid4().hex}-{path.name}"
            view.to_csv(tmp, index=False)
            os.replace(tmp, path)
        else:
            raise UserError(f"unknown export format '{fmt}' (use parquet or csv)", where="--format")
        return len(view)


def weights_matrix(df: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The mixture columns of a runs frame, in domain order."""
    return df[[WEIGHT + n for n in names]].to_numpy(dtype=float)
