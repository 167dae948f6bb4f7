"""Replay benchmark: every strategy (the shipped proposers) on synthetic families of pools.

Per family (6 domains, pools of 400 Dirichlet(0.3) mixtures, each run at every fidelity, budget
40 target-run units): the median over seeds of the cost to get within 0.5% and 1% of the pool's
best target objective, the share of seeds that got there, and the goals:
- mf-ar (the default multi-fidelity proposer) <= 1.2x the better of random and gp-bo, on every family;
- mf-ar <= 0.2x random on `standard`, <= 0.5x on `weak` (informative, cheap fidelities);
- gp-bo <= random on every family whose band holds <= 20% of the pool.
With --scale: 5 strategies x the seeds on a 460 x 19 x 3 pool shaped like a real one (the
`moderate` family, each cheap fidelity present for half of the mixtures, a higher-is-better score),
timed (goal: <= 600 s). --json FILE writes every seed's cost per family, tolerance and strategy.

    python benchmarks/replay.py [--seeds 20] [--families standard,weak,...] [--strategies random,gp-bo,mf-ar,...]
                                 [--scale] [--json FILE] [POOL_FILE ...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import warnings

import numpy as np

from mixsearch.replay import Pool, band, cost_key, per_seed_costs, pool_from_runs, replay, synthetic_pool
from mixsearch.synthetic import FAMILIES
from run import print_table  # noqa: E402  (benchmarks/ is the script's directory)

STRATEGIES = ["random", "gp-bo", "mf-ar", "mf-bo", "regmix"]
TOLERANCES = (0.005, 0.01)
BUDGET = 40.0


def _median(costs: list[float]) -> float:
    return float(np.median(costs))


def family_rows(family: str, seeds: int, strategies: list[str], tolerances=TOLERANCES) -> tuple[dict, dict]:
    """Per tolerance: {strategy: per-seed costs}, and the family's band shares (median over pools)."""
    traces, optima, shares = [], [], {t: [] for t in tolerances}
    for seed in range(seeds):
        pool = synthetic_pool(6, 400, seed, family=family)
        traces.append(replay(pool, strategies, BUDGET, seed, tolerance=min(tolerances)))
        optima.append(pool.optimum)
        for t in tolerances:
            shares[t].append(float(np.mean(pool.Y[:, -1] <= band(pool.optimum, t))))
        print(f"  {family}: seed {seed + 1}/{seeds}", flush=True)
    return ({t: per_seed_costs(traces, optima, t) for t in tolerances},
            {t: float(np.median(s)) for t, s in shares.items()})


def goals(family: str, med: dict[str, float], share: float) -> list[str]:
    base = min(med["random"], med["gp-bo"])
    out = [f"mf-ar <= 1.2x best of random/gp-bo: {'met' if med['mf-ar'] <= 1.2 * base else 'NOT met'} "
           f"({med['mf-ar'] / base:.2f}x)"]
    limit = {"standard": 0.2, "weak": 0.5}.get(family)
    if limit is not None:
        out.append(f"mf-ar <= {limit}x random: {'met' if med['mf-ar'] <= limit * med['random'] else 'NOT met'} "
                   f"({med['mf-ar'] / med['random']:.2f}x)")
    if share <= 0.2:
        out.append(f"gp-bo <= random: {'met' if med['gp-bo'] <= med['random'] else 'NOT met'}")
    return out


def real_like_pool(seed: int, n: int = 460, d: int = 19) -> Pool:
    """The moderate family at n x d; each cheap fidelity kept for a random half of the mixtures
    (all have the target), and the objective negated, as a higher-is-better score imports."""
    pool = synthetic_pool(d, n, seed, family="moderate")
    Y = -pool.Y
    Y[:, :-1][np.random.default_rng(seed).random((n, len(pool.fids) - 1)) < 0.5] = np.nan
    return Pool(pool.X, pool.fids, Y)


