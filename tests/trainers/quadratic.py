"""A stand-in for a user's trainer: `quadratic.py --config CONFIG --out OUT`.

Scores the mixture with a known optimum (params.optimum): accuracy = 0.9 - squared distance, and
loss_<domain> = 2 + (1 - weight). params.mode makes it misbehave: fail (exit 3), hang, nan,
nofile, or flaky (fails on its first attempt). Every attempt appends a line to params.attempts.
params.print_bytes: about that many bytes of numbered lines on stdout first; params.quiet: nothing on
stdout; params.save_config: a copy of the config in the out directory; params.report_env: NAME reports
the number in that environment variable as the metric `from_env` (-1 when unset)."""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()
config = json.loads(Path(args.config).read_text())
params = config["params"]
mixture = config["mixture"]
attempts = Path(params["attempts"])
with attempts.open("a") as fh:
    fh.write(config["run_id"] + "\n")
tries = attempts.read_text().split().count(config["run_id"])
mode = params.get("mode", "ok")
if not params.get("quiet"):
    print(f"run {config['run_id']} attempt {tries}: {len(config['domains'])} domains, {config['tokens']} tokens")
if params.get("save_config"):
    (Path(args.out) / "config.json").write_text(json.dumps(config))
for i in range(params.get("print_bytes", 0) // 32):
    print(f"step {i:9d} loss {2 + 1 / (i + 1):.9f}")  # 32 bytes a line
if mode == "fail" or (mode == "flaky" and tries == 1):
    print("Traceback (most recent call last):\nRuntimeError: CUDA out of memory (pretend)", file=sys.stderr)
    sys.exit(3)
if mode == "hang":
    attempts.with_suffix(".pid").write_text(str(os.getpid()))
    print("hanging", file=sys.stderr, flush=True)
    time.sleep(600)
for name, domain in config["domains"].items():
    assert domain["sources"]["paths"], name
    assert "shards" in domain or params.get("raw"), name
names = sorted(mixture)
acc = 0.9 - sum((mixture[n] - params["optimum"][n]) ** 2 for n in names)
metrics = {"acc": math.nan if mode == "nan" else acc, **{f"loss_{n}": 2 + (1 - mixture[n]) for n in names},
           "curve": [{"step": 1, "acc": acc - 0.1}, {"step": 2, "acc": acc}]}
if params.get("report_env"):
    metrics["from_env"] = float(os.environ.get(params["report_env"], "-1"))
if mode != "nofile":
    (Path(args.out) / "metrics.json").write_text(json.dumps(metrics))
