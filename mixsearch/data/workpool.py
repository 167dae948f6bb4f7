"""An ordered parallel map over spawned processes that never waits on them: results come back in
input order with at most `window` held, and closing the map early (a token cap reached, an error,
a signal) kills the processes instead of joining them. A worker whose parent dies exits quietly.

Why not multiprocessing.Pool: leaving `Pool.imap` early and terminating the pool can deadlock on
the pool's own queue locks (a worker blocked sending a large result, another waiting for a task)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from mixsearch import signals

PARENT_CHECK_S = 1.0  # how often a worker looks for its parent
KILL_GRACE_S = 5.0  # SIGTERM first; SIGKILL after this


class WorkerDied(RuntimeError):
    """A worker process ended while it held a task."""


def _orphan_exit(parent: int) -> None:
    """End this worker quietly once its parent is gone (killed: no one will read its results)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _serve(conn: Connection, fn: Callable[..., Any], parent: int) -> None:
    """A worker: call fn(*args) for each task received, send back ("ok", result) or ("err", exception)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one core per worker process
    threading.Thread(target=_orphan_exit, args=(parent,), daemon=True).start()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent closed its end or died
            return
        try:
            reply: tuple[str, Any] = ("ok", fn(*task))
        except Exception as exc:
            reply = ("err", exc)
        try:
            conn.send(reply)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # a result or exception that does not pickle
            conn.send(("err", RuntimeError(f"{type(exc).__name__}: {exc}")))


def ordered_map(fn: Callable[..., Any], tasks: Sequence[tuple], workers: int, window: int | None = None) -> Iterator[Any]:
    """fn(*task) for each task, computed in `workers` spawned processes, yielded in task order;
    an exception raised by fn is raised here. `fn` must be importable (a module-level function)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    window = max(workers, window or 2 * workers)
    procs, conns = [], []
    try:
        with signals.deferred():  # a signal raised inside start() cuts the child's spawn data short:
            for _ in range(min(workers, len(tasks))):  # it would die with an EOFError traceback
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(theirs, fn, os.getpid()), daemon=True)
                proc.start()
                theirs.close()
                procs.append(proc)
                conns.append(mine)
        idle, busy = list(conns), {}
        results: dict[int, Any] = {}
        sent = taken = 0
        while taken < len(tasks):
            while idle and sent < len(tasks) and sent < taken + window:
                conn = idle.pop()
                try:
                    conn.send(tasks[sent])
                except (BrokenPipeError, ConnectionResetError):
                    raise _died(procs[conns.index(conn)]) from None
                busy[conn] = sent
                sent += 1
            if taken in results:
                yield results.pop(taken)
                taken += 1
                continue
            for conn in wait(list(busy)):  # a worker that dies closes its end: readable, at EOF
                try:
                    status, value = conn.recv()
                except (EOFError, OSError):
                    raise _died(procs[conns.index(conn)]) from None
                if status == "err":
                    raise value
                results[busy.pop(conn)] = value
                idle.append(conn)
    finally:
        _stop(procs, conns)


def _died(proc) -> WorkerDied:
    proc.join(KILL_GRACE_S)
    return WorkerDied(f"a worker process ended unexpectedly (exit code {proc.exitcode}; out of memory?)")


def _stop(procs: list, conns: list[Connection]) -> None:
    """End the workers without waiting on them: SIGTERM, then SIGKILL after a grace period."""
    for conn in conns:
        conn.close()
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + KILL_GRACE_S
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join()
