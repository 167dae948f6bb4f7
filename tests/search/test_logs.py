"""`mixsearch logs`: a run's stored output and curve, found by a unique id prefix."""

from __future__ import annotations

import json
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from mixsearch.execute.command import run_command
from mixsearch.execute.logtail import LIVE_CAP, LOG_CAP, TailLog
from mixsearch.proxy.spec import RunSpec
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


CHATTY = """\
import json, sys, time
from pathlib import Path
out, printed, go, lines = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
for i in range(lines):
    sys.stdout.write(f"line {i:9d} {'x' * 16}\\n")  # 32 bytes a line
sys.stdout.flush()
printed.touch()
deadline = time.monotonic() + 300
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
print("the end")
(out / "metrics.json").write_text(json.dumps({"acc": 1.0}))
"""


def test_a_command_log_is_kept_to_its_tail_while_the_command_runs(tmp_path):
    """A trainer that prints 20 MB and then waits: meanwhile its stdout.log stays under 2 x LOG_CAP;
    at the end it holds the output's last part and says how much was dropped."""
    script, printed, go = tmp_path / "chatty.py", tmp_path / "printed", tmp_path / "go"
    script.write_text(CHATTY)
    lines = 20 * (1 << 20) // 32
    command = f"{sys.executable} {script} {{out}} {printed} {go} {lines}"
    spec = RunSpec("chatty", {"docs": 1.0}, 0, {}, {"tokens": 1},
                   trainer={"command": command, "timeout": 600, "logs": str(tmp_path / "logs")}).to_dict()
    log = tmp_path / "logs" / "chatty" / "stdout.log"
    peak = 0
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(run_command, spec, {})
        try:
            deadline = time.monotonic() + 300  # hang guard
            while not printed.exists() and time.monotonic() < deadline and not result.done():
                peak = max(peak, log.stat().st_size if log.exists() else 0)
                time.sleep(0.01)
            assert printed.exists()
            for _ in range(20):  # the command now waits; what it printed is read by now or soon
                peak = max(peak, log.stat().st_size)
                time.sleep(0.05)
            assert 0 < peak <= 2 * LOG_CAP
            assert log.read_bytes().startswith(b"[mixsearch: the first ")
        finally:
            go.touch()
        assert result.result(timeout=300)["status"] == "done"
    stored = log.read_bytes()
    note, kept = stored.split(b"\n", 1)
    dropped, total = (int(n.replace(",", "")) for n in re.findall(r"[\d,]+", note.decode())[:2])
    assert len(stored) <= LOG_CAP and total == lines * 32 + len("the end\n") and dropped + len(kept) == total
    assert kept.startswith(b"line ") and kept.endswith(f"line {lines - 1:9d} {'x' * 16}\nthe end\n".encode())
    assert len(kept) > LOG_CAP - 1024  # the last mebibyte is kept, less room for the note


def test_the_note_counts_what_arrived_after_the_last_cut(tmp_path):
    """Output that arrives after the log was last cut back, but leaves it under LOG_CAP, is still
    counted by the note when the log is closed."""
    log = TailLog(tmp_path / "stdout.log")
    line = b"x" * 31 + b"\n"
    written = 0
    while written <= LIVE_CAP:
        log.write(line)
        written += len(line)
    log.write(b"the end\n")
    written += len(b"the end\n")
    log.close()
    note, kept = (tmp_path / "stdout.log").read_bytes().split(b"\n", 1)
    dropped, total = (int(n.replace(",", "")) for n in re.findall(r"[\d,]+", note.decode())[:2])
    assert total == written and dropped + len(kept) == written and kept.endswith(b"the end\n")
