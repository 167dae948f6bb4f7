"""An external trainer: the user's own program as the proxy run, behind the trainer contract
`fn(spec, data) -> result dict` that the built-in GPT has.

For each run it writes `config.json` (the run, its fidelity, the domains' data paths and the
recipe's `proxy.trainer.params`) and a fresh `out/` directory under runs/<study>/logs/<run_id>/,
runs the command there (no shell) with stdout/stderr copied into stdout.log/stderr.log (each kept
to its last LOG_CAP bytes, while the command runs too), and reads `out/metrics.json`. Of a run
that succeeds, only what the store does not hold stays (non-empty logs, other files in `out/`).
Failures raise TrainerFailed, so the scheduler's retry policy applies and a run that still fails
is stored as `failed` with the reason, its folder kept whole.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import shutil
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from mixsearch.data.shards import read_index
from mixsearch.paths import write_atomic
from mixsearch.execute.process import run_logged
from mixsearch.proxy.spec import RunSpec
from mixsearch.store.schema import LOSS

METRICS_FILE = "metrics.json"
TAIL_LINES = 5
TAIL_CHARS = 400


class TrainerFailed(RuntimeError):
    """The command exited non-zero, timed out, or left no usable metrics.json."""


def expand(command: str, values: Mapping[str, str]) -> list[str]:
    """The command as an argument list (shlex, no shell), {config}/{out}/{run_id}/{python} filled in."""
    return [arg.format_map(values) for arg in shlex.split(command)]


def run_config(run: RunSpec, data: dict) -> dict:
    """What the user's program is told about its run (written as {config})."""
    t = run.trainer or {}
    paths = t.get("sources", {})

    def domain(name: str, d: dict | None) -> dict:
        out = {"sources": paths.get(name, {})}
        if d and d.get("index"):
            shards = [asdict(s) for s in read_index(d["index"])[0]]
            out.update({"index": d["index"], "shards": shards, "dtype": d["dtype"],
                        "train_tokens": d["train_tokens"], "val_tokens": d["val_tokens"],
                        "val_bytes": d.get("val_bytes") or None})
        return out

    def task(name: str, d: dict) -> dict:
        """A task's tokens: an .npz of plain arrays (tokens, offsets, continuation, bytes)."""
        return {"sources": paths.get(name, {}), "tokens": d["path"], "examples": d["examples"],
                "continuation_tokens": d["continuation_tokens"], "continuation_bytes": d["continuation_bytes"]}

    return {
        "run_id": run.run_id, "study": t.get("study"), "mixture": run.mixture, "seed": run.seed,
        "fidelity": {"name": run.fidelity, "model": run.model, "train": run.train},
        "tokens": run.train["tokens"], "vocab_size": data.get("vocab_size") or None,
        "eot": data.get("eot") if data.get("vocab_size") else None,
        "domains": {n: domain(n, data.get("domains", {}).get(n)) for n in run.mixture},
        "eval_sets": {**{n: domain(n, d) for n, d in data.get("eval_sets", {}).items()},
                      **{n: task(n, d) for n, d in data.get("tasks", {}).items()}},
        "params": t.get("params", {}),
        **({"phases": run.phases} if run.phases else {}),
    }


def _tail(path: Path) -> str:
    """The last few non-empty lines of a log, on one line."""
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    text = " | ".join(lines[-TAIL_LINES:])
    return text if len(text) <= TAIL_CHARS else "…" + text[-TAIL_CHARS:]


def _execute(argv: list[str], log_dir: Path, env: dict[str, str], cwd: str | None, timeout: float) -> None:
    """Run argv (`process.run_logged`); raise TrainerFailed on a non-zero exit or timeout."""
    code = run_logged(argv, log_dir, env, cwd, timeout)
    if code is None:
        raise TrainerFailed(f"timed out after {timeout:g} s (killed); {_tail(log_dir / 'stderr.log')}")
    if code:
        raise TrainerFailed(f"exit code {code}: {_tail(log_dir / 'stderr.log') or 'no stderr'}")


def read_metrics(path: Path, stderr: Path) -> tuple[dict[str, float], dict[str, float], list]:
    """(losses, other metrics, curve) from metrics.json; TrainerFailed if missing or not finite numbers."""
    if not path.exists():
        raise TrainerFailed(f"wrote no {METRICS_FILE}; {_tail(stderr) or 'no stderr'}")
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TrainerFailed(f"{METRICS_FILE} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise TrainerFailed(f"{METRICS_FILE} is not a mapping of metric name to number")
    curve = raw.pop("curve", [])
    values: dict[str, float] = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise TrainerFailed(f"{METRICS_FILE}: metric '{name}' is not a finite number ({value!r})")
        values[name] = float(value)
    if not values:
        raise TrainerFailed(f"{METRICS_FILE} holds no metrics")
    losses = {k[len(LOSS):]: v for k, v in values.items() if k.startswith(LOSS)}
    return losses, {k: v for k, v in values.items() if not k.startswith(LOSS)}, curve if isinstance(curve, list) else []


def _keep_what_counts(log_dir: Path) -> None:
    """Of a run that succeeded, keep only what is not in the store: its non-empty logs and what
    its program wrote in out/ besides metrics.json; the folder goes when nothing is left."""
    out_dir = log_dir / "out"
    for path in (log_dir / "config.json", out_dir / METRICS_FILE,
                 *(log_dir / f"{stream}.log" for stream in ("stdout", "stderr"))):
        with contextlib.suppress(FileNotFoundError):
            if path.suffix == ".json" or path.stat().st_size == 0:
                path.unlink()
    for folder in (out_dir, log_dir):
        with contextlib.suppress(OSError):  # not empty
            folder.rmdir()


def run_command(spec: dict, data: dict) -> dict:
    """Train one run with the recipe's command trainer (the `fn` Study.launch passes to schedule)."""
    run = RunSpec(**spec)
    t = run.trainer
    if not t:
        raise ValueError("run_command needs a spec with trainer settings")
    log_dir = Path(t["logs"]) / run.run_id
    out_dir = log_dir / "out"
    if out_dir.exists():  # a retry starts from nothing
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    config = log_dir / "config.json"
    write_atomic(config, json.dumps(run_config(run, data), indent=1))
    argv = expand(t["command"], {"config": str(config), "out": str(out_dir), "run_id": run.run_id,
                                 "python": sys.executable})
    cwd = t.get("cwd") if t.get("cwd") and Path(t["cwd"]).is_dir() else None
    start = time.perf_counter()
    _execute(argv, log_dir, {**os.environ, **t.get("env", {})}, cwd, float(t["timeout"]))
    wall = time.perf_counter() - start
    losses, metrics, curve = read_metrics(out_dir / METRICS_FILE, log_dir / "stderr.log")
    _keep_what_counts(log_dir)
    return {"status": "done", "error": None, "losses": losses, "metrics": metrics, "curve": curve,
            "tokens": run.train["tokens"], "wall_time": wall, "tokens_per_s": run.train["tokens"] / max(wall, 1e-9),
            "host": socket.gethostname(), "device": f"cuda:{gpus}" if (gpus := os.environ.get("CUDA_VISIBLE_DEVICES")) else "cpu"}
