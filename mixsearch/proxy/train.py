"""Train proxies on mixtures for a fixed token budget; report per-domain validation loss.

One loop trains K >= 1 runs of one model and training configuration as one batched model
(`mixsearch.proxy.batched`); a single run is K = 1. Each member keeps its own data stream,
initialisation (that of a single run with its seed), gradient clipping and optimizer state (AdamW
is elementwise, so one AdamW over stacked weights is K independent AdamWs), and its own result:
a member whose loss or gradients turn non-finite gets zero gradients from then on and is
reported failed while the others carry on.
"""

from __future__ import annotations

import functools
import math
import socket
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import numpy as np
import torch

from mixsearch.data.prepare import DomainTokens, PreparedData
from mixsearch.data.sampler import MixtureSampler, Prefetcher
from mixsearch.proxy import batched, compiled
from mixsearch.proxy.batched import Params
from mixsearch.proxy.evaluate import eval_set, evaluate
from mixsearch.recipe import Model, Train

CHECK_EVERY = 25  # steps between divergence checks (each check syncs the device)


@dataclass(frozen=True)
class RunSpec:
    """Everything a run depends on; plain data so it ships to Ray workers."""

    run_id: str
    mixture: dict[str, float]
    seed: int
    model: dict
    train: dict
    threads: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


