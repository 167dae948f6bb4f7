"""How the CLI ends: usage errors, environment errors and studies without finished runs give one
line on stderr and exit 2 (with --json also {"error", "exit_code"} on stdout); never a traceback."""

from __future__ import annotations

import json

import pytest

from mixsearch import __version__
from mixsearch.store.parts import Store
from tests.conftest import cli, write_recipe


def _one_error_line(res, starts: str) -> None:
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(starts), res.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["status"], "error: RECIPE: missing"),
        (["propose", "r.yaml", "--n", "0"], "error: --n: input should be greater than or equal to 1"),
        (["run", "r.yaml", "--rounds", "abc"], "error: --rounds: input should be a valid integer"),
        (["frobnicate"], "error: mixsearch: no such command 'frobnicate'"),
        (["status", "r.yaml", "--frob"], "error: --frob: no such option"),
        (["status", "r.yaml", "--runs-dir"], "error: --runs-dir: option '--runs-dir' requires an argument"),
    ],
)
def test_usage_errors_are_one_line_exit_2(tmp_path, args, line):
    _one_error_line(cli(*args, cwd=tmp_path, check=False), line)


def test_bare_command_prints_help_and_version_prints_version(tmp_path):
    bare = cli(cwd=tmp_path)
    assert "Usage: mixsearch" in bare.stdout and "sweep" in bare.stdout
    assert cli("--version", cwd=tmp_path).stdout.strip() == __version__
    assert "Usage: mixsearch data" in cli("data", cwd=tmp_path).stdout


def test_errors_with_json_write_an_error_document(tmp_path):
    res = cli("status", "missing.yaml", "--json", cwd=tmp_path, check=False)
    _one_error_line(res, "error: missing.yaml: no such recipe file")
    assert json.loads(res.stdout) == {"error": "missing.yaml: no such recipe file", "exit_code": 2}
    usage = cli("propose", "r.yaml", "--n", "0", "--json", cwd=tmp_path, check=False)
    assert json.loads(usage.stdout)["exit_code"] == 2 and usage.returncode == 2


def test_environment_errors_are_one_line_exit_2(recipe_dict, tmp_path):
    """An OSError from the environment (here: the runs dir is a file) is not a traceback."""
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    (tmp_path / "afile").write_text("not a directory")
    (tmp_path / "runs.csv").write_text("w_code,w_docs,w_news,objective\n0.2,0.3,0.5,3.0\n")
    res = cli("import", str(recipe), "runs.csv", "--runs-dir", "afile", "--json", cwd=tmp_path, check=False)
    _one_error_line(res, "error: afile")
    assert json.loads(res.stdout)["exit_code"] == 2


def _open_runs_only(recipe_dict, tmp_path, truncated: bool):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    store = Store(tmp_path / "runs", "tiny")
    store.append([{"run_id": f"r{i}", "study": "tiny", "status": "pending", "round": 0, "origin": "initial",
                   "w_code": 0.2, "w_docs": 0.3, "w_news": 0.5} for i in range(3)])
    if truncated:
        (store.parts / "part-99999999999999999999-1-newest.parquet").write_bytes(b"PAR1 cut short")
    return recipe


@pytest.mark.parametrize("truncated", [False, True])
def test_a_study_with_only_open_runs(recipe_dict, tmp_path, truncated):
    """A sweep killed before any run finished (and maybe mid-write): nothing crashes."""
    recipe = _open_runs_only(recipe_dict, tmp_path, truncated)
    status = cli("status", str(recipe), "--json", cwd=tmp_path)
    doc = json.loads(status.stdout)
    assert doc["by_status"] == {"pending": 3} and doc["failed"] == 0 and doc["failures"] == []
    assert doc["best"] is None and bool(doc["unreadable_parts"]) == truncated
    assert ("unreadable Parquet part" in status.stderr) == truncated
    cli("status", str(recipe), cwd=tmp_path)
    for command in ("fit", "propose"):
        res = cli(command, str(recipe), cwd=tmp_path, check=False)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert res.stderr.strip().splitlines()[-1].startswith(
            "error: study tiny: needs at least 4 completed target-fidelity runs")
        assert ("unreadable Parquet part" in res.stderr) == truncated
    report = cli("report", str(recipe), "--out", "report.html", cwd=tmp_path)
    assert (tmp_path / "report.html").exists() and "Traceback" not in report.stderr


def test_a_recipe_error_shows_every_problem(recipe_dict, tmp_path):
    recipe_dict["seed"] = "x"
    recipe_dict["proxy"]["model"]["heads"] = 0
    recipe_dict["search"]["batch_size"] = 0
    write_recipe(tmp_path / "bad.yaml", recipe_dict)
    res = cli("status", "bad.yaml", cwd=tmp_path, check=False)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 3 and "more)" not in res.stderr, res.stderr
    assert all(line.startswith("error: bad.yaml: ") for line in lines)
    assert {line.split(": ")[2] for line in lines} == {"seed", "proxy.model.heads", "search.batch_size"}


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_closed_stdout_stops_quietly_with_141(recipe_dict, tmp_path, json_flag):
    """`mixsearch status | head`: when the reader goes away the command stops without a message and
    exits 141 like shell tools, not 1 (the code of a bug)."""
    import os
    import subprocess
    import sys

    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    for args in (["--help"], ["status", str(recipe), *json_flag]):
        proc = subprocess.Popen([sys.executable, "-m", "mixsearch", *args], cwd=tmp_path, env=dict(os.environ),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.stdout.close()  # before the command writes anything
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 141, err
        assert err == "", err
