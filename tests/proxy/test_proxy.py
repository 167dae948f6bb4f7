"""Proxy training on real text: it learns, it is deterministic, divergence is a failed run."""

from __future__ import annotations

import pytest
import torch

from mixsearch.data.prepare import prepare
from mixsearch.proxy.batched import stack_members
from mixsearch.proxy.evaluate import eval_set, evaluate
from mixsearch.proxy.model import GPT
from mixsearch.proxy.spec import RunSpec
from mixsearch.proxy.train import lr_at, train_proxy
from mixsearch.recipe.schema import parse_recipe
from mixsearch.recipe.proxy import Model, Train


@pytest.fixture
def tiny(recipe_dict):
    recipe = parse_recipe(recipe_dict, "t.yaml")
    return recipe, prepare(recipe)


def _spec(recipe, mixture, **train) -> dict:
    t = recipe.proxy.train.model_copy(update=train)
    return RunSpec("r", mixture, 0, recipe.proxy.model.model_dump(), t.model_dump(), threads=1).to_dict()


def test_training_lowers_validation_loss(tiny):
    recipe, data = tiny
    cfg, cpu = recipe.proxy.model, torch.device("cpu")
    arrays = {n: d.val() for n, d in {**data.domains, **data.eval_sets}.items()}
    evals = eval_set(data, arrays, cfg.context, recipe.proxy.train)
    untrained = evaluate(stack_members(cfg, data.vocab_size, [0], cpu), cfg.heads, evals, 8, cpu, torch.no_grad)[0]
    result = train_proxy(_spec(recipe, {"code": 0.4, "docs": 0.4, "news": 0.2}, tokens=40_000), data.to_dict())
    assert result["status"] == "done", result["error"]
    for name in ("code", "docs", "news"):
        assert result["losses"][name] < untrained[name] - 1.5  # ln(257)=5.55 → well below
    assert result["tokens"] >= 40_000 and result["tokens_per_s"] > 0 and result["params"] > 0


def test_mixture_shapes_domain_losses(tiny):
    recipe, data = tiny
    code_only = train_proxy(_spec(recipe, {"code": 1.0, "docs": 0.0, "news": 0.0}, tokens=30_000), data.to_dict())
    docs_only = train_proxy(_spec(recipe, {"code": 0.0, "docs": 1.0, "news": 0.0}, tokens=30_000), data.to_dict())
    assert code_only["losses"]["code"] < docs_only["losses"]["code"]
    assert docs_only["losses"]["docs"] < code_only["losses"]["docs"]


def test_same_seed_same_result(tiny):
    recipe, data = tiny
    spec = _spec(recipe, {"code": 0.5, "docs": 0.3, "news": 0.2}, eval_every=4)
    a, b = train_proxy(spec, data.to_dict()), train_proxy(spec, data.to_dict())
    assert a["losses"] == b["losses"] and a["curve"] == b["curve"] and len(a["curve"]) >= 1


def test_divergence_is_recorded_as_failed(tiny):
    recipe, data = tiny
    result = train_proxy(_spec(recipe, {"code": 1.0, "docs": 0.0, "news": 0.0}, lr=1e30, grad_clip=1e30),
                         data.to_dict())
    assert result["status"] == "failed" and "diverged" in result["error"]


def test_lr_schedule():
    cfg = Train(lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, 100, cfg) == pytest.approx(0.1)
    assert lr_at(9, 100, cfg) == pytest.approx(1.0)
    assert lr_at(99, 100, cfg) == pytest.approx(0.1, abs=1e-3)
    assert lr_at(50, 100, Train(lr=1.0, warmup_steps=10, schedule="constant")) == 1.0


def test_param_count_matches_architecture():
    cfg = Model(layers=2, width=32, heads=2, context=16)
    n = GPT(cfg, 257).num_params()
    per_block = 2 * 2 * 32 + 4 * 32 * 32 + 2 * 32 * 128
    assert n == 257 * 32 + 16 * 32 + 2 * per_block + 2 * 32
