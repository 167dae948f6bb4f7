"""Warm Ray workers: long-lived actors that train run after run.

A worker keeps its process between runs, so CUDA stays initialised, token arrays stay mapped and
compiled graphs stay cached (`mixsearch.proxy.compiled`). Each is declared with the task's
`num_cpus` and (fractional) `num_gpus`, so one or a few share a GPU, and the recipe's Ray
`runtime_env`, if any. The pool lives as long as
the driver's Ray connection and is reused by every `schedule.execute` call. Each worker's first
task reports its node, so a worker lost with its node is told apart from one that crashed, and a
pool on a cluster that lost a node shrinks to what the remaining nodes hold.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any


class Worker:
    """Runs trainer functions in one long-lived process."""

    def run(self, fn: Callable[[Any, dict], Any], payload: Any, data: dict) -> Any:
        """fn(payload, data): a result dict, or a list of them, each given the Ray node's id."""
        import ray

        _release_cuda_cache()  # what a failed run (e.g. out of memory) still held is free by now
        try:
            out = fn(payload, data)
        finally:
            _release_cuda_cache()
        node = ray.get_runtime_context().get_node_id()
        return [{**r, "node_id": node} for r in out] if isinstance(out, list) else {**out, "node_id": node}

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Any function on this worker's device (e.g. measuring memory for `ensemble: auto`)."""
        return fn(*args)

    def pid(self) -> int:
        import os

        return os.getpid()

    def node(self) -> str:
        """The Ray node this worker runs on (its first task: answered once the worker is up)."""
        import ray

        return ray.get_runtime_context().get_node_id()


def _release_cuda_cache() -> None:
    """Hand cached GPU blocks back after a run, so the GPU's other workers can use them."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


class WorkerPool:
    """The driver's warm workers for one (num_cpus, num_gpus) shape."""

    _pools: dict[tuple, "WorkerPool"] = {}

    def __init__(self, num_cpus: float, num_gpus: float, runtime_env: dict | None = None) -> None:
        import ray

        self.options = {"num_cpus": num_cpus, "num_gpus": num_gpus, "max_restarts": 0}
        if runtime_env:
            self.options["runtime_env"] = runtime_env
        self.actor_class = ray.remote(Worker)
        self.actors: list = []
        self.nodes: dict = {}  # actor -> the ref of its node() task

    @classmethod
    def get(cls, num_cpus: float, num_gpus: float, runtime_env: dict | None = None) -> "WorkerPool":
        """The pool for this shape (and Ray runtime_env) in the current Ray session (a new session
        starts empty)."""
        import ray

        ctx = ray.get_runtime_context()
        session = (ctx.get_job_id(), ctx.get_node_id())
        if any(key[0] != session for key in cls._pools):
            cls._pools.clear()
        key = (session, num_cpus, num_gpus, json.dumps(runtime_env or {}, sort_keys=True))
        if key not in cls._pools:
            cls._pools[key] = cls(num_cpus, num_gpus, runtime_env)
        return cls._pools[key]

    def capacity(self) -> int:
        """How many workers of this shape the cluster's live nodes hold at once (0: none fits)."""
        import ray

        total = ray.cluster_resources()
        n = int(total.get("CPU", 0) // self.options["num_cpus"]) if self.options["num_cpus"] else 1 << 10
        if self.options["num_gpus"]:
            n = min(n, int(total.get("GPU", 0) // self.options["num_gpus"] + 1e-9))
        return n

    def workers(self, wanted: int) -> list:
        """Up to `wanted` workers (never more than the cluster holds), started as needed: the
        idle workers of this driver's other shapes end where they hold what the new ones need."""
        n = min(max(1, wanted), max(1, self.capacity()))
        if len(self.actors) < n:
            self._make_room(n - len(self.actors))
        while len(self.actors) < n:
            self._start()
        return self.actors[:n]

    def _make_room(self, count: int) -> None:
        """End other pools' workers until `count` more of this shape fit in what Ray has free.

        One driver runs one `schedule.execute` at a time, so the other pools' workers are idle
        here; left alone they would hold the CPUs (or GPU shares) the new workers wait for, and
        the new workers would never start."""
        import ray

        free = ray.available_resources()
        short = {k: count * self.options[k] - free.get(r, 0.0) for k, r in (("num_cpus", "CPU"), ("num_gpus", "GPU"))}
        for pool in [p for p in self._pools.values() if p is not self]:
            if not any(v > 1e-9 and pool.options[k] > 0 for k, v in short.items()):
                continue  # holds none of what is missing
            for actor in list(pool.actors):
                if all(v <= 1e-9 for v in short.values()):
                    return
                pool.discard(actor)
                short = {k: v - pool.options[k] for k, v in short.items()}

    def _start(self) -> Any:
        actor = self.actor_class.options(**self.options).remote()
        self.actors.append(actor)
        self.nodes[actor] = actor.node.remote()
        return actor

    def replace(self, actor) -> Any:
        """A fresh worker in place of one that died, or None when the live nodes hold no more
        workers than are left (a node was lost). Wait on `ready(fresh)` before giving it work."""
        self.discard(actor)
        return self._start() if self.capacity() > len(self.actors) else None

    def ready(self, actor) -> Any:
        """A ref that resolves once the worker runs (to its node's id)."""
        return self.nodes[actor]

    def lost_with_node(self, actor, alive: set[str]) -> bool:
        """Whether this (dead) worker had started on a node that is no longer among `alive`."""
        import ray

        ref = self.nodes.get(actor)
        if ref is None or not ray.wait([ref], timeout=0)[0]:
            return False
        try:
            return ray.get(ref) not in alive
        except ray.exceptions.RayError:
            return False

    def discard(self, actor) -> None:
        import ray

        if actor in self.actors:
            self.actors.remove(actor)
        self.nodes.pop(actor, None)
        ray.kill(actor, no_restart=True)

    @classmethod
    def clear(cls, kill: bool = True) -> None:
        """Forget every pool; `kill`: end their workers too (not when Ray itself has failed)."""
        import ray

        for pool in cls._pools.values():
            for actor in list(pool.actors):
                if kill and ray.is_initialized():
                    ray.kill(actor, no_restart=True)
        cls._pools.clear()
