"""Proxy throughput per device: one run at a time (the plain loop), packed runs (several Ray
tasks sharing the device), and ensembles of K = 4/8/16/32 proxies trained as one batched model.

Prints tokens/s, proxy-runs/hour at a given token budget per run, and model FLOPs utilisation
(6 · params · tokens/s over the device's peak: the bf16 datasheet peak on a GPU, a measured fp32
matmul peak on a CPU).

    python benchmarks/proxy_throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from mixsearch import schedule
from mixsearch.proxy.ensemble import train_ensemble
from mixsearch.proxy.model import GPT
from mixsearch.proxy.train import RunSpec, train_proxy
from mixsearch.recipe import Model, Resources, Train

from run import print_table, stdlib_data  # noqa: E402  (benchmarks/ is the script's directory)

GPU_PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def device_peak() -> tuple[str, float]:
    """(device name, peak FLOP/s): datasheet bf16 for known GPUs, else a measured fp32 matmul."""
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        for key, peak in GPU_PEAK_BF16.items():
            if key in name:
                return name, peak
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start, reps = time.perf_counter(), 20
    for _ in range(reps):
        a @ b
    return "cpu (measured fp32 matmul peak)", 2 * n**3 * reps / (time.perf_counter() - start)


def specs(k: int, model: Model, train: Train, threads: int) -> list[dict]:
    mixes = [{"code": (i + 1) / (k + 1), "docs": 1 - (i + 1) / (k + 1)} for i in range(k)]
    return [RunSpec(f"r{i}", m, i, model.model_dump(), train.model_dump(), threads).to_dict()
            for i, m in enumerate(mixes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer tokens and ensemble sizes")
    parser.add_argument("--budget", type=float, default=1e9, help="tokens per proxy run, for runs/hour")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    gpu = torch.cuda.is_available()
    cpus = os.cpu_count() or 1
    context = 2048 if gpu else 256
    model = Model(layers=2, width=256, heads=8, context=context, mlp=512)  # RegMix's 1M proxy (non-embedding)
    tokens = (2_000_000 if gpu else 40_000) // (4 if args.quick else 1)
    batch = 16 if gpu else 4
    train = Train(tokens=tokens, batch_size=batch, lr=4e-4, warmup_steps=10, eval_tokens=context * 2)
    sizes = [4, 8] if args.quick else [4, 8, 16, 32]
    name, peak = device_peak()
    with tempfile.TemporaryDirectory() as tmp:
        data = stdlib_data(Path(tmp), context)
        n_params = GPT(model, data.vocab_size).num_params()
        rows = []

        def row(label: str, tok_s: float) -> None:
            rows.append((label, f"{tok_s:,.0f}", f"{tok_s * 3600 / args.budget:,.2f}",
                         f"{6 * n_params * tok_s / peak:.2%}"))

        train_proxy(specs(1, model, train.model_copy(update={"tokens": batch * context * 5}), cpus)[0], data.to_dict())
        single = train_proxy(specs(1, model, train, cpus)[0], data.to_dict())["tokens_per_s"]
        row("one run at a time (plain loop)", single)

        packed_n = 8 if gpu else cpus
        res = Resources(num_cpus=1 if not gpu else 1, num_gpus=1 / packed_n if gpu else 0)
        schedule.connect(None)
        group = [[RunSpec(**s)] for s in specs(packed_n, model, train, 1)]
        warm = [[RunSpec(**s)] for s in specs(packed_n, model, train.model_copy(update={"tokens": batch * context}), 1)]
        schedule.execute(warm, data, res, lambda s, r: None)  # start the workers
        start = time.perf_counter()
        schedule.execute(group, data, res, lambda s, r: None, num_gpus=res.num_gpus)
        row(f"packed: {packed_n} runs sharing the device", packed_n * tokens / (time.perf_counter() - start))
        schedule.shutdown()

        for k in sizes:
            out = train_ensemble(specs(k, model, train, cpus), data.to_dict())
            row(f"ensemble K={k}", k * out[0]["tokens_per_s"])
    print_table(f"proxy throughput — {name}; model 2L d256 8 heads MLP512 ctx{context} "
                f"({n_params / 1e6:.2f}M params), batch {batch}, torch {torch.__version__}",
                ("mode", "tokens/s", f"proxy-runs/hour at {args.budget:.0e} tokens", "MFU"), rows)


if __name__ == "__main__":
    main()
