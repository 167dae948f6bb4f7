"""The store under compaction, with one schema for every part, and unwritable runs dirs."""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
import time

import pytest

from mixsearch.errors import UserError
from mixsearch.store.parts import Store
from mixsearch.search.launch import launch
from mixsearch.search.modelling import fit, propose_next


def _row(i: int, status: str = "done") -> dict:
    return {"run_id": f"r{i}", "study": "st", "status": status, "w_a": 0.5, "w_b": 0.5, "objective": float(i)}


def _append_and_compact(root: str, n: int) -> None:
    s = Store(root, "st")
    for i in range(n):
        s.append([_row(i, "pending")])
        s.append([_row(i)])
        s.compact()


def test_a_reader_never_loses_rows_while_a_writer_compacts(tmp_path):
    writer = mp.get_context("spawn").Process(target=_append_and_compact, args=(str(tmp_path), 60))
    writer.start()
    reader = Store(tmp_path, "st")
    seen, reads, deadline = 0, 0, time.monotonic() + 120
    while writer.is_alive() and time.monotonic() < deadline:
        view = reader.runs()
        done = int((view["status"] == "done").sum()) if len(view) else 0
        assert done >= seen, f"done runs dropped from {seen} to {done}"
        assert not reader.unreadable, f"parts removed by compaction reported unreadable: {reader.unreadable}"
        seen, reads = done, reads + 1
    writer.join(60)
    assert writer.exitcode == 0 and reads > 20
    view = reader.runs()
    assert (view["status"] == "done").sum() == 60 and not reader.unreadable
    assert len(reader.part_files()) == 1


def test_unreadable_report_forgets_parts_that_are_gone(tmp_path):
    s = Store(tmp_path, "st")
    s.append([_row(1)])
    bad = s.parts / "part-00000000000000000001-1-bad.parquet"
    bad.write_bytes(b"not parquet")
    s.runs()
    assert set(s.unreadable) == {bad}
    bad.unlink()
    assert len(s.runs()) == 1 and not s.unreadable


def test_runs_dir_under_a_file_is_a_user_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    s = Store(tmp_path / "afile" / "runs", "st")
    with pytest.raises(UserError, match=r"afile/runs/st/parts: not writable"):
        s.append([_row(1)])
    assert s.runs().empty  # reading a store that cannot exist is an empty store


def test_permission_denied_is_a_user_error(tmp_path, monkeypatch):
    from mixsearch.store import parts as store_mod

    def denied(table, where, **kw):
        raise PermissionError(13, "Permission denied", str(where))

    monkeypatch.setattr(store_mod.pq, "write_table", denied)
    with pytest.raises(UserError, match=r"parts: not writable \(Permission denied\)"):
        Store(tmp_path, "st").append([_row(1)])
    assert not list((tmp_path / "st" / "parts").iterdir())  # no temp file left behind


def in_process(groups, data, resources, on_result, fn=None, **kw):
    """schedule.execute without Ray: every run of every group, in order."""
    for group in groups:
        for spec in group:
            on_result(spec, fn(spec.to_dict(), data.to_dict()))


def _fake_train(spec: dict, data: dict) -> dict:
    w = spec["mixture"]
    if w["code"] == max(w.values()):
        return {"status": "failed", "losses": {}, "error": "diverged"}
    losses = {d: 3.0 - w[d] + 0.1 * w["code"] for d in w}
    return {"status": "done", "losses": losses, "train_loss": 2.5, "wall_time": 0.5, "tokens": 4096,
            "tokens_per_s": 8192.0, "host": "h", "device": "cpu", "curve": [[1, 3.0]], "ensemble": 1}


