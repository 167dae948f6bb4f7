"""Surrogate and proposal benchmarks: one command, two tables.

1. fit + propose a batch of 8 on 512 runs x 17 domains (synthetic mixing law with interactions,
   one held-out target loss), per surrogate/proposer (goals: <= 10 s regression, <= 60 s GP/MF-GP).
2. predict on 10^6 candidates per surrogate, in bounded memory.
3. Replay on the synthetic multi-fidelity benchmark: cost to get within 1% of the pool optimum,
   median over seeds (goal: MF-BO <= 1/5 of random Dirichlet search).

4. With --replay-scale: every strategy x 5 seeds on a 460 x 19 x 3 pool shaped like a real one
   (weak family, every mixture at the target, each cheap fidelity present for half of them, a
   higher-is-better score), wall time per strategy (goal: all of it <= 10 minutes on 2 cores).

    python benchmarks/surrogates.py [--seeds 20] [--quick] [--scale] [--replay-scale] [POOL_FILE ...]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch
from mixsearch.mixtures import Space, sample
from mixsearch.propose import FidelityLevel, ProposalContext, propose
from mixsearch.recipe_search import Sampling, Search
from mixsearch.replay import Pool, pool_from_runs, replay, summarize, synthetic_pool
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.cv import spearman
from mixsearch.synthetic import MixingLaw, MultiFidelityBenchmark
from run import print_table  # noqa: E402  (benchmarks/ is the script's directory)

CASES = [  # (surrogate, proposer, goal seconds)
    ("linear", "regmix", 10), ("loglinear", "regmix", 10), ("lightgbm", "regmix", 10),
    ("mixing_law", "regmix", 10), ("mixing_law", "optimize", 10), ("bimix", "regmix", 10),
    ("gp", "bo", 60), ("mfgp", "mfbo", 60),
]


def fit_propose_rows(n_runs: int, d: int) -> list[tuple[str, ...]]:
    space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
    bench = MultiFidelityBenchmark.random(d, seed=0)
    X = sample(space, n_runs, Sampling(method="dirichlet"), np.random.default_rng(0))
    single = TrainSet(X, bench(X, 1.0, noise=0.003))
    fid = np.random.default_rng(1).choice(bench.fidelities, size=n_runs, p=[0.6, 0.3, 0.1])
    multi = TrainSet(X, bench(X, fid, noise=0.003), fid)
    levels = [FidelityLevel(f"f{i}", v) for i, v in enumerate(bench.fidelities)]
    rows = []
    for name, method, goal in CASES:
        data = multi if name in ("mfgp", "bimix") else single
        start = time.perf_counter()
        model = make_surrogate(name, 0).fit(data)
        fitted = time.perf_counter() - start
        ctx = ProposalContext(model, space, data, levels, Search(), 0, X, data.fidelities)
        prop = propose(ctx, 8, method)
        total = time.perf_counter() - start
        true = bench(prop.W, 1.0).min()
        rows.append((f"{name} + {method}", f"{len(data)} x {d}", f"{fitted:.1f}", f"{total:.1f}", f"<= {goal} s",
                     "yes" if total <= goal else "NO", f"{true - bench(X, 1.0).min():+.4f}"))
    return rows


def predict_rows(n_cands: int = 1_000_000, d: int = 17) -> list[tuple[str, ...]]:
    """Every surrogate fitted on 64 runs predicts n_cands candidates (bounded memory: chunked)."""
    import resource

    bench = MultiFidelityBenchmark.random(d, seed=0)
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.full(d, 0.3), size=64)
    fid = np.tile([0.1, 1.0], 32)
    data = TrainSet(X, bench(X, fid, noise=0.003), fid)
    cands = rng.dirichlet(np.full(d, 0.3), size=n_cands)
    rows = []
    for name in sorted({n for n, _, _ in CASES}):
        model = make_surrogate(name, 0).fit(data)
        start = time.perf_counter()
        pred = model.predict(cands)
        std = model.predict_std(cands)
        rows.append((name, f"{n_cands:,}", f"{time.perf_counter() - start:.1f}", "yes" if std is not None else "-",
                     "yes" if np.isfinite(pred).all() else "NO",
                     f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f}"))
    return rows


def scale_rows(sizes: list[tuple[int, int]]) -> list[tuple[str, ...]]:
    """Regression surrogates' fit and a RegMix proposal (10^5 candidates) at Marin-style swarm sizes."""
    rows = []
    for n, d in sizes:
        space = Space(tuple(f"d{i}" for i in range(d)), np.zeros(d), np.ones(d), np.full(d, 1 / d))
        law = MixingLaw.random(d, seed=0)
        X = sample(space, n, Sampling(method="dirichlet"), np.random.default_rng(0))
        data = TrainSet(X, law(X, noise=0.003))
        held = sample(space, 500, Sampling(method="dirichlet"), np.random.default_rng(1))
        for name in ("linear", "lightgbm", "mixing_law", "gp"):
            start = time.perf_counter()
            model = make_surrogate(name, 0).fit(data)
            fitted = time.perf_counter() - start
            rho = spearman(model.predict(held), law(held))
            propose(ProposalContext(model, space, data, [FidelityLevel("t", 1.0)], Search(), 0, X), 8, "regmix")
            rows.append((name, f"{n} x {d}", f"{fitted:.1f}", f"{time.perf_counter() - start - fitted:.1f}", f"{rho:.3f}"))
    return rows


