"""Training a study's open runs on Ray and storing each result as it arrives."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mixsearch.search.budget import run_hours
from mixsearch.errors import UserError
from mixsearch.search.objectives import objective_value
from mixsearch.proxy.spec import RunSpec
from mixsearch.store.batch import Batch
from mixsearch.store.parts import now
from mixsearch.store.schema import LOSS, METRIC, OBJECTIVE
from mixsearch.tracking import sync as tracking

if TYPE_CHECKING:
    from mixsearch.search.fidelity import FidelityConfig
    from mixsearch.search.study import Study

MAX_RUNS_PER_GPU = 8


def launch(study: Study, address: str | None = None, on_result: Callable[[dict], None] | None = None,
           fn: Callable[[dict, dict], dict] | None = None, max_runs: int | None = None,
           should_stop: Callable[[], bool] | None = None, only: set[str] | None = None) -> dict[str, int]:
    """Train the open (pending/proposed) runs on Ray, oldest round first, at most `max_runs`;
    each result is stored as it arrives. should_stop() is asked after each result. `fn` trains one
    run (default: the recipe's command trainer, else the built-in GPT). `only`: just these run ids
    (validation runs included), else every open search run. Results are written to the store in
    batches, one part per flush interval (`mixsearch.store.batch`), and read back at once in this
    process."""
    from mixsearch.execute import schedule
    from mixsearch.execute.command import run_command
    from mixsearch.execute.trainers import builtin_can_report, builtin_run, command_settings

    todo = study.unfinished(validation=only is not None)
    if only is not None and not todo.empty:
        todo = todo[todo["run_id"].isin(only)]
    if not todo.empty:
        study.check_trainable()
        todo = todo.sort_values(["round", "seq"], kind="stable")
    if max_runs is not None:
        todo = todo.head(max_runs)
    counts = {"done": 0, "failed": 0}
    if todo.empty:
        return counts
    r, data = study.recipe, study.data()
    res = r.proxy.resources
    trainer = command_settings(r, study.store.root / "logs") if r.proxy.trainer else None
    if trainer is None:
        builtin_can_report(r)
    fn = fn or (run_command if trainer else builtin_run)
    base = {row["run_id"]: row for row in todo.to_dict("records")}
    by_fidelity: dict[str, list[RunSpec]] = {}
    for row in base.values():
        fid = study.fidelity_of(row)
        mixture, phases = study.run_mixture(row)
        by_fidelity.setdefault(fid.name, []).append(
            RunSpec(run_id=row["run_id"], mixture=mixture, seed=int(row["seed"]), model=fid.model.model_dump(),
                    train=fid.train.model_dump(), threads=max(1, int(res.num_cpus)), fidelity=fid.name,
                    trainer=trainer, phases=phases))
    gpus = num_gpus(study)
    schedule.connect(address)
    groups = [g for name, specs in by_fidelity.items()
              for g in (_ensembles(study, study.fidelity(name), specs, gpus) if trainer is None else [[s] for s in specs])]

    def record(spec: RunSpec, result: dict) -> None:
        row = _result_row(study, base[spec.run_id], result, gpus)
        study.store.append([row])
        counts[row["status"]] += 1
        if on_result:
            on_result(row)

    try:
        with Batch(study.store):  # results are durable within a flush interval (FLUSH_S)
            schedule.execute(groups, data, res, record, fn=fn, should_stop=should_stop, num_gpus=gpus)
    except Exception:
        schedule.check_alive()  # a stopped GCS or raylet explains any error: one line, exit 5, runs open
        raise
    tracking.sync(r, study.store)  # the recipe's trackers get the finished runs (a failure is a warning)
    return counts


def _ensembles(study: Study, fid: FidelityConfig, specs: list[RunSpec], gpus: float) -> list[list[RunSpec]]:
    """Runs of one fidelity in groups of `proxy.resources.ensemble` (auto: measured on a worker's
    device, `mixsearch.proxy.sizing`)."""
    from mixsearch.execute import schedule

    res = study.recipe.proxy.resources
    k = res.ensemble
    if k == "auto":
        from mixsearch.proxy.sizing import auto_ensemble  # torch: only to measure

        try:
            k = schedule.call(auto_ensemble, fid.model.model_dump_json(), fid.train.model_dump_json(),
                              study.data().vocab_size, gpus, resources=res, num_gpus=gpus)
        except schedule.WorkerDied as exc:  # measuring is optional; one run per task always fits
            print(f"warning: proxy.resources.ensemble: the worker measuring 'auto' died ({exc}); "
                  "each run trains alone", file=sys.stderr)
            k = 1
    return [specs[i: i + k] for i in range(0, len(specs), k)]


def num_gpus(study: Study) -> float:
    """GPU share per task: num_gpus, or 1/runs_per_gpu (auto: as many tasks as fit in GPU memory)."""
    res = study.recipe.proxy.resources
    if res.runs_per_gpu is None:
        return res.num_gpus
    if res.runs_per_gpu != "auto":
        return 1.0 / res.runs_per_gpu
    import torch

    from mixsearch.proxy.sizing import member_bytes

    if not torch.cuda.is_available():
        raise UserError("auto needs a GPU visible to this process; give a number", where="proxy.resources.runs_per_gpu")
    fid = study.target
    k = 1 if res.ensemble == "auto" else res.ensemble
    per_task = k * member_bytes(fid.model, fid.train, study.data().vocab_size, fid.params)
    total = torch.cuda.get_device_properties(0).total_memory
    return 1.0 / max(1, min(MAX_RUNS_PER_GPU, int(0.8 * total // per_task)))


def _result_row(study: Study, base: dict, result: dict, gpus: float) -> dict:
    losses, metrics = result.get("losses") or {}, result.get("metrics") or {}
    row = {k: v for k, v in base.items() if not k.startswith((LOSS, METRIC)) and k not in ("seq", "updated_at")}
    status, error = result.get("status", "failed"), result.get("error")
    res = study.recipe.proxy.resources
    wall = float(result.get("wall_time") or 0.0)  # of a failed run too: it held its device until it failed
    share = 1.0 / int(result.get("ensemble") or 1)  # runs trained together split the task's cost
    held = (wall + float(result.get("retried_s") or 0.0)) * share  # its failed attempts count too
    cpu_hours, gpu_hours = run_hours(held, res.num_cpus, gpus, result.get("device"), result.get("host"))
    values = [math.nan] * len(study.recipe.objective_list)
    if status == "done":
        try:
            values = [objective_value(o, losses, study.recipe.domain_names, metrics)
                      for o in study.recipe.objective_list]
        except KeyError as exc:
            status, error = "failed", f"the run reported no {exc.args[0]} (the objective needs it)"
    objective = values[0]
    if len(values) > 1:
        row.update({f"{OBJECTIVE}{i}": v for i, v in enumerate(values)})
    row.update({
        "status": status, "error": error, "objective": objective,
        "train_loss": result.get("train_loss", math.nan), "wall_time": wall,
        "tokens_trained": int(result.get("tokens") or 0), "num_cpus": res.num_cpus, "num_gpus": gpus,
        "cpu_hours": cpu_hours, "gpu_hours": gpu_hours,
        "ensemble": int(result.get("ensemble") or 1),
        "tokens_per_s": result.get("tokens_per_s") or math.nan, "compile_s": float(result.get("compile_s") or 0.0),
        "host": result.get("host"), "node_id": result.get("node_id"), "torch": result.get("torch"), "threads": result.get("threads"),
        "device": result.get("device"), "curve": json.dumps(result.get("curve") or []),
        "finished_at": now(), **{LOSS + k: float(v) for k, v in losses.items()},
        **{METRIC + k: float(v) for k, v in metrics.items()},
    })
    return row


@contextmanager
def training(study: Study, command: str) -> Iterator[None]:
    """Hold the study lock while `command` trains runs; when it ends (also on failure) leave Ray and
    compact the store's parts."""
    from mixsearch.execute.schedule import shutdown
    from mixsearch.store.lock import StudyLock

    with StudyLock(study.store.root, command):
        try:
            yield
        finally:
            shutdown()
            study.store.compact()
