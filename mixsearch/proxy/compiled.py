"""torch.compile once per worker process, reused by every run of the same shape.

The compiled function is the batched model's loss, a pure function of (weights, inputs), so a
new run with new weights of the same shapes reuses the compiled graph; a warm Ray worker
(`mixsearch.execute.workers`) therefore compiles a shape once for all the runs it trains.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import torch

from mixsearch.proxy import batched

COMPILE_MIN_STEPS = 1000  # `compile: auto` compiles a new shape only for runs at least this long
BACKEND = "inductor"
_CACHE: dict[Hashable, Callable] = {}


def wanted(setting: bool | str, device: torch.device, steps: int, key: Hashable) -> bool:
    """Whether a run compiles: `auto` on CUDA when the shape is already compiled in this
    process or the run is long enough to repay compiling it."""
    if setting == "auto":
        return device.type == "cuda" and (key in _CACHE or steps >= COMPILE_MIN_STEPS)
    return bool(setting)


def loss_fn(key: Hashable) -> tuple[Callable, bool]:
    """The compiled batched loss for `key` (model shape, batch, context, K, device), and
    whether this call created it (its first step then pays the compilation)."""
    if key in _CACHE:
        return _CACHE[key], False
    config = torch._dynamo.config
    config.recompile_limit = max(config.recompile_limit, 64)  # one graph per shape a worker sees
    _CACHE[key] = torch.compile(batched.loss, backend=BACKEND, dynamic=False)
    return _CACHE[key], True


def step_loss(setting: bool | str, model_json: str, vocab: int, batch_size: int, k: int, device: torch.device,
              steps: int) -> tuple[Callable, bool]:
    """The loss that a run of K members with these shapes trains with: compiled (and cached for
    the runs after it) when `wanted`, else the eager batched loss; and whether it was compiled now."""
    key = (model_json, vocab, batch_size, k, str(device))
    return loss_fn(key) if wanted(setting, device, steps, key) else (batched.loss, False)
