"""Run proxy trainings as Ray tasks: an embedded local Ray by default, or an existing cluster."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from mixsearch.data.prepare import PreparedData
from mixsearch.errors import UserError
from mixsearch.proxy.ensemble import train_ensemble
from mixsearch.proxy.train import RunSpec, train_proxy
from mixsearch.recipe import Resources

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

    if ray.is_initialized():
        ray.shutdown()


def _error_text(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    text = f"{type(cause).__name__}: {cause}".strip()
    return text.splitlines()[0][:500] if text else type(cause).__name__


def execute(groups: Sequence[Sequence[RunSpec]], data: PreparedData, resources: Resources, on_result: ResultFn,
            fn: Callable[[dict, dict], dict] = train_proxy,
            ensemble_fn: Callable[[list[dict], dict], list[dict]] = train_ensemble,
            should_stop: Callable[[], bool] | None = None, num_gpus: float | None = None) -> None:
    """Run each group as one Ray task: a group of one with `fn`, a larger one as an ensemble with
    `ensemble_fn`. Tasks are retried `resources.retries` times if they raise or their worker dies;
    on_result(spec, result) is called for each run as its task finishes, and a task that still
    fails gives its runs status 'failed'. When should_stop() turns true, tasks in flight are
    cancelled and reported to no one: their runs stay open for the next command."""
    import ray

    gpus = resources.num_gpus if num_gpus is None else num_gpus
    if gpus > 0 and ray.cluster_resources().get("GPU", 0) == 0:
        raise UserError("asks for GPUs but the Ray cluster has none", where="proxy.resources.num_gpus")
    options = {"num_cpus": resources.num_cpus, "num_gpus": gpus, "max_retries": resources.retries,
               "retry_exceptions": True}
    single, batch = ray.remote(fn).options(**options), ray.remote(ensemble_fn).options(**options)
    data_ref = ray.put(data.to_dict())
    pending = {}
    for group in groups:
        if len(group) == 1:
            pending[single.remote(group[0].to_dict(), data_ref)] = list(group)
        else:
            pending[batch.remote([s.to_dict() for s in group], data_ref)] = list(group)
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            group = pending.pop(ref)
            try:
                out = ray.get(ref)
                results = out if isinstance(out, list) else [out]
            except Exception as exc:  # a task that failed after its retries: record it, keep going
                results = [{"status": "failed", "losses": {}, "error": _error_text(exc)}] * len(group)
            for spec, result in zip(group, results):
                on_result(spec, result)
        if pending and should_stop and should_stop():
            for ref in pending:
                ray.cancel(ref, force=True)
            return