def pool_from_file(path: str):
    """A replay pool from a CSV/Parquet of runs: w_<domain> columns, objective, optional fidelity_value."""
    import pandas as pd

    df = pd.read_parquet(path) if path.endswith((".parquet", ".pq")) else pd.read_csv(path)
    if "status" in df:
        df = df[df["status"] == "done"]
    W = df[[c for c in df.columns if c.startswith("w_")]].to_numpy(float)
    fid = df["fidelity_value"].to_numpy(float) if "fidelity_value" in df else np.ones(len(df))
    return pool_from_runs(W / W.sum(1, keepdims=True), fid, df["objective"].to_numpy(float))


STRATEGY_NAMES = ["random", "regmix", "gp-bo", "mf-bo", "mf-ar"]


def replay_rows(seeds: int, pool: int, d: int, budget: float, family: str = "standard",
                pool_file: str | None = None) -> tuple[list[tuple[str, ...]], float]:
    traces, optima = [], []
    for seed in range(seeds):
        p = pool_from_file(pool_file) if pool_file else synthetic_pool(d, pool, seed, family=family)
        traces.append(replay(p, STRATEGY_NAMES, budget, seed, tolerance=0.01))
        optima.append(p.optimum)
    table = summarize(traces, optima, 0.01)
    rows = [(r.strategy, f"{r.median_cost_to_1pct:.2f}", f"{r.reached:.0%}", f"{r.median_final_regret:.4f}",
             f"{r.cost_vs_random:.2f}x" if "cost_vs_random" in table else "-") for r in table.itertuples()]
    mf = table.loc[table["strategy"].isin(["mf-bo", "mf-ar"]), "cost_vs_random"]
    return rows, float(mf.min()) if len(mf) else float("nan")


def real_like_pool(seed: int, n: int = 460, d: int = 19) -> Pool:
    """The weak family at n x d; each cheap fidelity kept for a random half of the mixtures (all
    have the target), and the objective negated, as a higher-is-better score imports."""
    pool = synthetic_pool(d, n, seed, family="weak")
    Y = -pool.Y
    Y[:, :-1][np.random.default_rng(seed).random((n, len(pool.fids) - 1)) < 0.5] = np.nan
    return Pool(pool.X, pool.fids, Y)


