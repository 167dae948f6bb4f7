"""Which group pays for a worker's death when the worker held several (`mixsearch.execute.lanes`)."""

from __future__ import annotations

from collections import deque

from mixsearch.execute.lanes import Lanes


def _send_all(lanes: Lanes, queue: deque) -> dict[str, str]:
    """Send every group that can go now; group name -> its worker (a ref is named after its group)."""
    out = {}
    for (group, _), worker in lanes.place(queue):
        lanes.send(worker, f"ref-{group[0]}", group)
        out[group[0]] = worker
    return out


def test_groups_are_sent_up_to_depth_per_worker_in_order():
    lanes = Lanes(2)
    for w in ("w1", "w2"):
        lanes.add(w)
    queue = deque(([name], 0) for name in "abcde")
    sent = _send_all(lanes, queue)
    assert sorted(sent) == list("abcd") and [g[0][0] for g in queue] == ["e"]
    assert sorted(sent.values()) == ["w1", "w1", "w2", "w2"]


def test_a_group_that_returned_before_its_worker_died_leaves_the_death_to_the_one_still_held():
    lanes = Lanes(2)
    lanes.add("w")
    a, b = ["a"], ["b"]
    _send_all(lanes, deque([(a, 0), (b, 0)]))
    returned = {"ref-a"}  # a's result reached the driver; b then crashed the worker
    assert lanes.died("w", "ref-b", lambda ref: ref in returned) is True
    lanes.finished("w", "ref-a")


def test_a_worker_that_died_holding_two_unfinished_groups_charges_neither_and_each_then_runs_alone():
    lanes = Lanes(2)
    lanes.add("w")
    a, b = ["a"], ["b"]
    _send_all(lanes, deque([(a, 0), (b, 0)]))
    # a finished but its result was lost with the process that b crashed: the driver cannot tell
    # which one ran, so neither spends a retry (charging the first sent one failed it wrongly)
    assert lanes.died("w", "ref-a", lambda ref: False) is False
    assert lanes.died("w", "ref-b", lambda ref: False) is False
    lanes.add("fresh")
    queue = deque([(a, 0), (b, 0), (["c"], 0)])
    sent = _send_all(lanes, queue)
    assert sent == {"a": "fresh"} and [g[0][0] for g in queue] == ["b", "c"]  # nothing behind a
    lanes.add("other")
    sent = _send_all(lanes, queue)
    assert sent == {"b": "other"} and [g[0][0] for g in queue] == ["c"]
    # alone, a death is the group's own
    assert lanes.died("fresh", "ref-a", lambda ref: False) is True


def test_a_group_that_runs_alone_waits_in_its_place_while_others_go_ahead():
    lanes = Lanes(2)
    for w in ("w1", "w2"):
        lanes.add(w)
    a = ["a"]
    lanes.alone.add(id(a))
    lanes.send("w1", "ref-x", ["x"])
    lanes.send("w2", "ref-y", ["y"])
    queue = deque([(a, 0), (["b"], 0), (["c"], 0)])
    sent = _send_all(lanes, queue)
    assert sorted(sent) == ["b", "c"] and [g[0][0] for g in queue] == ["a"]
    lanes.finished("w1", "ref-x")
    lanes.finished("w1", "ref-b")
    assert _send_all(lanes, queue) == {"a": "w1"} and not queue