@pytest.mark.slow
def test_parts_of_every_command_share_one_schema(recipe_dict, tmp_path, monkeypatch):
    import pandas as pd
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from mixsearch.execute import schedule
    from mixsearch.search.importer import import_runs
    from mixsearch.recipe.schema import parse_recipe
    from mixsearch.search.study import Study

    monkeypatch.setattr(schedule, "connect", lambda *a, **k: None)
    monkeypatch.setattr(schedule, "execute", in_process)
    recipe_dict["search"]["sampling"] = {"method": "uniform"}
    study = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "runs")
    study.seed_initial()  # pending rows
    launch(study, fn=_fake_train)  # done rows (and failed ones, with an error)
    propose_next(study, fit(study, "linear"), 2)  # proposed rows
    pd.DataFrame([{"w_code": 0.2, "w_docs": 0.3, "w_news": 0.5, "objective": 2.0}]).to_csv(tmp_path / "x.csv")
    import_runs(study, tmp_path / "x.csv", {})  # imported rows
    parts = study.store.part_files()
    statuses = set(study.store.log()["status"])
    assert len(parts) == 4 and {"pending", "done", "failed", "proposed"} <= statuses  # the launch: one part
    schemas = {str(pq.read_schema(p).remove_metadata()) for p in parts}
    assert len(schemas) == 1, "parts differ in columns or types"
    schema = pq.read_schema(parts[0])
    assert {"w_news", "loss_code", "loss_docs", "loss_news", "error", "fidelity", "ensemble"} <= set(schema.names)
    assert str(schema.field("error").type) == "string" and str(schema.field("tokens_trained").type) == "int64"
    table = ds.dataset(study.store.parts).to_table()  # the library's defaults
    assert table.num_rows == len(study.store.log())
    try:
        import polars as pl
    except ImportError:
        pl = None
    if pl is not None:
        assert pl.read_parquet(study.store.parts / "*.parquet").height == table.num_rows
    study.store.compact()
    assert str(pq.read_schema(study.store.part_files()[0]).remove_metadata()) in schemas


def test_cli_on_an_unwritable_runs_dir_is_one_line_exit_2(recipe_dict, tmp_path):
    from tests.conftest import cli, write_recipe

    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    (tmp_path / "afile").write_text("x")
    for command in ("run", "export"):
        res = cli(command, str(recipe), "--runs-dir", str(tmp_path / "afile" / "runs"), cwd=tmp_path, check=False)
        assert res.returncode == 2, res.stderr
        assert res.stderr.strip().splitlines() == [f"error: {tmp_path}/afile/runs/tiny: not writable (Not a directory)"]


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")  # as a write or rename reports it: no file name


@pytest.mark.parametrize("fails", ["rename", "parquet", "json", "lock"])
def test_a_full_disk_names_the_file_it_could_not_write(tmp_path, monkeypatch, capsys, fails):
    import json as json_module
    from pathlib import Path

    import pandas as pd

    from mixsearch.store import parts as store
    from mixsearch.cli import app
    from mixsearch.ui.entry import run
    from tests.conftest import write_recipe

    monkeypatch.chdir(tmp_path)
    write_recipe(tmp_path / "r.yaml", {"study": "full", "domains": [{"name": "a"}, {"name": "b"}]})
    pd.DataFrame({"w_a": [0.5], "w_b": [0.5], "objective": [1.0]}).to_csv(tmp_path / "t.csv", index=False)
    argv, where = ["import", "r.yaml", "t.csv"], "runs/full/parts/part-"
    if fails == "rename":
        monkeypatch.setattr(os, "replace", _disk_full)
    elif fails == "parquet":
        monkeypatch.setattr(store.pq, "write_table", _disk_full)
    elif fails == "json":
        monkeypatch.setattr(Path, "write_bytes", _disk_full)
        argv, where = ["init", "new.yaml"], "new.yaml"
    else:
        monkeypatch.setattr(json_module, "dump", _disk_full)
        where = "runs/full/.lock"
    code = run(app, argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {where}") and lines[0].endswith(": No space left on device"), lines
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith((".tmp-", ".lock"))]  # nothing half-written left
