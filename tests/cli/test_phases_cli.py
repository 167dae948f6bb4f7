"""A two-phase study of real text, end to end on CPU with tiny proxies: run, validate against the
best static mixture, export and import the schedules as `w_<phase>_<domain>` columns; a command
trainer is told each run's schedule."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from tests.conftest import TRAINERS, cli, write_recipe

PHASES = [{"name": "main", "share": 0.75}, {"name": "anneal", "share": 0.25, "domains": {"docs": {"min": 0.2}}}]
COLUMNS = [f"w_{p}_{d}" for p in ("main", "anneal") for d in ("code", "docs", "news")]


def per_phase(mixture: dict[str, float]) -> dict[str, dict[str, float]]:
    return {p: {d: mixture[f"{p}_{d}"] for d in ("code", "docs", "news")} for p in ("main", "anneal")}


@pytest.mark.slow
def test_a_two_phase_study_runs_validates_and_round_trips(recipe_dict, tmp_path):
    recipe_dict["phases"] = PHASES
    recipe_dict["search"]["surrogate"] = "linear"  # of schedules, not of the fit: the cheapest
    recipe = write_recipe(tmp_path / "tiny.yaml", recipe_dict)
    summary = json.loads(cli("run", str(recipe), "--json", cwd=tmp_path).stdout)
    assert summary["rounds"][0]["launched"] == {"done": 6, "failed": 0}
    assert summary["rounds"][1]["launched"] == {"done": 2, "failed": 0}
    rec = per_phase(summary["recommendation"]["mixture"])
    for rnd in summary["rounds"]:
        for p in rnd["proposals"]:
            phases = per_phase(p["mixture"])
            assert all(abs(sum(w.values()) - 1) < 1e-9 for w in phases.values())
            assert phases["anneal"]["docs"] >= 0.2 - 1e-9  # the anneal phase's own bound
    assert all(abs(sum(w.values()) - 1) < 1e-6 for w in rec.values()) and rec["anneal"]["docs"] >= 0.2 - 1e-6
    view = pd.read_parquet(tmp_path / "runs" / "tiny" / "parts")
    done = view[view["status"] == "done"]
    assert (done["tokens_trained"] >= recipe_dict["proxy"]["train"]["tokens"]).all()

    val = json.loads(cli("validate", str(recipe), "--seeds", "2", "--mixture", "flat=0.2,0.5,0.3", "--json",
                         cwd=tmp_path).stdout)
    arms = {m["name"]: m for m in val["mixtures"]}
    assert ["recommendation", "uniform", "natural", "best-static"] == list(arms)[:4] and "flat" in arms
    assert all(len(a["values"]) == 2 for a in arms.values())
    static = per_phase(arms["best-static"]["mixture"])
    assert static["main"] == pytest.approx(static["anneal"], abs=1e-6)  # one mixture in every phase
    assert per_phase(arms["flat"]["mixture"])["anneal"] == pytest.approx({"code": 0.2, "docs": 0.5, "news": 0.3})
    assert {c["name"] for c in val["comparisons"]} >= {"uniform", "best-static", "flat"}

    cli("export", str(recipe), "--format", "csv", "--out", "all.csv", cwd=tmp_path)
    table = pd.read_csv(tmp_path / "all.csv")
    assert [c for c in table.columns if c.startswith("w_")] == COLUMNS
    copy = write_recipe(tmp_path / "copy.yaml", {**recipe_dict, "study": "copy"})
    imported = json.loads(cli("import", str(copy), "all.csv", "--json", cwd=tmp_path).stdout)
    assert imported["imported"] == int((table["status"] == "done").sum())
    status = json.loads(cli("status", str(copy), "--json", cwd=tmp_path).stdout)
    assert set(status["best"]["mixture"]) == {c[2:] for c in COLUMNS}


@pytest.mark.slow
def test_a_command_trainer_receives_each_run_schedule(recipe_dict, tmp_path):
    recipe_dict["phases"] = PHASES
    recipe_dict["proxy"]["trainer"] = {
        "command": f"{sys.executable} {TRAINERS / 'quadratic.py'} --config {{config}} --out {{out}}", "timeout": 60,
        "params": {"optimum": {"code": 0.2, "docs": 0.5, "news": 0.3}, "attempts": str(tmp_path / "attempts.txt"),
                   "save_config": True}}
    recipe_dict["objective"] = {"metric": "acc", "direction": "maximize"}
    recipe_dict["search"].update(initial_runs=4, surrogate="linear")  # the cheapest fit
    recipe = write_recipe(tmp_path / "cmd.yaml", recipe_dict)
    cli("run", str(recipe), "--rounds", "0", "--json", cwd=tmp_path)
    view = pd.read_parquet(tmp_path / "runs" / "tiny" / "parts")
    done = view[view["status"] == "done"]
    assert len(done) == 4
    for row in done.to_dict("records"):
        logs = tmp_path / "runs" / "tiny" / "logs" / row["run_id"]
        config = json.loads((logs / "out" / "config.json").read_text())
        assert [p["name"] for p in config["phases"]] == ["main", "anneal"]
        assert [p["share"] for p in config["phases"]] == [0.75, 0.25]
        for p in config["phases"]:
            assert p["mixture"] == pytest.approx({d: row[f"w_{p['name']}_{d}"] for d in ("code", "docs", "news")})
        overall = {d: 0.75 * row[f"w_main_{d}"] + 0.25 * row[f"w_anneal_{d}"] for d in ("code", "docs", "news")}
        assert config["mixture"] == pytest.approx(overall)
