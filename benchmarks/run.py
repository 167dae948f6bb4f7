"""mixsearch benchmarks: one command, one table.

1. Proxy training throughput: mixsearch's train loop (sampler, schedule, divergence checks) versus a
   bare PyTorch loop of the same model on the same machine (goal: >= 0.85x of bare).
2. Ray scheduling overhead: 64 short runs through mixsearch's Ray scheduler versus the same runs
   in-process, one at a time each way, so the difference is scheduling alone (goal: < 2% of a 30 s run).

Text is real: the Python standard library's sources and its language reference (pydoc topics).

    python benchmarks/run.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import sysconfig
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from mixsearch.execute import schedule
from mixsearch.data.prepare import PreparedData, prepare
from mixsearch.proxy.model import GPT
from mixsearch.proxy.spec import RunSpec
from mixsearch.proxy.train import train_proxy
from mixsearch.recipe.schema import parse_recipe
from mixsearch.recipe.proxy import Model, Resources, Train

CPUS = os.cpu_count() or 1


def stdlib_data(root: Path, context: int) -> PreparedData:
    from pydoc_data.topics import topics

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    (root / "code").mkdir(parents=True)
    for src in sorted(stdlib.glob("*.py"))[:120]:
        shutil.copy(src, root / "code" / f"{src.name}.txt")
    (root / "docs").mkdir()
    for name, text in topics.items():
        (root / "docs" / f"{name}.txt").write_text(text)
    recipe = parse_recipe({
        "study": "bench", "domains": [{"name": n, "source": {"files": [str(root / n / "*.txt")]}} for n in ("code", "docs")],
        "data": {"cache_dir": str(root / "cache")}, "proxy": {"model": {"context": context}}}, "bench")
    return prepare(recipe)


def print_table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Print one benchmark table."""
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


def bare_loop(model_cfg: Model, train: Train, data: PreparedData, threads: int) -> float:
    """Tokens/s of the plainest loop: same model and optimizer, batches pre-sampled in memory."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = GPT(model_cfg, data.vocab_size)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": train.weight_decay},
                             {"params": [p for p in model.parameters() if p.dim() < 2], "weight_decay": 0.0}],
                            lr=train.lr, betas=(train.beta1, train.beta2))
    tokens = torch.from_numpy(data.domains["code"].train()[: 1 << 20].astype("int64"))
    steps = math.ceil(train.tokens / (train.batch_size * model_cfg.context))
    starts = torch.randint(0, len(tokens) - model_cfg.context - 1, (steps, train.batch_size))
    batches = [torch.stack([tokens[s: s + model_cfg.context + 1] for s in row]) for row in starts]
    t0 = time.perf_counter()
    for b in batches:
        loss = model(b[:, :-1], b[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps * train.batch_size * model_cfg.context / (time.perf_counter() - t0)


def throughput_rows(data: PreparedData, quick: bool) -> list[tuple[str, ...]]:
    rows = []
    configs = [("quickstart 2L d64 ctx128", Model(layers=2, width=64, heads=4, context=128), 16),
               ("RegMix-like 2L d256 ctx128", Model(layers=2, width=256, heads=8, context=128, mlp=512), 16)]
    for label, cfg, batch in configs:
        train = Train(tokens=(100_000 if quick else 400_000), batch_size=batch, eval_tokens=2048)
        spec = RunSpec("bench", {"code": 0.5, "docs": 0.5}, 0, cfg.model_dump(), train.model_dump(), threads=CPUS)
        warm = train.model_copy(update={"tokens": 20_000})
        bare_loop(cfg, warm, data, CPUS)  # warm-up: allocator, kernels, page cache
        train_proxy({**spec.to_dict(), "train": warm.model_dump()}, data.to_dict())
        bare = bare_loop(cfg, train, data, CPUS)
        ours = train_proxy(spec.to_dict(), data.to_dict())["tokens_per_s"]
        params = GPT(cfg, data.vocab_size).num_params()
        rows.append((f"train tokens/s: {label} ({params / 1e6:.2f}M params)", f"{ours:,.0f}", f"{bare:,.0f}",
                     f"{ours / bare:.2f}x", ">= 0.85x"))
    return rows


def ray_rows(data: PreparedData, quick: bool) -> list[tuple[str, ...]]:
    n = 16 if quick else 64
    cfg = Model(layers=1, width=32, heads=2, context=128)
    train = Train(tokens=16_384, batch_size=8, eval_tokens=1024)
    specs = [RunSpec(f"r{i}", {"code": i / n, "docs": 1 - i / n}, 0, cfg.model_dump(), train.model_dump(),
                     threads=CPUS) for i in range(n)]
    t0 = time.perf_counter()
    for s in specs:
        train_proxy(s.to_dict(), data.to_dict())
    inproc = time.perf_counter() - t0
    t0 = time.perf_counter()
    schedule.connect(None)
    init = time.perf_counter() - t0
    done = []
    t0 = time.perf_counter()
    schedule.execute([[s] for s in specs], data, Resources(num_cpus=CPUS), lambda s, r: done.append(r))
    ray_wall = time.perf_counter() - t0
    schedule.shutdown()
    assert len(done) == n and all(r["status"] == "done" for r in done)
    per_run = (ray_wall - inproc) / n
    return [
        (f"Ray: {n} runs, one at a time (s)", f"{ray_wall:.1f}", f"{inproc:.1f}",
         f"{inproc / n:.2f} s/run in-process", ""),
        ("Ray overhead per run (s)", f"{per_run:.3f}", "", f"{100 * per_run / 30:.2f}% of a 30 s run", "< 2%"),
        ("Ray local start (s, once per command)", f"{init:.1f}", "", "", ""),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer tokens and runs (a smoke test)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    with tempfile.TemporaryDirectory() as tmp:
        data = stdlib_data(Path(tmp), context=128)
        rows = throughput_rows(data, args.quick) + ray_rows(data, args.quick)
    print_table(f"mixsearch benchmarks — {platform.processor() or platform.machine()}, {CPUS} CPUs, "
                f"torch {torch.__version__}, device cpu",
                ("measure", "mixsearch", "bare / in-process", "ratio", "goal"), rows)


if __name__ == "__main__":
    main()
