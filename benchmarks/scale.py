"""mixsearch at scale: one command, one table.

1. Run phase per run: N runs of a command trainer that writes its metrics and exits at once,
   through mixsearch's shipped `launch` (warm workers, batched store writes, the CLI's progress
   lines) versus a bare Ray script that runs the same command via `subprocess` in N tasks of the
   same size, on the same Ray instance, side by side (goal: <= 1.2x at 1,000 and 5,000 runs).
2. A store of 10,000 runs x 20 domains, imported with `mixsearch import`: the wall time of
   `mixsearch status`, `export` and `fit --surrogate lightgbm` as a user runs them (goals: 1.5 s,
   5 s, 10 s).

    python benchmarks/scale.py [--quick] [--runs 200 1000 5000] [--store-runs 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from mixsearch.execute import schedule
from mixsearch.execute.workers import WorkerPool
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.launch import launch
from mixsearch.search.study import Study
from mixsearch.ui.progress import RunProgress

TRAINER = '''import json, sys
config = json.load(open(sys.argv[1]))
metrics = {f"loss_{n}": 3.0 - w for n, w in config["mixture"].items()}
json.dump(metrics, open(sys.argv[2] + "/metrics.json", "w"))
'''
DOMAINS = ("json", "email", "http", "xml")  # standard library packages: the run phase's (raw) text
GOALS = {"status": 1.5, "export": 5.0, "fit": 10.0}


def run_recipe(root: Path, runs: int) -> dict:
    """A study of `runs` initial runs with the command trainer, on raw text (nothing to prepare)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return {"study": f"scale{runs}", "seed": 0,
            "domains": [{"name": d, "source": {"files": [str(stdlib / d / "*.py")]}} for d in DOMAINS],
            "data": {"cache_dir": str(root / "cache")},
            "proxy": {"trainer": {"command": f"{{python}} {root / 'trainer.py'} {{config}} {{out}}", "data": "raw",
                                  "timeout": 600},
                      "resources": {"num_cpus": 1, "retries": 0}},
            "objective": {"kind": "mean"},
            "search": {"initial_runs": runs, "sampling": {"method": "uniform"}}}


def bare_ray(root: Path, mixtures: list[dict]) -> float:
    """Seconds for a bare Ray script to run the trainer once per mixture, one task each."""
    import ray

    base = root / f"bare{len(mixtures)}"

    @ray.remote(num_cpus=1)
    def task(i: int, mixture: dict) -> dict:
        run = base / str(i)
        (run / "out").mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"mixture": mixture}))
        subprocess.run([sys.executable, str(root / "trainer.py"), str(run / "config.json"), str(run / "out")],
                       check=True, capture_output=True)
        return json.loads((run / "out" / "metrics.json").read_text())

    WorkerPool.clear()  # mixsearch's warm workers hold the CPUs the tasks need
    start = time.perf_counter()
    results = ray.get([task.remote(i, m) for i, m in enumerate(mixtures)])
    assert len(results) == len(mixtures)
    return time.perf_counter() - start


def mixsearch_run(root: Path, runs: int) -> tuple[float, list[dict]]:
    """Seconds of the run phase of `runs` open runs (the shipped launch), and their mixtures."""
    study = Study.open(parse_recipe(run_recipe(root, runs), "scale.yaml"), root / "runs")
    study.seed_initial()
    names = study.recipe.domain_names
    mixtures = [{n: float(r[f"w_{n}"]) for n in names} for r in study.unfinished().to_dict("records")]
    with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet), RunProgress() as progress:
        progress.grow(runs)
        start = time.perf_counter()
        counts = launch(study, on_result=progress.on_result)
        seconds = time.perf_counter() - start
    assert counts == {"done": runs, "failed": 0}, counts
    study.store.compact()
    return seconds, mixtures


def store_rows(root: Path, runs: int, domains: int = 20) -> Path:
    """A fit-only recipe of `domains` domains and `runs` imported runs; returns the recipe."""
    names = [f"d{i:02d}" for i in range(domains)]
    recipe = root / "store.yaml"
    recipe.write_text(yaml.safe_dump({"study": "store", "domains": [{"name": n} for n in names],
                                      "objective": {"kind": "domain", "target": names[0]}}))
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(domains), size=runs)
    target = np.linspace(0.5, 0.01, domains)
    frame = pd.DataFrame(w, columns=[f"w_{n}" for n in names])
    for i, n in enumerate(names):
        frame[f"loss_{n}"] = 3.0 - 0.5 * w[:, i] + ((w - target) ** 2).sum(1) + rng.normal(0, 0.01, runs)
    frame.to_csv(root / "imported.csv", index=False)
    _cli(root, "import", str(recipe), str(root / "imported.csv"))
    return recipe


def _cli(root: Path, *args: str) -> float:
    """Seconds of one `mixsearch ...` command, start-up included, as a user runs it."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mixsearch", *args], cwd=root, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 and 20 runs, a store of 100 runs (a smoke test)")
    ap.add_argument("--runs", type=int, nargs="+", help="run counts of the run phase (default 200 1000 5000)")
    ap.add_argument("--store-runs", type=int, help="runs in the synthesized store (default 10000)")
    args = ap.parse_args()
    sizes = args.runs or ([10, 20] if args.quick else [200, 1000, 5000])
    store_runs = args.store_runs or (100 if args.quick else 10_000)
    table = Table(title=f"mixsearch at scale ({platform.machine()}, {os.cpu_count()} CPUs, load "
                        f"{os.getloadavg()[0]:.1f} at start)")
    for col in ("measure", "mixsearch", "bare Ray", "ratio", "goal"):
        table.add_column(col)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "trainer.py").write_text(TRAINER)
        start = time.perf_counter()
        schedule.connect(None)
        table.add_row("embedded Ray start, once per command (s)", f"{time.perf_counter() - start:.1f}", "", "", "")
        try:
            for n in sizes:
                ours, mixtures = mixsearch_run(root, n)
                bare = bare_ray(root, mixtures)
                ratio = ours / bare
                table.add_row(f"run phase per run, {n:,} runs (s)", f"{ours / n:.3f}", f"{bare / n:.3f}",
                              f"{ratio:.2f}x", "<= 1.2x" if n >= 1000 else "")
                parts = len(list((root / "runs" / f"scale{n}" / "parts").iterdir()))
                logs = root / "runs" / f"scale{n}" / "logs"
                kept = len(list(logs.iterdir())) if logs.exists() else 0
                table.add_row("  after it: parts / run folders kept", f"{parts} / {kept}", "", "", "")
        finally:
            schedule.shutdown()
        recipe = store_rows(root, store_runs)
        for name, cmd in (("status", ["status", str(recipe)]),
                          ("export", ["export", str(recipe), "--out", str(root / "export.parquet")]),
                          ("fit", ["fit", str(recipe), "--surrogate", "lightgbm"])):
            seconds = _cli(root, *cmd)
            table.add_row(f"`{' '.join(cmd[:1] + cmd[2:]).replace(str(root) + '/', '')}`, {store_runs:,} runs x 20 "
                          f"domains (s)", f"{seconds:.1f}", "", "", f"<= {GOALS[name]:g} s")
    Console(width=160).print(table)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
