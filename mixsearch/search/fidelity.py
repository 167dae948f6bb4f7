"""The fidelities a study trains at: model and budget, parameter count and relative cost."""

from __future__ import annotations

from dataclasses import dataclass

from mixsearch.recipe.proxy import Model, Train


def model_params(model: Model, vocab_size: int) -> int:
    """GPT(model, vocab_size).num_params() without building it: tied token embedding and head,
    position embedding, per block two LayerNorms, bias-free qkv/out projections and MLP, a final
    LayerNorm."""
    w, hidden = model.width, model.mlp or 4 * model.width
    block = 2 * 2 * w + 4 * w * w + 2 * w * hidden
    return vocab_size * w + model.context * w + model.layers * block + 2 * w


@dataclass(frozen=True)
class FidelityConfig:
    """One fidelity of the plan: what a run at it trains, and its cost relative to the target."""

    name: str
    model: Model
    train: Train
    params: int
    value: float  # cost / target cost, in (0, 1]; the target is 1
