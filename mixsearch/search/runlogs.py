"""A run's stored output: the command trainer's stdout/stderr and the loss curve in the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mixsearch.errors import UserError
from mixsearch.execute.logtail import dropped_note, read_tail
from mixsearch.search.study import Study

STREAMS = ("stdout", "stderr")


@dataclass
class RunLogs:
    run_id: str
    status: str
    error: str | None
    logs: dict[str, str]  # stream name -> text, for the streams stored
    curve: list[dict]


def find_run(study: Study, prefix: str) -> dict:
    """The run whose id is `prefix` or starts with it; a UserError if none or several match."""
    view = study.store.runs()
    ids = [str(i) for i in view.get("run_id", [])]
    matches = [i for i in ids if i == prefix] or [i for i in ids if i.startswith(prefix)]
    if not matches:
        raise UserError(f"no run '{prefix}' in study {study.recipe.study}", where="RUN_ID")
    if len(matches) > 1:
        raise UserError(f"'{prefix}' matches {len(matches)} runs ({', '.join(m[:12] for m in matches[:3])}…); "
                        "give more of the id", where="RUN_ID")
    return view[view["run_id"] == matches[0]].iloc[0].to_dict()


def log_dir(study: Study, run_id: str) -> Path:
    return study.store.root / "logs" / run_id


def _text(path: Path) -> str:
    """A log's text; of a log stored before logs were capped, its tail and a note of what is not shown."""
    tail, dropped, size = read_tail(path)
    return (dropped_note(dropped, size) if dropped else "") + tail.decode(errors="replace")


def run_logs(study: Study, prefix: str) -> RunLogs:
    """What is stored about one run's training: its logs (command trainer) and curve."""
    row = find_run(study, prefix)
    folder = log_dir(study, row["run_id"])
    logs = {s: _text(folder / f"{s}.log") for s in STREAMS if (folder / f"{s}.log").exists()}
    raw = row.get("curve")
    curve = json.loads(raw) if isinstance(raw, str) and raw else []
    error = row.get("error")
    return RunLogs(row["run_id"], str(row.get("status")), error if isinstance(error, str) else None, logs, curve)
