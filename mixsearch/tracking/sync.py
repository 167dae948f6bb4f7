"""Logging a study's finished runs to the recipe's trackers, each run once.

What was logged is recorded in runs/<study>/tracked.json (per tracker destination, the run ids,
written atomically after each run); MLflow is also asked which runs it already has (by tag), so a
lost record does not log twice. A tracker that fails (unreachable, not installed, refused) is one
warning line; its runs are left for the next command that syncs, and the study goes on."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from mixsearch.paths import read_cached, write_atomic
from mixsearch.recipe.schema import Recipe
from mixsearch.recipe.tracking import MLflow, WandB
from mixsearch.store.parts import Store
from mixsearch.tracking.record import RunRecord, run_record

LEDGER = "tracked.json"


def _ledger(root: Path) -> dict[str, dict[str, list[str]]]:
    def parse(doc: object) -> dict[str, dict[str, list[str]]]:
        if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
            raise ValueError("expected {tracker: {destination: [run ids]}}")
        return doc

    return read_cached(root / LEDGER, parse) or {}


class Sink(Protocol):
    """A tracker destination: `key` names it in the ledger; `logged` the study's run ids it is
    known to have; `log` sends one run."""

    key: str

    def logged(self) -> set[str]: ...

    def log(self, rec: RunRecord) -> None: ...


def _sinks(recipe: Recipe, root: Path) -> list[tuple[str, Callable[[], Sink]]]:
    """(name, a factory of its sink) per tracker the recipe names; the client is imported when called."""
    t = recipe.tracking
    out: list[tuple[str, Callable[[], Sink]]] = []
    if t.mlflow is not None:
        def mlflow_sink(cfg: MLflow = t.mlflow) -> Sink:
            from mixsearch.tracking.mlflow import MLflowSink

            return MLflowSink(cfg, recipe.study)

        out.append(("mlflow", mlflow_sink))
    if t.wandb is not None:
        def wandb_sink(cfg: WandB = t.wandb) -> Sink:
            from mixsearch.tracking.wandb import WandbSink

            return WandbSink(cfg, recipe.study, root)

        out.append(("wandb", wandb_sink))
    return out


def sync(recipe: Recipe, store: Store) -> dict[str, int]:
    """Log the study's finished runs that each tracker does not have yet; per tracker, how many
    were logged now. Never raises for a tracker's failure: it warns once and stops that tracker."""
    sinks = _sinks(recipe, store.root)
    if not sinks:
        return {}
    view = store.runs()
    done = view[view["status"] == "done"] if len(view) else view
    rows = sorted(done.to_dict("records"), key=lambda r: str(r.get("finished_at")))
    ledger = _ledger(store.root)
    counts = {}
    for name, make in sinks:
        counts[name], logged = 0, list[str]()
        try:
            sink = make()
            logged = ledger.setdefault(name, {}).setdefault(sink.key, [])
            seen = set(logged)
            todo = [r for r in rows if str(r["run_id"]) not in seen]
            known = sink.logged() if todo else set()  # runs the tracker has that the ledger lost
            for row in todo:
                if str(row["run_id"]) not in known:
                    sink.log(run_record(row, recipe))
                    counts[name] += 1
                logged.append(str(row["run_id"]))
                write_atomic(store.root / LEDGER, json.dumps(ledger, indent=1))
        except Exception as exc:  # noqa: BLE001 (a tracker never fails the study)
            why = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            if isinstance(exc, ImportError):
                why += f" (pip install 'mixsearch[{name}]')"
            print(f"warning: tracking.{name}: could not log runs ({why}); {len(rows) - len(logged)} run(s) are "
                  "left for the next command", file=sys.stderr)
    return counts
