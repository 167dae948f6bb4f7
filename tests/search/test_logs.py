"""`mixsearch logs`: a run's stored output and curve, found by a unique id prefix."""

from __future__ import annotations

import json

from mixsearch.execute.logtail import LOG_CAP
from mixsearch.recipe.schema import parse_recipe
from mixsearch.store.parts import Store
from tests.conftest import cli, write_recipe


def test_logs_prints_curve_output_and_names_bad_ids(recipe_dict, tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    study = parse_recipe(recipe_dict, "r").study
    store = Store(tmp_path / "runs", study)
    curve = [{"step": 10, "docs": 3.25}, {"step": 20, "docs": 2.5}]
    store.append([{"run_id": "abc123", "status": "done", "error": None, "curve": json.dumps(curve)},
                  {"run_id": "abd456", "status": "failed", "error": "exit code 3: boom", "curve": "[]"}])
    logs = store.root / "logs" / "abd456"
    logs.mkdir(parents=True)
    (logs / "stdout.log").write_text("step 1\n")
    (logs / "stderr.log").write_text("boom\n")

    res = cli("logs", str(recipe), "abc", cwd=tmp_path)
    assert "run abc123: done" in res.stdout and "3.25" in res.stdout and "2.5" in res.stdout
    res = cli("logs", str(recipe), "abd", cwd=tmp_path)
    assert "exit code 3: boom" in res.stdout and "step 1" in res.stdout and "boom" in res.stdout
    data = json.loads(cli("logs", str(recipe), "abc123", "--json", cwd=tmp_path).stdout)
    assert data["curve"] == curve and data["logs"] == {}

    for prefix, message in (("ab", "matches 2 runs"), ("zz", "no run 'zz'")):
        res = cli("logs", str(recipe), prefix, cwd=tmp_path, check=False)
        assert res.returncode == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_logs_of_a_run_stored_uncapped_show_their_tail_and_are_left_as_they_are(recipe_dict, tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    store = Store(tmp_path / "runs", parse_recipe(recipe_dict, "r").study)
    store.append([{"run_id": "big1", "status": "done", "error": None, "curve": "[]"}])
    logs = store.root / "logs" / "big1"
    logs.mkdir(parents=True)
    text = "".join(f"line {i:8d}\n" for i in range(2 * LOG_CAP // 14))  # 14 bytes a line
    (logs / "stdout.log").write_text(text)
    shown = json.loads(cli("logs", str(recipe), "big1", "--json", cwd=tmp_path).stdout)["logs"]["stdout"]
    note, kept = shown.split("\n", 1)
    assert "not kept" in note and text.endswith(kept) and len(kept) <= LOG_CAP and kept.startswith("line ")
    assert (logs / "stdout.log").read_text() == text  # a reader writes nothing