def lr_at(step: int, steps: int, cfg: Train) -> float:
    """Linear warmup, then cosine decay to min_lr_ratio x lr, or constant."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - cfg.warmup_steps) / max(1, steps - cfg.warmup_steps)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(p: Params, cfg: Train, device: torch.device) -> torch.optim.AdamW:
    """One AdamW over the stacked weights; weight decay on (stacked) matrices only; the fused
    kernel on CUDA, the multi-tensor one elsewhere."""
    groups = [{"params": [t for t in p.values() if t.dim() >= 3], "weight_decay": cfg.weight_decay},
              {"params": [t for t in p.values() if t.dim() < 3], "weight_decay": 0.0}]
    cuda = device.type == "cuda"
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=cuda, foreach=not cuda or None)


def clip_members(grads: list[torch.Tensor], max_norm: float, losses: torch.Tensor, alive: torch.Tensor) -> None:
    """clip_grad_norm_ for each member (dim 0) separately; a member whose loss or gradient norm
    is non-finite is marked dead in `alive` and its gradients are zeroed (now and from then on)."""
    norms = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads]), dim=0)
    alive &= torch.isfinite(norms) & torch.isfinite(losses)
    coef = torch.where(alive, torch.clamp(max_norm / (norms + 1e-6), max=1.0), 0.0)
    for g in grads:
        shape = (-1,) + (1,) * (g.dim() - 1)
        g.mul_(coef.view(shape)).masked_fill_(~alive.view(shape), 0.0)


@functools.lru_cache(maxsize=256)
def _open(path: str, tokens: int) -> np.ndarray:
    """A token array, memory-mapped once per worker process."""
    return np.memmap(path, dtype=np.uint16, mode="r", shape=(tokens,))


def _train_array(d: DomainTokens) -> np.ndarray:
    return _open(d.train_path, d.train_tokens)


def _val_array(d: DomainTokens) -> np.ndarray:
    return _open(d.val_path, d.val_tokens)


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_runs(specs: list[dict], data: dict) -> list[dict]:
    """Train the runs of `specs` (same model and training settings) together; one result per run."""
    runs = [RunSpec(**s) for s in specs]
    if any(r.model != runs[0].model or r.train != runs[0].train for r in runs):
        raise ValueError("an ensemble trains runs of one model and training configuration")
    prepared = PreparedData.from_dict(data)
    mcfg, tcfg = Model(**runs[0].model), Train(**runs[0].train)
    device, k = _device(), len(runs)
    if device.type == "cpu":
        torch.set_num_threads(max(1, runs[0].threads))
    start = time.perf_counter()
    p = batched.stack_members(mcfg, prepared.vocab_size, [r.seed for r in runs], device)
    opt = make_optimizer(p, tcfg, device)
    arrays = {n: _train_array(d) for n, d in prepared.domains.items()}
    samplers = [MixtureSampler(arrays, r.mixture, mcfg.context, tcfg.batch_size, r.seed) for r in runs]
    tokens_per_step = tcfg.batch_size * mcfg.context
    steps = max(1, math.ceil(tcfg.tokens / tokens_per_step))
    key = (mcfg.model_dump_json(), prepared.vocab_size, tcfg.batch_size, k, str(device))
    loss_fn, fresh = compiled.loss_fn(key) if compiled.wanted(tcfg.compile, device, steps, key) else (batched.loss, False)
    windows, counts = eval_set(prepared, {n: _val_array(d) for n, d in {**prepared.domains, **prepared.eval_sets}.items()},
                               mcfg.context, tcfg.eval_tokens)
    ev = functools.partial(evaluate, heads=mcfg.heads, windows=windows, counts=counts, chunk=2 * tcfg.batch_size,
                           device=device, autocast=lambda: _autocast(device))

    def draw() -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = zip(*(s.batch() for s in samplers))
        return torch.stack(xs), torch.stack(ys)

    source = Prefetcher(draw, steps) if device.type == "cuda" else None
    grads_of = list(p.values())
    alive = torch.ones(k, dtype=torch.bool, device=device)
    failed: dict[int, str] = {}
    curves: list[list[dict]] = [[] for _ in runs]
    losses = torch.zeros(k, device=device)
    warm_s, timed_from, done_steps = 0.0, start, steps
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, tcfg)
        x, y = source.batch() if source else draw()
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with _autocast(device):
            losses = loss_fn(p, x, y, mcfg.heads)
        losses.sum().backward()
        clip_members([t.grad for t in grads_of], tcfg.grad_clip, losses.detach(), alive)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step == 0 and steps > 1:  # warm-up step (compilation, allocator): timed on its own
            _sync(device)
            timed_from = time.perf_counter()
            warm_s = timed_from - start
        if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps:
            for i, (ok, v) in enumerate(zip(alive.tolist(), losses.detach().float().tolist())):
                if not ok and i not in failed:
                    failed[i] = f"diverged: training loss {v} at step {step + 1}"
            if len(failed) == k:
                done_steps = step + 1
                break
        if tcfg.eval_every and (step + 1) % tcfg.eval_every == 0 and step + 1 < steps:
            for curve, row in zip(curves, ev(p)):
                curve.append({"step": step + 1, **row})
    train_time = time.perf_counter() - timed_from
    timed_tokens = (done_steps - (1 if steps > 1 else 0)) * tokens_per_step
    evals = ev(p) if len(failed) < k else [{} for _ in runs]
    wall = time.perf_counter() - start
    final = losses.detach().float().tolist()
    base = {"params": sum(t[0].numel() for t in p.values()), "steps": done_steps, "ensemble": k,
            "tokens": done_steps * tokens_per_step, "wall_time": wall, "host": socket.gethostname(),
            "device": str(device), "compile_s": warm_s if fresh else 0.0,
            "tokens_per_s": timed_tokens / train_time if len(failed) < k else None}
    results = []
    for i in range(k):
        bad = [n for n, v in evals[i].items() if not math.isfinite(v)]
        error = failed.get(i) or (f"non-finite validation loss on {', '.join(bad)}" if bad else None)
        results.append({**base, "status": "failed" if error else "done", "error": error,
                        "losses": {} if error else evals[i], "train_loss": final[i], "curve": curves[i]})
    return results


def train_proxy(spec: dict, data: dict) -> dict:
    """Run one proxy; NaN/inf loss ends it as status 'failed' instead of raising."""
    return train_runs([spec], data)[0]


def train_ensemble(specs: list[dict], data: dict) -> list[dict]:
    """Train several runs of one configuration as one batched model; one result per run."""
    return train_runs(specs, data)
