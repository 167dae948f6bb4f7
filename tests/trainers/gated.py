"""quadratic.py behind a gate: `gated.py --config CONFIG --out OUT` notes that the run started
(a file named after the run in params.started, holding the pid of the Ray worker that runs it and
its CUDA_VISIBLE_DEVICES), waits while the file params.gate exists (at most 10 minutes), then
scores the mixture as quadratic.py does."""

import json
import os
import runpy
import sys
import time
from pathlib import Path

import psutil

config = json.loads(Path(sys.argv[sys.argv.index("--config") + 1]).read_text())
params = config["params"]
started = Path(params["started"])
started.mkdir(parents=True, exist_ok=True)
worker = os.getppid()  # the Ray worker runs the command
(started / config["run_id"]).write_text(f"{worker} {os.environ.get('CUDA_VISIBLE_DEVICES', '')}")
deadline = time.time() + 600
while Path(params["gate"]).exists() and time.time() < deadline:
    time.sleep(0.2)
runpy.run_path(str(Path(__file__).with_name("quadratic.py")), run_name="__main__")
