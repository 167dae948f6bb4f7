"""Train proxies on mixtures for a fixed token budget; report per-domain validation loss.

One loop trains K >= 1 runs of one model and training configuration as one batched model
(`mixsearch.proxy.batched`); a single run is K = 1. Each member keeps its own data stream,
initialisation (that of a single run with its seed), gradient clipping and optimizer state (AdamW
is elementwise, so one AdamW over stacked weights is K independent AdamWs), and its own result:
a member whose loss or gradients turn non-finite gets zero gradients, leaves the ensemble at the
next divergence check and is reported failed, while the others carry on.
"""

from __future__ import annotations

import functools
import math
import socket
import time

import numpy as np
import torch

from mixsearch.data.prepare import DomainTokens, PreparedData
from mixsearch.data.sampler import Prefetcher, run_sampler
from mixsearch.proxy import batched, compiled
from mixsearch.proxy.device import autocast, pick_device, sync
from mixsearch.proxy.evaluate import eval_set, evaluate
from mixsearch.proxy.optim import keep_members, make_optimizer, train_step
from mixsearch.proxy.spec import RunSpec
from mixsearch.recipe.proxy import Model, Train

CHECK_EVERY = 25  # steps between divergence checks (each check syncs the device)


def lr_at(step: int, steps: int, cfg: Train) -> float:
    """Linear warmup, then cosine decay to min_lr_ratio x lr, or constant."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - cfg.warmup_steps) / max(1, steps - cfg.warmup_steps)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@functools.lru_cache(maxsize=256)
def _array(tokens: DomainTokens, split: str) -> np.ndarray:
    """A domain's train or val token array, opened (memory-mapped) once per worker process."""
    return tokens.train() if split == "train" else tokens.val()


def train_runs(specs: list[dict], data: dict) -> list[dict]:
    """Train the runs of `specs` (same model and training settings) together; one result per run."""
    runs = [RunSpec(**s) for s in specs]
    if any(r.model != runs[0].model or r.train != runs[0].train for r in runs):
        raise ValueError("an ensemble trains runs of one model and training configuration")
    prepared = PreparedData.from_dict(data)
    mcfg, tcfg = Model(**runs[0].model), Train(**runs[0].train)
    device, k = pick_device(), len(runs)
    if device.type == "cpu":
        torch.set_num_threads(max(1, runs[0].threads))
    start = time.perf_counter()
    p = batched.stack_members(mcfg, prepared.vocab_size, [r.seed for r in runs], device)
    opt = make_optimizer(p, tcfg, device)
    arrays = {n: _array(d, "train") for n, d in prepared.domains.items()}
    tokens_per_step = tcfg.batch_size * mcfg.context
    steps = max(1, math.ceil(tcfg.tokens / tokens_per_step))
    samplers = [run_sampler(arrays, r.mixture, r.phases, steps, mcfg.context, tcfg.batch_size, r.seed) for r in runs]

    def step_fn(k: int) -> tuple:
        return compiled.step_loss(tcfg.compile, mcfg.model_dump_json(), prepared.vocab_size, tcfg.batch_size, k,
                                  device, steps)

    loss_fn, fresh = step_fn(k)
    val = {n: _array(d, "val") for n, d in {**prepared.domains, **prepared.eval_sets}.items()}
    evals = eval_set(prepared, val, mcfg.context, tcfg)
    ev = functools.partial(evaluate, heads=mcfg.heads, evals=evals, chunk=2 * tcfg.batch_size,
                           device=device, autocast=lambda: autocast(device))

    def draw() -> tuple[torch.Tensor, torch.Tensor]:  # every run's stream advances, trained or not
        xs, ys = zip(*(s.batch() for s in samplers))
        return torch.stack(xs), torch.stack(ys)

    source = Prefetcher(draw, steps) if device.type == "cuda" else None
    members = list(range(k))  # the runs still in the batched model, in its order
    alive = torch.ones(k, dtype=torch.bool, device=device)
    failed: dict[int, str] = {}
    curves: list[list[dict]] = [[] for _ in runs]
    final = [math.nan] * k
    warm_s, timed_from, done_steps = 0.0, start, steps
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, tcfg)
        x, y = source.batch() if source else draw()
        if len(members) < k:
            x, y = x[members], y[members]
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        losses = train_step(p, opt, loss_fn, x, y, mcfg.heads, tcfg.grad_clip, alive)
        if step == 0 and steps > 1:  # warm-up step (compilation, allocator): timed on its own
            sync(device)
            timed_from = time.perf_counter()
            warm_s = timed_from - start
        if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps:
            ok, values = alive.tolist(), losses.detach().float().tolist()
            for run, v in zip(members, values):
                final[run] = v
            for run, good, v in zip(members, ok, values):
                if not good:
                    failed[run] = f"diverged: training loss {v} at step {step + 1}"
            if len(failed) == k:
                done_steps = step + 1
                break
            if not all(ok):  # failed members leave: no more updates, no more compute
                p, opt = keep_members(p, opt, [i for i, good in enumerate(ok) if good], tcfg, device)
                members = [run for run, good in zip(members, ok) if good]
                alive = torch.ones(len(members), dtype=torch.bool, device=device)
                loss_fn = step_fn(len(members))[0]
        if tcfg.eval_every and (step + 1) % tcfg.eval_every == 0 and step + 1 < steps:
            for run, row in zip(members, ev(p)):
                curves[run].append({"step": step + 1, **row})
    train_time = time.perf_counter() - timed_from
    timed_tokens = (done_steps - (1 if steps > 1 else 0)) * tokens_per_step
    evals = dict(zip(members, ev(p))) if len(failed) < k else {}
    wall = time.perf_counter() - start
    base = {"params": sum(t[0].numel() for t in p.values()), "steps": done_steps, "ensemble": k,
            "tokens": done_steps * tokens_per_step, "wall_time": wall, "host": socket.gethostname(),
            "device": str(device), "torch": str(torch.__version__), "threads": torch.get_num_threads(),
            "compile_s": warm_s if fresh else 0.0,
            "tokens_per_s": timed_tokens / train_time if len(failed) < k else None}
    results = []
    for i in range(k):
        losses_i = evals.get(i, {})
        bad = [n for n, v in losses_i.items() if not math.isfinite(v)]
        error = failed.get(i) or (f"non-finite validation loss on {', '.join(bad)}" if bad else None)
        results.append({**base, "status": "failed" if error else "done", "error": error,
                        "losses": {} if error else losses_i, "train_loss": final[i], "curve": curves[i]})
    return results


def train_proxy(spec: dict, data: dict) -> dict:
    """Run one proxy; NaN/inf loss ends it as status 'failed' instead of raising."""
    return train_runs([spec], data)[0]


def train_ensemble(specs: list[dict], data: dict) -> list[dict]:
    """Train several runs of one configuration as one batched model; one result per run."""
    return train_runs(specs, data)
