"""Train K proxies with different mixtures in one process as one batched model.

The K models' weights are stacked (torch.func.stack_module_state) and one forward/backward runs
them all with vmap, so K tiny proxies fill a device that one would leave idle. Each member keeps
its own data stream, initialisation, gradient clipping and optimizer state (AdamW is elementwise,
so one AdamW over stacked weights is K independent AdamWs), and its own result row: a member
whose loss goes NaN/inf is reported failed while the others carry on. With the same seeds, the
results equal K separate `train_proxy` runs up to floating-point reordering.
"""

from __future__ import annotations

import copy
import math
import os
import socket
import time

import torch
from torch.func import functional_call, stack_module_state, vmap

from mixsearch.data.prepare import PreparedData
from mixsearch.data.sampler import MixtureSampler, Prefetcher, eval_windows
from mixsearch.proxy.model import GPT, Attention
from mixsearch.proxy.train import CHECK_EVERY, RunSpec, _autocast, _device, lr_at
from mixsearch.recipe import Model, Train

BYTES_PER_PARAM = 16  # fp32 weight + grad + two AdamW moments


def member_bytes(model: Model, train: Train, vocab: int, params: int) -> int:
    """Rough training memory of one member: optimizer state plus fp32 activations."""
    acts = train.batch_size * model.context * (model.layers * (16 * model.width + 2 * model.heads * model.context)
                                               + 2 * vocab)
    return params * BYTES_PER_PARAM + 4 * acts


def auto_size(model: Model, train: Train, vocab: int, params: int, free_bytes: int, cap: int = 32) -> int:
    """The largest K (at most cap) whose members fit in half of free_bytes."""
    return max(1, min(cap, int(0.5 * free_bytes // member_bytes(model, train, vocab, params))))


def free_memory() -> int:
    """Free bytes where runs train: the GPU's if there is one, else the host's available memory."""
    if torch.cuda.is_available():
        return int(torch.cuda.mem_get_info()[0])
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def _clip_per_member(grads: list[torch.Tensor], max_norm: float) -> None:
    """torch.nn.utils.clip_grad_norm_ for each member (dim 0) separately."""
    norms = torch.sqrt(sum(g.pow(2).reshape(g.shape[0], -1).sum(1) for g in grads))
    coef = torch.clamp(max_norm / (norms + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))


@torch.no_grad()
def _evaluate(loss_fn, params, buffers, data: PreparedData, cfg: Train, context: int, device) -> list[dict]:
    k = next(iter(params.values())).shape[0]
    out: list[dict] = [{} for _ in range(k)]
    batched = vmap(loss_fn, in_dims=(0, 0, None, None))
    for name, dt in {**data.domains, **data.eval_sets}.items():
        windows = eval_windows(dt.val(), context, cfg.eval_tokens)
        total = torch.zeros(k, device=device)
        for chunk in windows.split(64):
            chunk = chunk.to(device)
            with _autocast(device):
                total += batched(params, buffers, chunk[:, :-1], chunk[:, 1:]).float() * len(chunk)
        for i, v in enumerate((total / len(windows)).tolist()):
            out[i][name] = v
    return out


def train_ensemble(specs: list[dict], data: dict) -> list[dict]:
    """Train the runs of `specs` (same model and training settings) together; one result per run."""
    runs = [RunSpec(**s) for s in specs]
    if any(r.model != runs[0].model or r.train != runs[0].train for r in runs):
        raise ValueError("an ensemble trains runs of one model and training configuration")
    prepared = PreparedData.from_dict(data)
    mcfg, tcfg = Model(**runs[0].model), Train(**runs[0].train)
    device = _device()
    if device.type == "cpu":
        torch.set_num_threads(max(1, runs[0].threads))
    start = time.perf_counter()
    models = []
    for r in runs:  # the same initialisation as a single run with this seed
        torch.manual_seed(r.seed)
        models.append(GPT(mcfg, prepared.vocab_size).to(device))
    n_params = models[0].num_params()
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0])  # the architecture functional_call runs with the stacked weights
    for module in base.modules():
        if isinstance(module, Attention):
            module.fused = False
    del models

    def loss_fn(p, b, x, y):
        return functional_call(base, (p, b), (x, y))

    batched = vmap(loss_fn)
    plist = list(params.values())
    groups = [{"params": [p for p in plist if p.dim() >= 3], "weight_decay": tcfg.weight_decay},
              {"params": [p for p in plist if p.dim() < 3], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=tcfg.lr, betas=(tcfg.beta1, tcfg.beta2), fused=device.type == "cuda")
    arrays = {n: d.train() for n, d in prepared.domains.items()}
    samplers = [MixtureSampler(arrays, r.mixture, mcfg.context, tcfg.batch_size, r.seed) for r in runs]
    tokens_per_step = tcfg.batch_size * mcfg.context
    steps = max(1, math.ceil(tcfg.tokens / tokens_per_step))

    def draw() -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = zip(*(s.batch() for s in samplers))
        return torch.stack(xs), torch.stack(ys)

    source = Prefetcher(draw, steps) if device.type == "cuda" else None
    failed: dict[int, str] = {}
    losses = torch.zeros(len(runs), device=device)
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, tcfg)
        x, y = source.batch() if source else draw()
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with _autocast(device):
            losses = batched(params, buffers, x, y)
        losses.sum().backward()
        _clip_per_member([p.grad for p in plist], tcfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps:
            for i, v in enumerate(losses.detach().float().tolist()):
                if i not in failed and not math.isfinite(v):
                    failed[i] = f"diverged: training loss {v} at step {step + 1}"
    train_time = time.perf_counter() - start
    evals = _evaluate(loss_fn, params, buffers, prepared, tcfg, mcfg.context, device)
    wall = time.perf_counter() - start
    final = losses.detach().float().tolist()
    results = []
    for i, r in enumerate(runs):
        bad = [n for n, v in evals[i].items() if not math.isfinite(v)]
        error = failed.get(i) or (f"non-finite validation loss on {', '.join(bad)}" if bad else None)
        results.append({
            "status": "failed" if error else "done", "error": error, "losses": {} if error else evals[i],
            "params": n_params, "steps": steps, "tokens": steps * tokens_per_step, "train_loss": final[i],
            "wall_time": wall, "ensemble": len(runs), "tokens_per_s": steps * tokens_per_step / train_time,
            "host": socket.gethostname(), "device": str(device), "curve": [],
        })
    return results
