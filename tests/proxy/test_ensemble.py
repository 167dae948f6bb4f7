"""Ensemble training: K proxies in one batched model equal K separate runs; failures stay local;
compiled steps are reused; `ensemble: auto` never picks more than fits."""

from __future__ import annotations

import pytest
import torch

from mixsearch.data.prepare import prepare
from mixsearch.proxy import batched, compiled, sizing
from mixsearch.proxy.model import GPT
from mixsearch.proxy.optim import clip_members, keep_members, make_optimizer
from mixsearch.proxy.spec import RunSpec
from mixsearch.proxy.train import train_ensemble, train_proxy
from mixsearch.recipe.schema import parse_recipe
from mixsearch.recipe.proxy import Model, Train

MIXES = [{"code": 0.6, "docs": 0.3, "news": 0.1}, {"code": 0.1, "docs": 0.8, "news": 0.1},
         {"code": 0.3, "docs": 0.3, "news": 0.4}]


@pytest.fixture
def tiny(recipe_dict):
    recipe = parse_recipe(recipe_dict, "t.yaml")
    return recipe, prepare(recipe)


def _specs(recipe, seeds=(0, 1, 2), **train) -> list[dict]:
    t = recipe.proxy.train.model_copy(update={"tokens": 8192, **train})
    return [RunSpec(f"r{i}", m, s, recipe.proxy.model.model_dump(), t.model_dump(), threads=1).to_dict()
            for i, (m, s) in enumerate(zip(MIXES, seeds))]


def test_batched_model_is_the_gpt_of_each_seed():
    cfg = Model(layers=2, width=32, heads=2, context=16)
    p = batched.stack_members(cfg, 50, [3, 7], torch.device("cpu"))
    idx, tgt = torch.randint(0, 50, (2, 4, 16)), torch.randint(0, 50, (2, 4, 16))
    out = batched.logits(p, idx, cfg.heads).view(2, 4, 16, 50)
    batched.loss(p, idx, tgt, cfg.heads).sum().backward()
    for i, seed in enumerate([3, 7]):
        torch.manual_seed(seed)
        gpt = GPT(cfg, 50)
        assert torch.allclose(gpt(idx[i]), out[i], atol=1e-5)
        gpt(idx[i], tgt[i]).backward()
        for name, param in gpt.named_parameters():
            assert torch.allclose(param.grad, p[name].grad[i], atol=1e-5), name


def test_ensemble_equals_separate_runs(tiny):
    recipe, data = tiny
    specs = _specs(recipe)
    together = train_ensemble(specs, data.to_dict())
    for spec, ens in zip(specs, together):
        alone = train_proxy(spec, data.to_dict())
        assert ens["status"] == alone["status"] == "done"
        assert ens["tokens"] == alone["tokens"] and ens["params"] == alone["params"] and ens["ensemble"] == 3
        assert ens["train_loss"] == pytest.approx(alone["train_loss"], rel=1e-4)
        for name, loss in alone["losses"].items():
            assert ens["losses"][name] == pytest.approx(loss, rel=1e-4)  # batched kernels reorder float sums
        assert ens["compile_s"] == 0.0 and ens["tokens_per_s"] > 0
    # different mixtures really were trained differently
    assert together[0]["losses"]["code"] < together[1]["losses"]["code"]


def test_members_must_share_one_configuration(tiny):
    recipe, data = tiny
    specs = _specs(recipe)
    specs[1] = {**specs[1], "train": {**specs[1]["train"], "lr": 0.5}}
    with pytest.raises(ValueError, match="one model and training configuration"):
        train_ensemble(specs, data.to_dict())


def test_nan_in_one_member_leaves_the_others(tiny, monkeypatch):
    recipe, data = tiny
    specs = _specs(recipe)
    reference = train_ensemble(specs, data.to_dict())
    real_stack = batched.stack_members

    def poisoned(*args):  # NaN in member 1's embedding only
        p = real_stack(*args)
        with torch.no_grad():
            p["tok.weight"][1].fill_(float("nan"))
        return p

    monkeypatch.setattr(batched, "stack_members", poisoned)
    out = train_ensemble(specs, data.to_dict())
    assert out[1]["status"] == "failed" and "diverged" in out[1]["error"] and out[1]["losses"] == {}
    for i in (0, 2):
        assert out[i]["status"] == "done"
        assert out[i]["losses"] == pytest.approx(reference[i]["losses"], rel=1e-6)


def test_clipping_is_per_member_and_non_finite_members_get_no_update():
    torch.manual_seed(0)
    grads = [torch.randn(3, 4, 5), torch.randn(3, 5)]
    grads[0][2, 0, 0] = float("inf")
    expected = []  # members 0 and 1 as single runs' parameters, clipped by torch
    for i in (0, 1):
        params = [torch.nn.Parameter(torch.zeros_like(g[i])) for g in grads]
        for param, g in zip(params, grads):
            param.grad = g[i].clone()
        torch.nn.utils.clip_grad_norm_(params, 0.5)
        expected.append([param.grad for param in params])
    alive = torch.ones(3, dtype=torch.bool)
    clip_members(grads, 0.5, torch.tensor([1.0, 2.0, 3.0]), alive)
    for i, member in enumerate(expected):
        for got, want in zip(grads, member):
            assert torch.allclose(got[i], want, atol=1e-6)
    assert alive.tolist() == [True, True, False]
    assert all((g[2] == 0).all() for g in grads)
    clip_members(grads, 0.5, torch.tensor([1.0, float("nan"), 3.0]), alive)  # a NaN loss kills member 1
    assert alive.tolist() == [True, False, False] and all((g[1] == 0).all() for g in grads)


