"""Search quality under seed noise: regret of the model's recommendation vs regret of the best
observed run, per strategy, at equal cost (the same runs), median over seeds.

Ground truth: the synthetic multi-fidelity benchmark's target law (6 domains) plus Gaussian seed
noise. Each strategy trains 16 initial runs, then `rounds` batches of 4, all at the target; the
best observed run is the lowest noisy objective, the recommendation is recommend.py's optimum of
the surrogate fitted on all runs (replicate means). Regret = true objective - true optimum.
Goal: recommendation regret <= half the best observed run's.

    python benchmarks/search_quality.py [--seeds 5] [--noise 0.03] [--rounds 4]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
from mixsearch.mixtures import Space, sample
from mixsearch.noise import average_replicates
from mixsearch.propose import FidelityLevel, ProposalContext, propose
from mixsearch.recipe_search import Sampling, Search
from mixsearch.recommend import recommend
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet
from mixsearch.synthetic import MultiFidelityBenchmark
from run import print_table  # noqa: E402  (benchmarks/ is the script's directory)

STRATEGIES = {"random": ("lightgbm", None), "regmix": ("lightgbm", "regmix"), "gp-bo": ("gp", "bo")}
D, INITIAL, BATCH = 6, 16, 4


def one(strategy: str, seed: int, noise: float, rounds: int) -> tuple[float, float]:
    """(recommendation regret, best observed run regret) of one search."""
    surrogate_name, method = STRATEGIES[strategy]
    space = Space(tuple(f"d{i}" for i in range(D)), np.zeros(D), np.ones(D), np.full(D, 1 / D))
    bench = MultiFidelityBenchmark.random(D, seed)
    truth = bench.law
    _, opt = truth.optimum(space)
    rng = np.random.default_rng(seed)
    cfg = Search(candidates=20_000, top_k=64, batch_size=BATCH)
    X = sample(space, INITIAL, Sampling(), rng)
    y = truth(X) + rng.normal(0, noise, len(X))
    for r in range(rounds):
        if method is None:
            W = sample(space, BATCH, Sampling(), rng)
        else:
            data = average_replicates(TrainSet(X, y))
            model = make_surrogate(surrogate_name, seed).fit(data)
            ctx = ProposalContext(model, space, data, [FidelityLevel("target", 1.0)], cfg, seed + r + 1, X)
            W = propose(ctx, BATCH, method).W
        X, y = np.vstack([X, W]), np.concatenate([y, truth(W) + rng.normal(0, noise, len(W))])
    data = average_replicates(TrainSet(X, y))
    model = make_surrogate(surrogate_name, seed).fit(data)
    rec = recommend(model, surrogate_name, noise, len(data), space, cfg, seed, noise)
    w = np.array(list(rec.mixture.values()))
    return float(truth(w[None])[0] - opt), float(truth(X[np.argmin(y)][None])[0] - opt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--noise", type=float, default=0.03)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    rows = []
    for strategy in STRATEGIES:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pairs = np.array([one(strategy, s, args.noise, args.rounds) for s in range(args.seeds)])
        rec, best = np.median(pairs, axis=0)
        print(f"{strategy}: recommendation {rec:.4f}, best observed {best:.4f}", file=sys.stderr, flush=True)
        rows.append((strategy, f"{INITIAL + BATCH * args.rounds}", f"{rec:.4f}", f"{best:.4f}",
                     f"{rec / best:.2f}" if best > 0 else "-", f"{int((pairs[:, 0] < pairs[:, 1]).sum())}/{args.seeds}",
                     "yes" if rec <= best / 2 else "no", f"{time.perf_counter() - start:.0f}"))
    print_table(f"search quality: regret, median of {args.seeds} seeds, seed noise sd {args.noise}",
                ["strategy", "runs", "recommendation", "best observed", "ratio", "rec better", "<= 1/2", "s"], rows)


if __name__ == "__main__":
    main()
