"""Run proxy trainings on warm Ray workers: an embedded local Ray by default, or an existing cluster."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from mixsearch import raynode, signals
from mixsearch.data.prepare import PreparedData
from mixsearch.errors import RayFailure, UserError
from mixsearch.proxy.spec import RunSpec
from mixsearch.raynode import alive_nodes, check_alive, connect
from mixsearch.recipe.proxy import Resources
from mixsearch.execute.lanes import Lanes
from mixsearch.execute.trainers import builtin_ensemble, builtin_run
from mixsearch.execute.workers import WorkerPool

__all__ = ["WorkerDied", "call", "check_alive", "connect", "execute", "shutdown"]  # commands start and leave Ray through this module

ResultFn = Callable[[RunSpec, dict], None]
POLL_S = 2.0  # a wait checks for signals and for Ray's health this often
DEPTH = 2  # groups sent to a worker ahead of its results: the next starts as the last ends, with no
# round trip through this process in between (a worker runs its tasks one at a time, in order)


def shutdown() -> None:
    """End the warm workers and leave Ray (stopping the embedded instance); after a failure of Ray's
    own parts, only what is left of it is stopped."""
    WorkerPool.clear(kill=raynode.watching())
    raynode.shutdown()


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


class WorkerDied(RuntimeError):
    """The worker running a `call` died under it while Ray itself runs on."""


def call(fn: Callable[..., Any], *args: Any, resources: Resources, num_gpus: float | None = None) -> Any:
    """fn(*args) on a warm worker of the runs' shape, i.e. on the device runs train on. WorkerDied
    when that worker dies (it leaves the pool: no run is sent to it); RayFailure when Ray stopped."""
    import ray

    gpus = resources.num_gpus if num_gpus is None else num_gpus
    pool = WorkerPool.get(resources.num_cpus, gpus, resources.runtime_env)
    worker = pool.workers(1)[0]
    with signals.deferred() as check:
        try:
            return ray.get(_next_ready([worker.call.remote(fn, *args)], check))
        except ray.exceptions.RayActorError as exc:
            check_alive()
            pool.discard(worker)
            raise WorkerDied(_error_text(exc)) from None


def _next_ready(refs: list, check: Callable[[], None], pool: WorkerPool | None = None) -> Any:
    """The first of `refs` to finish; meanwhile a signal ends the wait (check) and so does a
    stopped GCS or raylet, or, with `pool` (waiting on new workers only), no room left for one
    (RayFailure)."""
    import ray

    while True:
        ready, _ = ray.wait(refs, num_returns=1, timeout=POLL_S)
        check()
        if ready:
            return ready[0]
        check_alive()
        if pool is not None:
            _room(pool)


def execute(groups: Sequence[Sequence[RunSpec]], data: PreparedData, resources: Resources, on_result: ResultFn,
            fn: Callable[[dict, dict], dict] = builtin_run,
            ensemble_fn: Callable[[list[dict], dict], list[dict]] = builtin_ensemble,
            should_stop: Callable[[], bool] | None = None, num_gpus: float | None = None) -> None:
    """Run each group on a warm worker (`mixsearch.execute.workers`): a group of one with `fn`, a larger
    one as an ensemble with `ensemble_fn` (default: the built-in GPT, whose torch loads on the
    workers only). A group is retried `resources.retries` times if its
    trainer raises or its worker dies (the dead worker is replaced when the cluster still holds
    it; `mixsearch.execute.lanes` says which group a death is charged to); a group whose worker
    was lost with its node, or that runs out of GPU memory (split in halves), is retried at no
    cost to its retries. on_result(spec, result) is called for each run
    as its group finishes, and a group that still fails gives its runs status 'failed'. When
    should_stop() turns true, the workers in flight are stopped and their runs reported to no
    one: they stay open for the next command. RayFailure when Ray itself fails, or no live node
    holds a worker any more."""
    import ray

    gpus = resources.num_gpus if num_gpus is None else num_gpus
    if gpus > 0 and ray.cluster_resources().get("GPU", 0) == 0:
        raise UserError("asks for GPUs but the Ray cluster has none", where="proxy.resources.num_gpus")
    if not groups:
        return
    pool = WorkerPool.get(resources.num_cpus, gpus, resources.runtime_env)
    lanes = Lanes(DEPTH)
    for worker in pool.workers(len(groups)):
        lanes.add(worker)
    starting: dict = {}  # ready ref -> a replacement worker, given work once it runs
    data_ref, single, batch = ray.put(data.to_dict()), ray.put(fn), ray.put(ensemble_fn)
    queue: deque[tuple[list[RunSpec], int]] = deque((list(g), 0) for g in groups)
    running: dict = {}
    lost: set = set()  # dead workers lost with their node: their groups retry at no cost
    started: dict = {}  # ref -> when its attempt was submitted
    used: dict[int, float] = {}  # id(group) -> seconds its attempts took: a failed run's time counts too
    with signals.deferred() as check:
        while queue or running:
            for (group, tries), worker in lanes.place(queue):
                payload = group[0].to_dict() if len(group) == 1 else [s.to_dict() for s in group]
                ref = worker.run.remote(single if len(group) == 1 else batch, payload, data_ref)
                running[ref] = (worker, group, tries)
                lanes.send(worker, ref, group)
                started[ref] = time.monotonic()
            if queue and not running and not starting:  # every worker was lost: what is left
                for worker in _remaining(pool, len(queue)):
                    lanes.add(worker)
                continue
            ref = _next_ready([*running, *starting], check, None if running else pool)
            if ref in starting:
                worker = _started(pool, starting.pop(ref), ref)
                if worker is not None:
                    lanes.add(worker)
                continue
            worker, group, tries = running.pop(ref)
            before = used.get(id(group), 0.0)  # seconds of its failed attempts
            used[id(group)] = before + time.monotonic() - started.pop(ref)
            results = None
            try:
                out = ray.get(ref)
                results = [{**r, "retried_s": before} for r in (out if isinstance(out, list) else [out])]
                lanes.finished(worker, ref)
            except ray.exceptions.RayActorError as exc:  # the worker died: replace it, retry its runs
                check_alive()
                if worker not in lanes.dead:  # the first news of its death
                    if pool.lost_with_node(worker, alive_nodes()):
                        lost.add(worker)
                    fresh = pool.replace(worker)
                    if fresh is not None:
                        starting[pool.ready(fresh)] = fresh
                charged = lanes.died(worker, ref, _returned) and worker not in lost
                if not charged or tries < resources.retries:
                    queue.appendleft((group, tries + 1 if charged else tries))
                else:
                    results = _failed(exc, used[id(group)], len(group))
            except Exception as exc:  # the trainer raised
                lanes.finished(worker, ref)
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
                break
        for worker in starting.values():  # not placed (yet): a later call starts its own
            pool.discard(worker)


def _returned(ref: Any) -> bool:
    """Whether `ref`'s task returned (a result or its own error) rather than died with its worker."""
    import ray

    if not ray.wait([ref], timeout=0)[0]:
        return False
    try:
        ray.get(ref)
    except ray.exceptions.RayActorError:
        return False
    except Exception:
        return True
    return True


def _room(pool: WorkerPool) -> None:
    """RayFailure when none of the live nodes holds a worker of the pool's shape."""
    if pool.capacity() == 0:
        o = pool.options
        raise RayFailure(f"no live Ray node has room for a worker (num_cpus={o['num_cpus']}, num_gpus={o['num_gpus']})",
                         "add a node to the cluster, then rerun the command to resume the open runs")


def _remaining(pool: WorkerPool, wanted: int) -> list:
    """The pool's workers on the nodes still alive (RayFailure when they hold none)."""
    _room(pool)
    return list(pool.workers(wanted))


def _started(pool: WorkerPool, worker: Any, ready: Any) -> Any:
    """A replacement worker that now runs, or None if it died first (as when the cluster's view of
    its live nodes lagged a node's loss); RayFailure when the live nodes hold no worker any more."""
    import ray

    try:
        ray.get(ready)
    except ray.exceptions.RayActorError:
        check_alive()
        pool.discard(worker)
        _room(pool)
        return None
    return worker
