"""benchmarks/scale.py runs end to end (its --quick smoke test) and prints every row of its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scale.py"


@pytest.mark.slow
def test_the_scale_benchmark_prints_its_table(tmp_path):
    res = subprocess.run([sys.executable, str(SCRIPT), "--quick"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=1800)  # a hang guard
    assert res.returncode == 0, res.stderr[-3000:]
    for row in ("embedded Ray start", "run phase per run, 10 runs", "run phase per run, 20 runs",
                "parts / run folders kept", "`status`", "`export", "`fit --surrogate lightgbm`"):
        assert row in res.stdout, res.stdout
    assert "1 / 0" in res.stdout  # after a launch: one compacted part, no run folder kept
