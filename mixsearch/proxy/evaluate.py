"""Validation loss of every member on every domain, eval set and task, in one batched pass.

Held-out text is scored on fixed windows in nats per token, or in bits per byte
(`report_units: bpb`: nats/token x tokens/bytes of the name's validation tokens / ln 2). A task is
scored on its continuations only, in bits per byte: the summed continuation-token loss in nats
/ ln 2 / the continuations' UTF-8 bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from mixsearch.data.prepare import PreparedData
from mixsearch.data.sampler import eval_windows
from mixsearch.data.tasks import TaskTokens
from mixsearch.proxy import batched
from mixsearch.proxy.batched import Params
from mixsearch.recipe.proxy import Train


@dataclass(frozen=True)
class TaskRows:
    """A task's examples as (n, context+1) token rows (right-padded), a (n, context) mask of the
    targets that are continuation tokens, and the continuations' UTF-8 bytes."""

    rows: torch.Tensor
    mask: torch.Tensor
    nbytes: int


@dataclass(frozen=True)
class EvalData:
    """What every evaluation scores: the text windows of all names stacked with their counts, the
    factor that turns each name's mean nats per token into the reported unit, and the tasks."""

    windows: torch.Tensor
    counts: dict[str, int]
    unit_factor: dict[str, float]
    tasks: dict[str, TaskRows] = field(default_factory=dict)


def task_rows(task: TaskTokens, context: int, max_tokens: int) -> TaskRows:
    """Evenly spaced examples of a task (about max_tokens / context of them), each cut to its last
    context+1 tokens (the continuation always fits: prepare checks it)."""
    a = task.arrays()
    n = len(a["continuation"])
    picked = np.unique(np.linspace(0, n - 1, max(1, min(n, max_tokens // context))).astype(np.int64))
    rows = torch.zeros(len(picked), context + 1, dtype=torch.int64)
    mask = torch.zeros(len(picked), context, dtype=torch.bool)
    for r, i in enumerate(picked):
        seq = a["tokens"][a["offsets"][i]: a["offsets"][i + 1]][-(context + 1):]
        rows[r, : len(seq)] = torch.from_numpy(seq.astype(np.int64))
        mask[r, len(seq) - 1 - int(a["continuation"][i]): len(seq) - 1] = True
    return TaskRows(rows, mask, int(a["bytes"][picked].sum()))


def eval_set(data: PreparedData, arrays: dict, context: int, train: Train) -> EvalData:
    """The fixed validation windows of all domains and text eval sets (`arrays`: their validation
    arrays), the unit factor of each, and the tasks' rows."""
    texts = {**data.domains, **data.eval_sets}
    windows = {name: eval_windows(arrays[name], context, train.eval_tokens) for name in texts}
    factor = {}
    for name, d in texts.items():
        if train.report_units == "nats":
            factor[name] = 1.0
        elif d.val_bytes > 0:
            factor[name] = d.val_tokens / d.val_bytes / math.log(2)
        else:
            raise ValueError(f"bits per byte: the bytes of {name}'s validation tokens are unknown")
    tasks = {name: task_rows(t, context, train.eval_tokens) for name, t in data.tasks.items()}
    return EvalData(torch.cat(list(windows.values())), {n: len(w) for n, w in windows.items()}, factor, tasks)


def _token_losses(p: Params, rows: torch.Tensor, heads: int) -> torch.Tensor:
    """Each member's loss in nats of each target token of `rows` (N, T+1): (K, N, T), fp32."""
    k = next(iter(p.values())).shape[0]
    x, y = (t.unsqueeze(0).expand(k, -1, -1) for t in (rows[:, :-1], rows[:, 1:]))
    out = batched.logits(p, x, heads).float()
    return F.cross_entropy(out.flatten(0, 1), y.reshape(-1), reduction="none").view(y.shape)


@torch.no_grad()
def evaluate(p: Params, heads: int, evals: EvalData, chunk: int,
             device: torch.device, autocast: Callable[[], AbstractContextManager]) -> list[dict[str, float]]:
    """Loss per member and name in the reported units: all members and all names go through the
    model together, `chunk` rows at a time (bf16 autocast on CUDA)."""
    k = next(iter(p.values())).shape[0]
    parts = []
    for part in evals.windows.split(chunk):
        part = part.to(device, non_blocking=True)
        x, y = (t.unsqueeze(0).expand(k, -1, -1) for t in (part[:, :-1], part[:, 1:]))
        with autocast():
            parts.append(batched.seq_losses(p, x, y, heads).float())
    per_window = torch.cat(parts, 1)
    means = torch.stack([s.mean(1) for s in per_window.split(list(evals.counts.values()), 1)], 1)
    out = [{n: v * evals.unit_factor[n] for n, v in zip(evals.counts, row)} for row in means.tolist()]
    for name, task in evals.tasks.items():
        nats = torch.zeros(k, device=device)
        for rows, mask in zip(task.rows.split(chunk), task.mask.split(chunk)):
            with autocast():
                losses = _token_losses(p, rows.to(device, non_blocking=True), heads)
            nats += (losses * mask.to(device)).sum((1, 2))
        for row, v in zip(out, (nats / math.log(2) / task.nbytes).tolist()):
            row[name] = v
    return out
