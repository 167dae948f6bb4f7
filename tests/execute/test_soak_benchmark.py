"""benchmarks/soak.py runs a test selection again and again beside busy processes and prints its table."""

from __future__ import annotations

import subprocess
import sys
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
