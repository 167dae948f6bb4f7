"""Proxy throughput per device: the plain single-run loop, packed runs (several warm Ray workers
sharing the device), and ensembles of K = 4..64 proxies trained as one batched model.

RegMix's 1M proxy (2 layers, d=256, 8 heads, MLP 512) at ctx 512 and ctx 2048 with a byte
vocabulary, and at ctx 512 with a 32k vocabulary (the tied head then dominates compute). Each row
prints tokens/s (warm-up step excluded), proxy-runs/hour at a token budget per run, peak memory,
MFU and compile seconds (paid once per worker and shape, not per run). MFU counts
6 x params + 12 x layers x context x width FLOPs per token (attention's score and value matmuls
included) over the device's peak: the bf16 datasheet peak on a GPU, a measured fp32 matmul peak on
a CPU. Ensemble sizes stop at the first one that runs out of memory, with a row that says so.

    python benchmarks/proxy_throughput.py [--quick] [--compile auto|true|false] [--settings 512,2048,32k]

A CPU run always uses the --quick settings (a few steps per row, K = 4 and 8).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from mixsearch.execute import schedule
from mixsearch.data.prepare import PreparedData
from mixsearch.proxy.model import GPT
from mixsearch.proxy.sizing import auto_ensemble
from mixsearch.proxy.spec import RunSpec
from mixsearch.proxy.train import train_ensemble
from mixsearch.recipe.proxy import Model, Resources, Train

from run import print_table, stdlib_data  # noqa: E402  (benchmarks/ is the script's directory)

GPU_PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
GIB = 2**30


def device_peak() -> tuple[str, float]:
    """(device name, peak FLOP/s): datasheet bf16 for known GPUs, else a measured fp32 matmul."""
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return name, next((peak for key, peak in GPU_PEAK_BF16.items() if key in name), 989e12)
    n, reps, best = 1024, 10, float("inf")
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(5):  # the best of five: other work on the machine only slows a trial down
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, time.perf_counter() - start)
    return f"cpu, {os.cpu_count()} cores (measured fp32 matmul peak)", 2 * n**3 * reps / best


class PeakMemory:
    """Peak memory while a block runs: CUDA's allocator peak, or on a CPU the process's resident
    set (all of it: the allocator keeps freed memory, so a difference would under-count)."""

    def __enter__(self) -> "PeakMemory":
        self.peak = 0
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.running = True
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if torch.cuda.is_available():
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self.running = False
            self.thread.join()

    @staticmethod
    def _rss() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.02)


def plain_loop(model: Model, train: Train, vocab: int, steps: int) -> float:
    """Tokens/s of the plainest loop: one nanoGPT module, fused AdamW, bf16 autocast on CUDA,
    batches already on the device (first step excluded)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    gpt = GPT(model, vocab).to(device)
    opt = torch.optim.AdamW(gpt.parameters(), lr=train.lr, fused=device.type == "cuda")
    batch = torch.randint(0, vocab, (train.batch_size, model.context + 1), device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    start = 0.0
    for step in range(steps + 1):
        with autocast:
            loss = gpt(batch[:, :-1], batch[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gpt.parameters(), train.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step == 0:
            loss.item()
            start = time.perf_counter()
    loss.item()
    return steps * train.batch_size * model.context / (time.perf_counter() - start)


def specs(k: int, model: Model, train: Train, threads: int) -> list[dict]:
    mixes = [{"code": (i + 1) / (k + 1), "docs": 1 - (i + 1) / (k + 1)} for i in range(k)]
    return [RunSpec(f"r{i}", m, i, model.model_dump(), train.model_dump(), threads).to_dict()
            for i, m in enumerate(mixes)]


def member_ram(model: Model, train: Train, vocab: int) -> int:
    """Rough CPU training memory of one member: fp32 activations and logits (their grads too)."""
    acts = train.batch_size * model.context * (model.layers * (20 * model.width + 3 * model.heads * model.context)
                                               + 3 * vocab)
    return 4 * acts + 16 * GPT(model, vocab).num_params()


def setting_rows(label: str, model: Model, train: Train, data: PreparedData, sizes: list[int], steps: int,
                 packed: int, row) -> None:
    """All rows of one (context, vocabulary) setting."""
    cpus, gpu = os.cpu_count() or 1, torch.cuda.is_available()
    with PeakMemory() as mem:
        rate = plain_loop(model, train, data.vocab_size, steps)
    row(f"{label}: one run, plain loop", rate, mem.peak, 0.0)
    if packed:
        res = Resources(num_cpus=1, num_gpus=1 / packed if gpu else 0)
        group = [[RunSpec(**s)] for s in specs(packed, model, train, 1)]
        schedule.connect(None)
        schedule.execute(group, data, res, lambda s, r: None)  # start and warm the workers
        start = time.perf_counter()
        schedule.execute(group, data, res, lambda s, r: None)
        seconds = time.perf_counter() - start
        schedule.shutdown()  # the workers would hold GPU memory the ensembles below need
        row(f"{label}: packed, {packed} runs on warm workers", packed * train.tokens / seconds, None, 0.0)
    for k in sizes:
        free_ram = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        if not gpu and k * member_ram(model, train, data.vocab_size) > 0.5 * free_ram:
            row(f"{label}: ensemble K={k}: skipped, more than half the free RAM", None, None, None)
            break
        try:
            with PeakMemory() as mem:
                out = train_ensemble(specs(k, model, train, cpus), data.to_dict())[0]
        except torch.OutOfMemoryError:
            row(f"{label}: ensemble K={k}: out of memory", None, None, None)
            break
        row(f"{label}: ensemble K={k}", k * out["tokens_per_s"], mem.peak, out["compile_s"])


def auto_rows(label: str, model: Model, train: Train, data: PreparedData) -> list[tuple[str, ...]]:
    """The K that `ensemble: auto` picks at a GPU share of 1 and 1/8 (with the command's compile
    setting), and a training of that K with the process held to that share of the GPU's memory (out
    of memory there would be auto's fault)."""
    gpu, rows = torch.cuda.is_available(), []
    train = train.model_copy(update={"tokens": 10 * train.batch_size * model.context})
    for share in (1.0, 0.125):
        start = time.perf_counter()
        k = auto_ensemble(model.model_dump_json(), train.model_dump_json(), data.vocab_size, share)
        measure_s = time.perf_counter() - start
        if gpu:
            torch.cuda.set_per_process_memory_fraction(share)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        try:
            tok_s = f"{k * train_ensemble(specs(k, model, train, 1), data.to_dict())[0]['tokens_per_s']:,.0f}"
        except torch.OutOfMemoryError:
            tok_s = "out of memory"
        allowed = share * torch.cuda.get_device_properties(0).total_memory if gpu else 0
        mem = f"{torch.cuda.max_memory_allocated() / GIB:.1f} ({allowed / GIB:.1f})" if gpu else "—"
        if gpu:
            torch.cuda.set_per_process_memory_fraction(1.0)
            torch.cuda.empty_cache()
        rows.append((label, "1" if share == 1 else f"1/{round(1 / share)}", str(k), f"{measure_s:.1f}", tok_s, mem))
        print(time.strftime("%H:%M:%S"), " | ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps and ensemble sizes (always on a CPU)")
    parser.add_argument("--budget", type=float, default=1e9, help="tokens per proxy run, for runs/hour")
    parser.add_argument("--compile", choices=("auto", "true", "false"), default="true",
                        help="the ensembles' torch.compile setting (true: compile time shown apart)")
    parser.add_argument("--settings", default="512,2048,32k",
                        help="which settings to run, comma-separated: 512, 2048 (contexts), 32k (vocabulary)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    gpu = torch.cuda.is_available()
    quick = args.quick or not gpu
    steps = 6 if not gpu else (30 if quick else 100)
    sizes = [4, 8] if quick else [4, 8, 16, 32, 64]
    compile_ = {"true": True, "false": False}.get(args.compile, "auto") if gpu else False
    name, peak = device_peak()
    rows: list[tuple[str, ...]] = []
    auto: list[tuple[str, ...]] = []
    settings = [(label, context, batch, vocab) for key, label, context, batch, vocab in
                [("512", "ctx 512", 512, 64 if gpu else 4, None), ("2048", "ctx 2048", 2048, 16 if gpu else 1, None),
                 ("32k", "ctx 512, vocab 32k", 512, 64 if gpu else 2, 32768)] if key in args.settings.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        base = stdlib_data(Path(tmp), 2048)
        for label, context, batch, vocab in settings:
            data = dataclasses.replace(base, vocab_size=vocab) if vocab else base  # speed depends on the head's size
            model = Model(layers=2, width=256, heads=8, context=context, mlp=512)
            train = Train(tokens=steps * batch * context, batch_size=batch, lr=4e-4, warmup_steps=2,
                          eval_tokens=2 * context, compile=compile_)
            n_params = GPT(model, data.vocab_size).num_params()
            flops = 6 * n_params + 12 * model.layers * context * model.width

            def row(mode: str, tok_s: float | None, mem: int | None, compile_s: float | None) -> None:
                rows.append((mode, f"{n_params / 1e6:.2f}M", f"{tok_s:,.0f}" if tok_s else "—",
                             f"{tok_s * 3600 / args.budget:,.2f}" if tok_s else "—",
                             f"{mem / GIB:.2f}" if mem else "—", f"{flops * tok_s / peak:.1%}" if tok_s else "—",
                             f"{compile_s:.1f}" if compile_s is not None else "—"))
                print(time.strftime("%H:%M:%S"), " | ".join(rows[-1]), file=sys.stderr, flush=True)

            setting_rows(label, model, train, data, sizes if not vocab else sizes[:3 if gpu else 1], steps,
                         (8 if gpu else os.cpu_count() or 1) if not vocab else 0, row)
            auto += auto_rows(label, model, train, data)
    batches = "64 / 16 / 64" if gpu else "4 / 1 / 2"
    print_table(f"proxy throughput — {name}; 2L d256 8 heads MLP512; batch {batches}; "
                f"{steps} timed steps; torch {torch.__version__}",
                ("mode", "params", "tokens/s", f"runs/hour at {args.budget:.0e} tokens", "peak GiB" if gpu else "peak RSS GiB", "MFU",
                 "compile s"), rows)
    print_table(f"ensemble: auto — {name}; the K it picks per GPU share, trained within that share",
                ("setting", "GPU share", "auto K", "measuring s", "trained tokens/s", "peak GiB (allowed)"), auto)


if __name__ == "__main__":
    main()