def replay_scale_rows(seeds: int, budget: float) -> tuple[list[tuple[str, ...]], float]:
    """Each strategy timed separately over the seeds; the table and the total wall time."""
    names = STRATEGY_NAMES
    traces, optima, spent = [], [], dict.fromkeys(names, 0.0)
    start = time.perf_counter()
    for seed in range(seeds):
        p = real_like_pool(seed)
        traces.append([])
        for name in names:
            t0 = time.perf_counter()
            traces[-1] += replay(p, [name], budget, seed, tolerance=0.01)
            spent[name] += time.perf_counter() - t0
        optima.append(p.optimum)
        print(f"  seed {seed + 1}/{seeds}: {time.perf_counter() - start:.0f} s", flush=True)
    table = summarize(traces, optima, 0.01)
    rows = [(r.strategy, f"{r.median_cost_to_1pct:.2f}", f"{r.reached:.0%}",
             f"{r.cost_vs_random:.2f}x" if "cost_vs_random" in table else "-", f"{spent[r.strategy]:.0f}")
            for r in table.itertuples()]
    return rows, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20, help="seeds per family replay (0: skip them)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test)")
    parser.add_argument("--scale", action="store_true", help="also 2,000 x 50 and 5,000 x 100 swarms")
    parser.add_argument("--replay-scale", action="store_true", help="also replay on a 460 x 19 x 3 pool")
    parser.add_argument("--only-replay", action="store_true", help="skip the fit/predict tables")
    parser.add_argument("pools", nargs="*", help="pool files (CSV/Parquet: w_<domain>, objective, fidelity_value)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    n_runs, seeds = (128, 2) if args.quick else (512, args.seeds)
    header = f"{os.cpu_count()} CPUs, torch {torch.__version__} threads {torch.get_num_threads()}"
    if not args.only_replay:
        print_table(f"fit + propose 8 mixtures — {header}",
                    ("surrogate + proposer", "runs x domains", "fit s", "fit+propose s", "goal", "met",
                     "best proposal vs best run (true loss)"), fit_propose_rows(n_runs, 17))
        print_table("predict (mean, and std where the family has one) on 10^6 candidates, 17 domains",
                    ("surrogate", "candidates", "seconds", "std", "finite", "peak RSS GB (process)"),
                    predict_rows(100_000 if args.quick else 1_000_000))
    if args.scale:
        print_table("scale: fit and RegMix proposal (8 from 100,000 candidates), held-out Spearman on 500 mixtures",
                    ("surrogate", "runs x domains", "fit s", "propose s", "held-out Spearman"),
                    scale_rows([(2000, 50), (5000, 100)]))
    columns = ("strategy", "cost to within 1%", "seeds reaching it", "final regret", "cost vs random")
    for family, goal in (("standard", 0.2), ("weak", 0.5)) if seeds else ():
        rows, ratio = replay_rows(seeds, 400, 6, 40.0, family)
        print_table(f"replay, synthetic family '{family}' (6 domains, pool 400, fidelities 0.01/0.1/1), median of "
                    f"{seeds} seeds; goal: multi-fidelity <= {goal:.2f}x random ({'met' if ratio <= goal else 'not met'}: "
                    f"{ratio:.2f}x)", columns, rows)
    if args.replay_scale:
        n = 2 if args.quick else 5
        rows, wall = replay_scale_rows(n, 40.0)
        print_table(f"replay at scale: 460 mixtures x 19 domains x 3 fidelities (cheap ones partial), {n} seeds, "
                    f"{wall:.0f} s wall (goal <= 600 s: {'met' if wall <= 600 else 'not met'})",
                    ("strategy", "cost to within 1%", "seeds reaching it", "cost vs random", "seconds"), rows)
    for path in args.pools:
        rows, _ = replay_rows(seeds, 0, 0, 40.0, pool_file=path)
        print_table(f"replay on {path}, {seeds} seeds", columns, rows)


if __name__ == "__main__":
    main()
