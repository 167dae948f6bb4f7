"""Train one proxy model on a mixture for a fixed token budget; report per-domain validation loss."""

from __future__ import annotations

import math
import socket
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch

from mixsearch.data.prepare import PreparedData
from mixsearch.data.sampler import MixtureSampler, Prefetcher, eval_windows
from mixsearch.proxy.model import GPT
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
    fidelity: str = "target"
    trainer: dict | None = None  # an external command trainer's settings (proxy/command.py); None: built-in

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


def make_optimizer(model: torch.nn.Module, cfg: Train, device: torch.device) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices only; the fused kernel on CUDA."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                             fused=device.type == "cuda")


@torch.no_grad()
def evaluate(model: GPT, data: PreparedData, cfg: Train, device: torch.device) -> dict[str, float]:
    """Mean validation loss on fixed windows of every domain and eval set."""
    model.eval()
    out = {}
    for name, dt in {**data.domains, **data.eval_sets}.items():
        windows = eval_windows(dt.val(), model.cfg.context, cfg.eval_tokens)
        total = 0.0
        for chunk in windows.split(64):
            chunk = chunk.to(device)
            with _autocast(device):
                total += model(chunk[:, :-1], chunk[:, 1:]).item() * len(chunk)
        out[name] = total / len(windows)
    model.train()
    return out


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_proxy(spec: dict, data: dict) -> dict:
    """Run one proxy; NaN/inf loss ends it as status 'failed' instead of raising."""
    run = RunSpec(**spec)
    prepared = PreparedData.from_dict(data)
    mcfg, tcfg = Model(**run.model), Train(**run.train)
    device = _device()
    if device.type == "cpu":
        torch.set_num_threads(max(1, run.threads))
    torch.manual_seed(run.seed)
    start = time.perf_counter()
    model = GPT(mcfg, prepared.vocab_size).to(device)
    opt = make_optimizer(model, tcfg, device)
    sampler = MixtureSampler({n: d.train() for n, d in prepared.domains.items()}, run.mixture,
                             mcfg.context, tcfg.batch_size, run.seed)
    tokens_per_step = tcfg.batch_size * mcfg.context
    steps = max(1, math.ceil(tcfg.tokens / tokens_per_step))
    if device.type == "cuda":
        sampler = Prefetcher(sampler.batch, steps)
        if tcfg.compile:
            model = torch.compile(model)
    result = {"params": sum(p.numel() for p in model.parameters()), "steps": steps, "host": socket.gethostname(),
              "device": str(device), "error": None, "curve": []}
    last = torch.zeros((), device=device)
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, tcfg)
        x, y = sampler.batch()
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with _autocast(device):
            loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        last = loss.detach()
        if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps:
            if not math.isfinite(last.item()):
                return {**result, "status": "failed", "losses": {}, "tokens": (step + 1) * tokens_per_step,
                        "wall_time": time.perf_counter() - start, "tokens_per_s": None,
                        "error": f"diverged: training loss {last.item()} at step {step + 1}"}
        if tcfg.eval_every and (step + 1) % tcfg.eval_every == 0 and step + 1 < steps:
            result["curve"].append({"step": step + 1, **evaluate(model, prepared, tcfg, device)})
    train_time = time.perf_counter() - start
    losses = evaluate(model, prepared, tcfg, device)
    bad = [n for n, v in losses.items() if not math.isfinite(v)]
    status, error = ("failed", f"non-finite validation loss on {', '.join(bad)}") if bad else ("done", None)
    return {**result, "status": status, "losses": losses, "error": error,
            "tokens": steps * tokens_per_step, "train_loss": float(last.item()),
            "wall_time": time.perf_counter() - start, "tokens_per_s": steps * tokens_per_step / train_time}
