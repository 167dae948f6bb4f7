"""K GPTs as one batched model: every weight carries a leading member dimension.

The weights are a dict of stacked tensors named as in `GPT.named_parameters()`; member i is
exactly the GPT built under `torch.manual_seed(seeds[i])`. The forward pass runs all members at
once: a gather from the (K*vocab, d) embedding table, `torch.bmm` over the member dimension for
every projection, the MLP and the tied head, and the fused `scaled_dot_product_attention` with
members folded into the batch (K*B). Members never mix: each member's outputs depend on its
own weights and inputs only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mixsearch.proxy.model import GPT
from mixsearch.recipe.proxy import Model

Params = dict[str, torch.Tensor]


def stack_members(cfg: Model, vocab: int, seeds: list[int], device: torch.device) -> Params:
    """Stacked leaf tensors (requires_grad) of one GPT per seed, each initialised as a single run."""
    members = []
    for seed in seeds:
        torch.manual_seed(seed)
        members.append(dict(GPT(cfg, vocab).named_parameters()))
    return {name: torch.stack([m[name].detach() for m in members]).to(device).requires_grad_()
            for name in members[0]}


def _linear(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """x (K, N, in) times each member's nn.Linear weight w (K, out, in)."""
    return torch.bmm(x, w.transpose(1, 2))


def _norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Layer norm over the last dim with each member's weight and bias (K, d)."""
    return torch.addcmul(b[:, None], F.layer_norm(x, x.shape[-1:]), w[:, None])


def logits(p: Params, idx: torch.Tensor, heads: int) -> torch.Tensor:
    """(K, B, T) token ids -> (K, B*T, vocab) logits."""
    k, b, t = idx.shape
    vocab, d = p["tok.weight"].shape[1:]
    offset = torch.arange(k, device=idx.device).view(k, 1, 1) * vocab
    x = F.embedding(idx + offset, p["tok.weight"].reshape(k * vocab, d)) + p["pos.weight"][:, None, :t]
    x = x.reshape(k, b * t, d)
    layer = 0
    while f"blocks.{layer}.ln1.weight" in p:
        w = {n[len(f"blocks.{layer}."):]: v for n, v in p.items() if n.startswith(f"blocks.{layer}.")}
        qkv = _linear(_norm(x, w["ln1.weight"], w["ln1.bias"]), w["attn.qkv.weight"])
        q, kk, v = qkv.view(k * b, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, kk, v, is_causal=True).transpose(1, 2).reshape(k, b * t, d)
        x = x + _linear(y, w["attn.out.weight"])
        h = F.gelu(_linear(_norm(x, w["ln2.weight"], w["ln2.bias"]), w["mlp.0.weight"]))
        x = x + _linear(h, w["mlp.2.weight"])
        layer += 1
    return _linear(_norm(x, p["ln.weight"], p["ln.bias"]), p["tok.weight"])


def seq_losses(p: Params, idx: torch.Tensor, targets: torch.Tensor, heads: int) -> torch.Tensor:
    """Mean cross-entropy of each member's each sequence: (K, B, T) -> (K, B), in fp32."""
    out = logits(p, idx, heads)
    ce = F.cross_entropy(out.float().flatten(0, 1), targets.reshape(-1), reduction="none")
    return ce.view(targets.shape).mean(-1)


def loss(p: Params, idx: torch.Tensor, targets: torch.Tensor, heads: int) -> torch.Tensor:
    """Each member's mean training loss: (K,)."""
    return seq_losses(p, idx, targets, heads).mean(-1)