def pool_from_file(path: str) -> Pool:
    """A pool from a CSV/Parquet of runs: w_<domain> columns, objective, optional fidelity_value."""
    import pandas as pd

    df = pd.read_parquet(path) if path.endswith((".parquet", ".pq")) else pd.read_csv(path)
    if "status" in df:
        df = df[df["status"] == "done"]
    W = df[[c for c in df.columns if c.startswith("w_")]].to_numpy(float)
    fid = df["fidelity_value"].to_numpy(float) if "fidelity_value" in df else np.ones(len(df))
    return pool_from_runs(W / W.sum(1, keepdims=True), fid, df["objective"].to_numpy(float))


def file_rows(path: str, seeds: int) -> list[tuple[str, ...]]:
    pool = pool_from_file(path)
    traces = [replay(pool, STRATEGIES, BUDGET, seed, tolerance=min(TOLERANCES)) for seed in range(seeds)]
    costs = {t: per_seed_costs(traces, [pool.optimum] * seeds, t) for t in TOLERANCES}
    return [(name, *(f"{_median(costs[t][name]):.2f}" for t in TOLERANCES)) for name in STRATEGIES]


def scale_rows(seeds: int) -> tuple[list[tuple[str, ...]], float]:
    traces, optima, spent = [], [], dict.fromkeys(STRATEGIES, 0.0)
    start = time.perf_counter()
    for seed in range(seeds):
        pool = real_like_pool(seed)
        traces.append([])
        for name in STRATEGIES:
            t0 = time.perf_counter()
            traces[-1] += replay(pool, [name], BUDGET, seed, tolerance=0.005)
            spent[name] += time.perf_counter() - t0
        optima.append(pool.optimum)
        print(f"  scale: seed {seed + 1}/{seeds}, {time.perf_counter() - start:.0f} s", flush=True)
    costs = {t: per_seed_costs(traces, optima, t) for t in TOLERANCES}
    rows = [(name, *(f"{_median(costs[t][name]):.2f}" for t in TOLERANCES), f"{spent[name]:.0f}")
            for name in STRATEGIES]
    return rows, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--strategies", default=",".join(STRATEGIES),
                        help="the families' strategies (random, gp-bo and mf-ar at least: the goals need them)")
    parser.add_argument("--scale", action="store_true", help="also the 460 x 19 x 3 pool, timed")
    parser.add_argument("--json", dest="json_path", help="write every seed's cost here")
    parser.add_argument("pools", nargs="*", help="pool files (CSV/Parquet: w_<domain>, objective (lower is better), "
                                                 "fidelity_value)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M')}")
    per_seed: dict = {}
    for family in [f for f in args.families.split(",") if f]:
        costs, shares = family_rows(family, args.seeds, args.strategies.split(","))
        per_seed[family] = {cost_key(t): {s: [v if math.isfinite(v) else None for v in c[s]] for s in c}
                            for t, c in costs.items()}
        for t in TOLERANCES:
            med = {s: _median(c) for s, c in costs[t].items()}
            rows = [(s, f"{med[s]:.2f}", f"{np.mean(np.isfinite(costs[t][s])):.0%}",
                     f"{med[s] / med['random']:.2f}x" if math.isfinite(med["random"]) else "-") for s in costs[t]]
            print_table(f"replay '{family}', within {100 * t:g}% (band: {shares[t]:.0%} of the pool), median of "
                        f"{args.seeds} seeds, load {os.getloadavg()[0]:.1f}; " + "; ".join(goals(family, med, shares[t])),
                        ("strategy", "median cost", "seeds reaching it", "vs random"), rows)
    if args.scale:
        rows, wall = scale_rows(args.seeds)
        print_table(f"replay at scale: 460 x 19 x 3 (moderate family, cheap fidelities partial), {args.seeds} seeds, "
                    f"{wall:.0f} s wall (goal <= 600 s: {'met' if wall <= 600 else 'NOT met'}), "
                    f"load {os.getloadavg()[0]:.1f}",
                    ("strategy", *(f"cost to {100 * t:g}%" for t in TOLERANCES), "seconds"), rows)
    for path in args.pools:
        print_table(f"replay on {path}, median of {args.seeds} seeds", ("strategy", *(f"cost to {100 * t:g}%"
                                                                                      for t in TOLERANCES)),
                    file_rows(path, args.seeds))
    if args.json_path:
        with open(args.json_path, "w") as f:
            json.dump(per_seed, f, indent=1)


if __name__ == "__main__":
    main()
