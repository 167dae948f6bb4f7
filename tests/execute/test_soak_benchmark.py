"""benchmarks/soak.py runs a test selection again and again beside busy processes and prints its
table; stopped, it ends its busy processes and prints the iterations it finished."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_soak_benchmark_counts_iterations_in_a_row():
    res = subprocess.run([sys.executable, "benchmarks/soak.py", "--iterations", "2", "--busy", "1", "--tests",
                          "tests/execute/test_guard.py"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "6 passed" in res.stdout and "2 of 2 iterations passed in a row" in res.stdout


@pytest.mark.slow
def test_the_soak_benchmark_stops_at_a_failing_iteration(tmp_path):
    failing = tmp_path / "test_fails.py"
    failing.write_text("def test_fails():\n    assert False\n")
    res = subprocess.run([sys.executable, "benchmarks/soak.py", "--iterations", "3", "--busy", "0", "--tests",
                          str(failing)], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert res.returncode == 1 and "1 failed" in res.stdout
    assert "0 of 3 iterations passed in a row" in res.stdout


@pytest.mark.slow
def test_a_stopped_soak_ends_its_busy_processes_and_prints_what_it_did(tmp_path):
    import psutil

    mark = tmp_path / "started"
    waits = tmp_path / "test_waits.py"
    waits.write_text(f"import pathlib, time\n\ndef test_waits():\n    pathlib.Path({str(mark)!r}).touch()\n"
                     "    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "benchmarks/soak.py", "--iterations", "3", "--busy", "2", "--tests",
                             str(waits)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300  # a hang guard
        while not mark.exists() and time.time() < deadline:
            time.sleep(0.2)
        busy = [p for p in psutil.Process(proc.pid).children() if "while True" in " ".join(p.cmdline())]
        assert mark.exists() and len(busy) == 2
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1 and "0 of 3 iterations passed in a row (stopped before the end)" in out, out
    _, alive = psutil.wait_procs(busy, timeout=5)
    assert not alive
