"""Which groups of runs each worker holds in flight, and which group pays for a worker's death.

A worker is sent up to `depth` groups ahead of its results, so the next starts as the last ends.
When the worker dies, every group it still held fails with it, and the driver cannot tell which
one was running: a group may even have finished, its result lost with the process, while the
next one crashed it. So a death is charged (spends a retry) only to a group that was the only
unfinished one on its worker. When several were, none is charged, and each of them runs alone
from then on (nothing sent behind it), where a death is its own: a group that crashes its worker
every time still runs out of retries.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterator
from typing import Any

Group = Any  # a group of runs, known by its identity


class Lanes:
    """The groups in flight per worker (workers and refs are any hashable handles)."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.sent: dict[Hashable, dict[Hashable, Group]] = {}  # worker -> ref -> group, unfinished
        self.dead: set[Hashable] = set()
        self.suspects: dict[Hashable, set[Hashable]] = {}  # dead worker -> refs unfinished when it died
        self.alone: set[int] = set()  # id(group) of the groups that run alone

    def add(self, worker: Hashable) -> None:
        """A live worker that can take groups."""
        self.sent.setdefault(worker, {})

    def _room(self, group: Group) -> Hashable | None:
        """The least busy live worker that can take `group` now, or None."""
        free = [w for w, refs in self.sent.items() if w not in self.dead
                and not any(id(g) in self.alone for g in refs.values())
                and len(refs) < (1 if id(group) in self.alone else self.depth)]
        return min(free, key=lambda w: len(self.sent[w]), default=None)

    def place(self, queue: deque) -> Iterator[tuple[Any, Hashable]]:
        """Take from `queue` ((group, ...) items, in order) each item a worker can take now, with
        that worker; `send` each before taking the next. A group that runs alone waits in the
        queue, in its place, for a worker with nothing in flight."""
        skipped: deque = deque()
        try:
            while queue:
                item = queue.popleft()
                worker = self._room(item[0])
                if worker is None:
                    skipped.append(item)
                    if id(item[0]) not in self.alone:
                        break  # no worker has room for any group
                    continue
                yield item, worker
        finally:
            queue.extendleft(reversed(skipped))

    def send(self, worker: Hashable, ref: Hashable, group: Group) -> None:
        self.sent[worker][ref] = group

    def finished(self, worker: Hashable, ref: Hashable) -> None:
        """`ref` on `worker` returned (a result, or the trainer's error): its worker lives on."""
        self.sent.get(worker, {}).pop(ref, None)

    def died(self, worker: Hashable, ref: Hashable, done: Callable[[Hashable], bool]) -> bool:
        """`ref` failed because `worker` died: whether its group is charged for the death. On the
        first news of the death, the suspects are the refs the worker held that `done(ref)` does
        not show as returned; a group not charged runs alone from now on."""
        held = self.sent.get(worker, {})
        if worker not in self.dead:
            self.dead.add(worker)
            self.suspects[worker] = {r for r in held if r == ref or not done(r)}
        group = held.pop(ref, None)
        charged = self.suspects[worker] == {ref}
        if not charged and group is not None:
            self.alone.add(id(group))
        return charged
