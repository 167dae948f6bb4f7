"""How many runs to train as one ensemble: measured on the device, never more than fits.

`ensemble: auto` measures one training step's peak memory at K=1 and K=2 on the worker's device
(what a member adds, and what is shared), takes the largest K that fits the task's share of the
GPU with a margin, then doubles K from 1 while tokens/s still grows by GAIN and memory allows.
Tokens/s are those of the step the runs will train with: compiled when they compile (compiling
gains more at larger K, and the worker keeps each compiled shape for its runs). On a CPU the plain
loop already keeps the cores busy, so auto is 1 there.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

import torch

from mixsearch.proxy import batched, compiled
from mixsearch.proxy.optim import make_optimizer, train_step
from mixsearch.proxy.device import pick_device, sync
from mixsearch.recipe.proxy import Model, Train

BYTES_PER_PARAM = 16  # fp32 weight + grad + two AdamW moments
MARGIN = 0.8  # use at most this share of a task's GPU memory
RESERVE = 1 << 30  # CUDA context and allocator slack outside max_memory_allocated
GAIN = 1.1  # a larger K must raise tokens/s by at least this factor
CAP = 64


def member_bytes(model: Model, train: Train, vocab: int, params: int) -> int:
    """Rough training memory of one member (an estimate for packing tasks on a GPU)."""
    acts = train.batch_size * model.context * (model.layers * (16 * model.width + 2 * model.heads * model.context)
                                               + 2 * vocab)
    return params * BYTES_PER_PARAM + 4 * acts


def measure_step(model: Model, train: Train, vocab: int, k: int, device: torch.device,
                 loss: Callable = batched.loss) -> tuple[int, float]:
    """(peak bytes allocated, seconds) of one training step of K members, after a warm-up step."""
    p = batched.stack_members(model, vocab, list(range(k)), device)
    opt = make_optimizer(p, train, device)
    x, y = (torch.randint(0, vocab, (k, train.batch_size, model.context), device=device) for _ in range(2))
    alive = torch.ones(k, dtype=torch.bool, device=device)

    def step() -> None:
        train_step(p, opt, loss, x, y, model.heads, train.grad_clip, alive)

    step()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    step()
    sync(device)
    seconds = time.perf_counter() - start
    return (int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else 0), seconds


def fits(peak1: int, peak2: int, budget: float, cap: int = CAP) -> int:
    """The largest K (1..cap) whose memory, extrapolated from K=1 and K=2, is within budget x MARGIN."""
    per = max(1, peak2 - peak1)
    shared = peak1 - per
    return max(1, min(cap, int((MARGIN * budget - shared) // per)))


def grow(max_k: int, tokens_per_s) -> int:
    """Double K from 1 while K <= max_k and tokens_per_s(K) grows by GAIN; the last K that gained.
    tokens_per_s(K) may return None (out of memory), which stops the search."""
    best_k, best = 1, tokens_per_s(1)
    k = 2
    while k <= max_k:
        rate = tokens_per_s(k)
        if rate is None or rate < GAIN * best:
            break
        best_k, best = k, rate
        k *= 2
    return best_k


def step_rate(model: Model, train: Train, vocab: int, device: torch.device) -> Callable[[int], float | None]:
    """tokens/s of one training step of K members with the loss the runs will train with
    (`compiled.step_loss`); None when K runs out of memory."""
    steps = max(1, math.ceil(train.tokens / (train.batch_size * model.context)))

    def rate(k: int) -> float | None:
        loss = compiled.step_loss(train.compile, model.model_dump_json(), vocab, train.batch_size, k, device, steps)[0]
        try:
            return k * train.batch_size * model.context / measure_step(model, train, vocab, k, device, loss)[1]
        except torch.OutOfMemoryError:
            return None
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()

    return rate


@functools.lru_cache(maxsize=32)
def auto_ensemble(model_json: str, train_json: str, vocab: int, gpu_share: float) -> int:
    """`ensemble: auto` for one fidelity, run on a worker: 1 on CPU; measured on CUDA."""
    device = pick_device()
    if device.type != "cuda":
        return 1
    model, train = Model.model_validate_json(model_json), Train.model_validate_json(train_json)
    budget = max(0.0, (gpu_share or 1.0) * torch.cuda.get_device_properties(device).total_memory - RESERVE)
    try:
        peak1 = measure_step(model, train, vocab, 1, device)[0]
        peak2 = measure_step(model, train, vocab, 2, device)[0]
    except torch.OutOfMemoryError:
        return 1
    finally:
        torch.cuda.empty_cache()
    return grow(fits(peak1, peak2, budget), step_rate(model, train, vocab, device))
