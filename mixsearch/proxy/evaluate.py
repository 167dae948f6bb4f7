"""Validation loss of every member on every domain and eval set, in one batched pass."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

from mixsearch.data.prepare import PreparedData
from mixsearch.data.sampler import eval_windows
from mixsearch.proxy import batched
from mixsearch.proxy.batched import Params


def eval_set(data: PreparedData, arrays: dict, context: int, max_tokens: int) -> tuple[torch.Tensor, dict[str, int]]:
    """The fixed validation windows of all domains and eval sets stacked (N, context+1), and how
    many windows each name has, in order. `arrays` maps names to their validation arrays."""
    windows = {name: eval_windows(arrays[name], context, max_tokens) for name in {**data.domains, **data.eval_sets}}
    return torch.cat(list(windows.values())), {n: len(w) for n, w in windows.items()}


@torch.no_grad()
def evaluate(p: Params, heads: int, windows: torch.Tensor, counts: dict[str, int], chunk: int,
             device: torch.device, autocast: Callable[[], AbstractContextManager]) -> list[dict[str, float]]:
    """Mean validation loss per member and name: all members and all names go through the model
    together, `chunk` windows at a time (bf16 autocast on CUDA)."""
    k = next(iter(p.values())).shape[0]
    parts = []
    for part in windows.split(chunk):
        part = part.to(device, non_blocking=True)
        x, y = (t.unsqueeze(0).expand(k, -1, -1) for t in (part[:, :-1], part[:, 1:]))
        with autocast():
            parts.append(batched.seq_losses(p, x, y, heads).float())
    per_window = torch.cat(parts, 1)
    means = torch.stack([s.mean(1) for s in per_window.split(list(counts.values()), 1)], 1).tolist()
    return [dict(zip(counts, row)) for row in means]