def test_compiled_step_is_reused_by_the_next_run_of_the_same_shape(tiny, monkeypatch):
    recipe, data = tiny
    graphs = []

    def counting_backend(gm, example_inputs):  # records each compilation, runs the graph eagerly
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    monkeypatch.setattr(compiled, "BACKEND", counting_backend)
    monkeypatch.setattr(compiled, "_CACHE", {})
    specs = _specs(recipe, tokens=2048, compile=True)
    first = train_ensemble(specs, data.to_dict())
    assert len(graphs) >= 1 and first[0]["compile_s"] > 0
    n = len(graphs)
    second = train_ensemble(_specs(recipe, seeds=(5, 6, 7), tokens=2048, compile=True), data.to_dict())
    assert len(graphs) == n and second[0]["compile_s"] == 0.0  # same shape: no new compilation
    assert all(r["status"] == "done" for r in first + second)
    eager = train_ensemble(_specs(recipe, tokens=2048), data.to_dict())
    for a, b in zip(first, eager):
        assert a["losses"] == pytest.approx(b["losses"], rel=1e-4)
    train_proxy(_specs(recipe, tokens=2048, compile=True)[0], data.to_dict())  # K=1: a new shape
    assert len(graphs) > n
    torch._dynamo.reset()



def test_auto_measures_the_compiled_step_that_its_runs_then_reuse(tiny, monkeypatch):
    recipe, data = tiny
    graphs = []

    def counting_backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    monkeypatch.setattr(compiled, "BACKEND", counting_backend)
    monkeypatch.setattr(compiled, "_CACHE", {})
    spec = _specs(recipe, tokens=2048, compile=True)[0]
    model, train = Model(**spec["model"]), Train(**spec["train"])
    threads = torch.get_num_threads()
    torch.set_num_threads(spec["threads"])  # as the runs set it on a CPU (a compiled graph's guard)
    assert sizing.step_rate(model, train, data.vocab_size, torch.device("cpu"))(3) > 0
    assert graphs  # K=3 was timed with the compiled step, as its runs will train
    n = len(graphs)
    runs = train_ensemble(_specs(recipe, tokens=2048, compile=True), data.to_dict())
    assert len(graphs) == n and runs[0]["compile_s"] == 0.0  # and the runs reuse what measuring compiled
    eager = sizing.step_rate(model, train.model_copy(update={"compile": False}), data.vocab_size, torch.device("cpu"))
    assert eager(3) > 0 and len(graphs) == n
    torch.set_num_threads(threads)
    torch._dynamo.reset()


def test_compile_auto_only_on_cuda_for_long_runs():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not compiled.wanted("auto", cpu, 10**6, "k")
    assert not compiled.wanted("auto", cuda, compiled.COMPILE_MIN_STEPS - 1, "k")
    assert compiled.wanted("auto", cuda, compiled.COMPILE_MIN_STEPS, "k")
    assert compiled.wanted(True, cpu, 1, "k") and not compiled.wanted(False, cuda, 10**6, "k")


def test_ensemble_size_from_measured_memory_and_throughput():
    gib = 2**30
    # K=1 takes 3 GiB, K=2 takes 4 GiB: 1 GiB per member, 2 GiB shared; 80% of 80 GiB holds 62
    assert sizing.fits(3 * gib, 4 * gib, 80 * gib) == 62
    assert sizing.fits(3 * gib, 4 * gib, 80 * gib, cap=32) == 32
    assert sizing.fits(3 * gib, 4 * gib, 3 * gib) == 1  # nothing fits beyond one: still one
    saturating = {1: 1.0, 2: 1.9, 4: 3.5, 8: 5.0, 16: 5.2, 32: 5.3}
    assert sizing.grow(62, saturating.get) == 8  # 16 gains < 10% over 8
    assert sizing.grow(4, saturating.get) == 4  # memory caps it
    assert sizing.grow(62, {1: 1.0, 2: 1.9, 4: None}.get) == 2  # out of memory while measuring


def test_auto_is_one_on_cpu():
    model, train = Model(layers=1, width=32, heads=2, context=32), Train(batch_size=4)
    assert sizing.auto_ensemble(model.model_dump_json(), train.model_dump_json(), 257, 0.0) == 1


def test_a_dropped_member_takes_nothing_from_the_others():
    cfg, train, cpu = Model(layers=1, width=16, heads=2, context=8), Train(lr=0.1), torch.device("cpu")
    p = batched.stack_members(cfg, 20, [0, 1, 2], cpu)
    opt = make_optimizer(p, train, cpu)
    idx = torch.randint(0, 20, (3, 2, 8))

    def step(p, opt, members):
        batched.loss(p, idx[members], idx[members], cfg.heads).sum().backward()
        opt.step()
        opt.zero_grad()

    step(p, opt, [0, 1, 2])
    kept, kept_opt = keep_members(p, opt, [0, 2], train, cpu)
    step(p, opt, [0, 1, 2])
    step(kept, kept_opt, [0, 2])  # the same second step for members 0 and 2, without member 1
    for name in p:
        assert torch.allclose(kept[name], p[name][[0, 2]], atol=1e-6), name
