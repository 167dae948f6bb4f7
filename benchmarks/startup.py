"""CLI start-up time: `--help`, `status` on a small study (64 finished runs), a recipe error.

Each command runs as a fresh `python -m mixsearch` process, as a user or cron starts it; the
table shows the median wall time of 5 runs against the goals.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from run import print_table  # noqa: E402  (benchmarks/ is the script's directory)

from mixsearch.store.parts import Store  # noqa: E402

REPEATS = 5


def small_study(root: Path) -> tuple[Path, Path]:
    """A recipe over standard-library text, a store of 64 done and 8 pending runs, and a bad recipe."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    recipe = {"study": "startup",
              "domains": [{"name": "code", "source": {"files": [str(stdlib / "json" / "*.py")]}},
                          {"name": "email", "source": {"files": [str(stdlib / "email" / "*.py")]}}],
              "data": {"cache_dir": str(root / "cache")}}
    good, bad = root / "r.yaml", root / "bad.yaml"
    good.write_text(yaml.safe_dump(recipe))
    bad.write_text(yaml.safe_dump({**recipe, "proxy": {"model": {"heads": 0}}, "seed": "x"}))
    rows = [{"run_id": f"{i:016x}", "study": "startup", "status": "done" if i < 64 else "pending", "round": i // 8,
             "w_code": i / 72, "w_email": 1 - i / 72, "objective": 3 + (i / 72 - 0.3) ** 2 if i < 64 else None,
             "loss_code": 3.0, "loss_email": 3.1, "cpu_hours": 0.01, "tokens_trained": 4096} for i in range(72)]
    Store(root / "runs", "startup").append(rows)
    return good, bad


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_seconds(args: list[str], cwd: Path, expect: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system; what a loaded machine does not inflate)."""
    wall, cpu = [], []
    for _ in range(REPEATS):
        t0, c0 = time.perf_counter(), _child_cpu()
        res = subprocess.run([sys.executable, "-m", "mixsearch", *args], cwd=cwd, capture_output=True, text=True)
        wall.append(time.perf_counter() - t0)
        cpu.append(_child_cpu() - c0)
        assert res.returncode == expect, res.stderr[-2000:]
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        good, bad = small_study(root)
        cases = [("mixsearch --help", ["--help"], 0, 0.5),
                 ("mixsearch status (72 runs)", ["status", str(good)], 0, 1.5),
                 ("mixsearch status with a recipe error", ["status", str(bad)], 2, 1.0)]
        rows = []
        for label, args, expect, goal in cases:
            wall, cpu = median_seconds(args, root, expect)
            rows.append((label, f"{wall:.2f}", f"{cpu:.2f}", f"≤ {goal} s", "yes" if wall <= goal else "no"))
    print_table(f"CLI start-up, median of {REPEATS} runs ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})",
                ("command", "wall s", "CPU s", "goal (wall)", "met"), rows)


if __name__ == "__main__":
    main()
