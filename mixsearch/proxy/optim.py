"""The optimizer over stacked member weights: AdamW, per-member clipping, one training step of every
member, dropping failed members."""

from __future__ import annotations

from collections.abc import Callable

import torch

from mixsearch.proxy.batched import Params
from mixsearch.proxy.device import autocast
from mixsearch.recipe.proxy import Train


def make_optimizer(p: Params, cfg: Train, device: torch.device) -> torch.optim.AdamW:
    """One AdamW over the stacked weights (elementwise, so K independent AdamWs); weight decay on
    (stacked) matrices only; the fused kernel on CUDA, the multi-tensor one elsewhere."""
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


def train_step(p: Params, opt: torch.optim.AdamW, loss: Callable[..., torch.Tensor], x: torch.Tensor,
               y: torch.Tensor, heads: int, grad_clip: float, alive: torch.Tensor) -> torch.Tensor:
    """One step of every member: its loss (bf16 autocast on CUDA), backward, per-member clipping
    (`alive` marks the members that diverge), AdamW; returns the members' losses (K,)."""
    with autocast(x.device):
        losses = loss(p, x, y, heads)
    losses.sum().backward()
    clip_members([t.grad for t in p.values()], grad_clip, losses.detach(), alive)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return losses


def keep_members(p: Params, opt: torch.optim.AdamW, keep: list[int], cfg: Train,
                 device: torch.device) -> tuple[Params, torch.optim.AdamW]:
    """The weights and optimizer of members `keep` only (by position): the others leave the
    ensemble, so they get no further update and cost no more compute."""
    idx = torch.tensor(keep, device=device)
    kept = {n: t.detach()[idx].clone().requires_grad_() for n, t in p.items()}
    new_opt = make_optimizer(kept, cfg, device)
    for old, new in zip(p.values(), kept.values()):
        if old in opt.state:
            new_opt.state[new] = {k: v[idx].clone() if v.dim() else v.clone() for k, v in opt.state[old].items()}
    return kept, new_opt
