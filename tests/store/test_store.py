"""The Parquet store: one row per run, atomic parts, safe under concurrent writers."""

from __future__ import annotations

import multiprocessing as mp

import pandas as pd
import pyarrow.parquet as pq
import pytest

from mixsearch.store import parts as store_mod
from mixsearch.errors import UserError
from mixsearch.store.parts import SCHEMA_VERSION, Store


def _row(i: int, status: str = "pending", **extra) -> dict:
    return {"run_id": f"r{i}", "study": "st", "status": status, "w_a": 0.5, "w_b": 0.5, **extra}


def test_latest_row_per_run_wins(tmp_path):
    s = Store(tmp_path, "st")
    s.append([_row(1), _row(2)])
    s.append([_row(1, "done", loss_a=2.5, objective=2.5)])
    view = s.runs()
    assert sorted(view["run_id"]) == ["r1", "r2"]
    r1 = view.set_index("run_id").loc["r1"]
    assert r1["status"] == "done" and r1["loss_a"] == 2.5
    assert len(s.log()) == 3


def test_compaction_keeps_the_view(tmp_path):
    s = Store(tmp_path, "st")
    for i in range(5):
        s.append([_row(i)])
        s.append([_row(i, "done", objective=float(i))])
    before = s.runs().sort_values("run_id").reset_index(drop=True)
    assert s.compact() == 5 and len(s.part_files()) == 1
    after = s.runs().sort_values("run_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    s = Store(tmp_path, "st")
    s.append([_row(1)])

    def boom(table, where, **kw):
        with open(where, "wb") as fh:
            fh.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(store_mod.pq, "write_table", boom)
    with pytest.raises(OSError):
        s.append([_row(2)])
    assert [p.name for p in s.parts.iterdir()] == [s.part_files()[0].name]  # no temp, no half part
    assert list(s.runs()["run_id"]) == ["r1"]


def test_temp_files_of_writers_in_flight_are_ignored(tmp_path):
    s = Store(tmp_path, "st")
    s.append([_row(1)])
    (s.parts / ".tmp-abc-part-999.parquet").write_bytes(b"partial")
    assert list(s.runs()["run_id"]) == ["r1"]


def test_corrupt_or_truncated_part_is_reported_and_kept(tmp_path):
    s = Store(tmp_path, "st")
    s.append([_row(1)])
    good = s.append([_row(2)])
    truncated = s.parts / "part-00000000000000000001-1-cut.parquet"
    truncated.write_bytes(good.read_bytes()[:-20])
    garbage = s.parts / "part-00000000000000000002-1-bad.parquet"
    garbage.write_bytes(b"not parquet at all")
    assert sorted(s.runs()["run_id"]) == ["r1", "r2"]  # the rest stays readable
    assert set(s.unreadable) == {truncated, garbage}  # reported with their paths
    s.compact()
    assert truncated.exists() and garbage.exists()  # never deleted, so nothing is lost
    assert sorted(s.runs()["run_id"]) == ["r1", "r2"]


def _writer(root: str, k: int) -> None:
    s = Store(root, "st")
    for i in range(20):
        s.append([_row(k * 100 + i, "done", objective=float(i))])


def test_concurrent_writers_never_corrupt(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), k)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    view = Store(tmp_path, "st").runs()
    assert len(view) == 80 and view["run_id"].is_unique


def test_exports_read_back_identically(tmp_path):
    s = Store(tmp_path, "st")
    s.append([_row(1, "done", objective=1.5, round=0), _row(2, "failed", error="diverged", round=1)])
    expected = s.runs().assign(schema_version=SCHEMA_VERSION)
    assert s.export(tmp_path / "out.parquet", "parquet") == 2
    via_arrow = pq.read_table(tmp_path / "out.parquet")
    assert via_arrow.schema.metadata[b"mixsearch.schema_version"] == str(SCHEMA_VERSION).encode()
    pd.testing.assert_frame_equal(via_arrow.to_pandas(), expected)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), expected)
    try:
        import duckdb
    except ImportError:
        duckdb = None
    if duckdb is not None:
        got = duckdb.sql(f"select run_id, objective from '{tmp_path / 'out.parquet'}' order by run_id").df()
        assert list(got["run_id"]) == ["r1", "r2"]

    s.export(tmp_path / "out.csv", "csv")
    csv = pd.read_csv(tmp_path / "out.csv")
    assert list(csv["run_id"]) == ["r1", "r2"] and csv["objective"].iloc[0] == 1.5

    s.export(tmp_path / "ds", "dataset")
    assert (tmp_path / "ds" / "study=st" / "round=1").is_dir()
    ds = pq.read_table(tmp_path / "ds").to_pandas()
    ds = ds.assign(study=ds["study"].astype(str), round=ds["round"].astype("int64")).sort_values("run_id")
    pd.testing.assert_frame_equal(ds.reset_index(drop=True)[expected.columns], expected.reset_index(drop=True))
    s.export(tmp_path / "ds", "dataset")  # re-export replaces the directory whole
    assert len(pq.read_table(tmp_path / "ds")) == 2
    with pytest.raises(UserError, match="unknown export format"):
        s.export(tmp_path / "x", "xlsx")
