"""Surrogate and proposal benchmarks: one command, two tables (the replay benchmark of search
strategies is benchmarks/replay.py).

1. fit + propose a batch of 8 on 512 runs x 17 domains (synthetic mixing law with interactions,
   one held-out target loss), per surrogate/proposer (goals: <= 10 s regression, <= 60 s GP/MF-GP).
2. predict on 10^6 candidates per surrogate, in bounded memory.
3. With --scale: regression surrogates and a RegMix proposal at 2,000 x 50 and 5,000 x 100.

    python benchmarks/surrogates.py [--quick] [--scale]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch
from mixsearch.mixtures import Space, sample
from mixsearch.propose.base import FidelityLevel, ProposalContext
from mixsearch.propose.batch import propose
from mixsearch.recipe.search import Sampling, Search
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.cv import spearman
from mixsearch.replay.synthetic import MixingLaw, MultiFidelityBenchmark
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test)")
    parser.add_argument("--scale", action="store_true", help="also 2,000 x 50 and 5,000 x 100 swarms")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    n_runs = 128 if args.quick else 512
    header = f"{os.cpu_count()} CPUs, torch {torch.__version__} threads {torch.get_num_threads()}"
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


if __name__ == "__main__":
    main()
