"""Run proxy trainings on warm Ray workers: an embedded local Ray by default, or an existing cluster."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from mixsearch.data.prepare import PreparedData
from mixsearch.errors import UserError
from mixsearch.proxy.train import RunSpec, train_ensemble, train_proxy
from mixsearch.recipe_proxy import Resources
from mixsearch.workers import Pool

ResultFn = Callable[[RunSpec, dict], None]

# The embedded Ray is for this machine only: Ray's single-machine mode (its default on macOS and
# Windows) makes the node IP 127.0.0.1, so the GCS, raylet, workers and driver listen on loopback
# only; token authentication stays on. Ray reads these when it is imported, so they are set only
# if this process has not imported it yet (as in every command).
EMBEDDED_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
EMBEDDED_ENV_DEFAULTS = {"RAY_AUTH_MODE": "token"}


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join `address` (auto, host:port or ray://...), or start an embedded local Ray instance
    listening on 127.0.0.1 only, with token authentication."""
    if not address and "ray" not in sys.modules:
        os.environ.update(EMBEDDED_ENV)
        for key, value in EMBEDDED_ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
    import ray

    if ray.is_initialized():
        return
    handler = signal.getsignal(signal.SIGTERM)  # ray.init replaces it with sys.exit; keep the caller's
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
        where = f"--address {address}" if address else "local Ray"
        raise UserError(f"cannot start or join Ray: {str(exc).splitlines()[0]}", where=where) from None
    finally:
        if threading.current_thread() is threading.main_thread() and handler is not None:
            signal.signal(signal.SIGTERM, handler)


def shutdown() -> None:
    import ray

    Pool.clear()
    if ray.is_initialized():
        ray.shutdown()


def _error_text(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    text = f"{type(cause).__name__}: {cause}".strip()
    return text.splitlines()[0][:500] if text else type(cause).__name__


def _out_of_memory(exc: BaseException) -> bool:
    """Whether a task failed with torch.OutOfMemoryError (matched by name: no torch here)."""
    cause = getattr(exc, "cause", None) or exc
    return any(c.__name__ == "OutOfMemoryError" for c in type(cause).__mro__)


def _failed(exc: BaseException, seconds: float, runs: int) -> list[dict]:
    """The results of a group of `runs` that failed after its attempts took `seconds` together."""
    return [{"status": "failed", "losses": {}, "error": _error_text(exc), "wall_time": seconds, "ensemble": runs}] * runs


def call(fn: Callable[..., Any], *args: Any, resources: Resources, num_gpus: float | None = None) -> Any:
    """fn(*args) on a warm worker of the runs' shape, i.e. on the device runs train on."""
    import ray

    gpus = resources.num_gpus if num_gpus is None else num_gpus
    worker = Pool.get(resources.num_cpus, gpus).workers(1)[0]
    return ray.get(worker.call.remote(fn, *args))


def execute(groups: Sequence[Sequence[RunSpec]], data: PreparedData, resources: Resources, on_result: ResultFn,
            fn: Callable[[dict, dict], dict] = train_proxy,
            ensemble_fn: Callable[[list[dict], dict], list[dict]] = train_ensemble,
            should_stop: Callable[[], bool] | None = None, num_gpus: float | None = None) -> None:
    """Run each group on a warm worker (`mixsearch.workers`): a group of one with `fn`, a larger
    one as an ensemble with `ensemble_fn`. A group is retried `resources.retries` times if its
    trainer raises or its worker dies (the dead worker is replaced); a group that runs out of GPU
    memory is split in halves and retried, which costs no retry. on_result(spec, result) is
    called for each run as its group finishes, and a group that still fails gives its runs status
    'failed'. When should_stop() turns true, the workers in flight are stopped and their runs
    reported to no one: they stay open for the next command."""
    import ray

    gpus = resources.num_gpus if num_gpus is None else num_gpus
    if gpus > 0 and ray.cluster_resources().get("GPU", 0) == 0:
        raise UserError("asks for GPUs but the Ray cluster has none", where="proxy.resources.num_gpus")
    if not groups:
        return
    pool = Pool.get(resources.num_cpus, gpus)
    idle = list(pool.workers(len(groups)))
    data_ref, single, batch = ray.put(data.to_dict()), ray.put(fn), ray.put(ensemble_fn)
    queue: deque[tuple[list[RunSpec], int]] = deque((list(g), 0) for g in groups)
    running: dict = {}
    started: dict = {}  # ref -> when its attempt was submitted
    used: dict[int, float] = {}  # id(group) -> seconds its attempts took: a failed run's time counts too
    while queue or running:
        while queue and idle:
            group, tries = queue.popleft()
            worker = idle.pop()
            payload = group[0].to_dict() if len(group) == 1 else [s.to_dict() for s in group]
            ref = worker.run.remote(single if len(group) == 1 else batch, payload, data_ref)
            running[ref] = (worker, group, tries)
            started[ref] = time.monotonic()
        [ref], _ = ray.wait(list(running), num_returns=1)
        worker, group, tries = running.pop(ref)
        used[id(group)] = used.get(id(group), 0.0) + time.monotonic() - started.pop(ref)
        results = None
        try:
            out = ray.get(ref)
            results = out if isinstance(out, list) else [out]
            idle.append(worker)
        except ray.exceptions.RayActorError as exc:  # the worker died: replace it, retry its runs
            idle.append(pool.replace(worker))
            if tries < resources.retries:
                queue.appendleft((group, tries + 1))
            else:
                results = _failed(exc, used[id(group)], len(group))
        except Exception as exc:  # the trainer raised
            idle.append(worker)
            if _out_of_memory(exc) and len(group) > 1:
                half = len(group) // 2
                queue.extendleft([(group[half:], tries), (group[:half], tries)])
            elif tries < resources.retries:
                queue.appendleft((group, tries + 1))
            else:
                results = _failed(exc, used[id(group)], len(group))
        for spec, result in zip(group, results or []):
            on_result(spec, result)
        if (queue or running) and should_stop and should_stop():
            for worker, _, _ in running.values():
                pool.discard(worker)
            return
