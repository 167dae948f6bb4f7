"""Phase schedules: does the search find a schedule that beats the best single static mixture?

Ground truth: `replay.synthetic.PhasedLaw` (4 domains, two phases with shares 0.75 / 0.25; one
domain is worth `boost` more per token in the last phase), plus Gaussian seed noise of sd `noise`
on each run's objective. Each strategy trains 24 initial schedules (8 weights: 4 per phase) and
`rounds` batches of 4, proposing with its own surrogate (LightGBM for regmix, the GP for gp-bo);
the answer is what a study gives: the surrogate `search.surrogate: auto` chooses by 5-fold CV
(bimix, a law of one mixture per run, is not a candidate with phases),
fitted on all runs, and recommend.py's optimum of it. Per seed (true, noise-free objectives):
  gap       = best static mixture - best schedule (what a schedule can gain at most)
  advantage = best static mixture - the recommendation (what the found schedule gains)
  baseline  = the best static mixture by the fitted surrogate (what `validate` trains as
              `best-static`) - the recommendation
Goal: median advantage above the seed noise sd, on most seeds.

    python benchmarks/phases.py [--seeds 10] [--noise 0.03] [--rounds 4] [--strategies regmix,gp-bo]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from mixsearch.mixtures import sample
from mixsearch.propose.base import FidelityLevel, ProposalContext
from mixsearch.propose.batch import propose
from mixsearch.propose.simplex import static_optimum
from mixsearch.recipe.search import Sampling, Search
from mixsearch.replay.synthetic import PhasedLaw
from mixsearch.search.modelling import UNPHASED
from mixsearch.search.recommendation import recommendation
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet, known_surrogates
from mixsearch.surrogate.cv import select
from run import print_table  # noqa: E402  (benchmarks/ is the script's directory)

STRATEGIES = {"random": ("lightgbm", None), "regmix": ("lightgbm", "regmix"), "gp-bo": ("gp", "bo")}
D, INITIAL, BATCH = 4, 24, 4


def one(strategy: str, seed: int, noise: float, rounds: int) -> dict[str, float | str]:
    """One search on one ground truth: its gap, the recommendation's advantage and regret, the chosen surrogate."""
    surrogate_name, method = STRATEGIES[strategy]
    law = PhasedLaw.random(D, seed)
    space = law.space()
    _, best = law.optimum(space)
    _, static = law.static_optimum(space)
    rng = np.random.default_rng(seed)
    cfg = Search(candidates=20_000, top_k=64, batch_size=BATCH)
    X = sample(space, INITIAL, Sampling(), rng)
    y = law(X) + rng.normal(0, noise, len(X))
    for r in range(rounds):
        if method is None:
            W = sample(space, BATCH, Sampling(), rng)
        else:
            model = make_surrogate(surrogate_name, seed).fit(TrainSet(X, y))
            ctx = ProposalContext(model, space, TrainSet(X, y), [FidelityLevel("target", 1.0)], cfg, seed + r + 1, X)
            W = propose(ctx, BATCH, method).W
        X, y = np.vstack([X, W]), np.concatenate([y, law(W) + rng.normal(0, noise, len(W))])
    data = TrainSet(X, y)
    chosen, _ = select([n for n in known_surrogates() if n not in UNPHASED], data, 5, seed)
    model = make_surrogate(chosen, seed).fit(data)
    rec = recommendation(model, chosen, noise, len(data), space, cfg, seed, noise, support=X)
    w = np.array([rec.mixture[n] for n in space.names])
    value = float(law(w[None])[0])
    by_model = float(law(static_optimum(model, space, cfg, seed)[None])[0])
    return {"gap": static - best, "advantage": static - value, "baseline": by_model - value,
            "regret": value - best, "chosen": chosen, "runs": len(X)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--noise", type=float, default=0.03)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--strategies", default="random,regmix,gp-bo", help="comma-separated subset of the strategies")
    args = ap.parse_args()
    rows = []
    for strategy in args.strategies.split(","):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = [one(strategy, s, args.noise, args.rounds) for s in range(args.seeds)]
        med = {k: float(np.median([r[k] for r in results])) for k in ("gap", "advantage", "baseline", "regret")}
        beyond = sum(r["advantage"] > args.noise for r in results)
        print(f"{strategy}: advantage {[round(r['advantage'], 4) for r in results]}", file=sys.stderr, flush=True)
        rows.append((strategy, str(results[0]["runs"]), ", ".join(sorted({str(r["chosen"]) for r in results})),
                     f"{med['gap']:.4f}", f"{med['advantage']:.4f}", f"{med['baseline']:.4f}", f"{med['regret']:.4f}",
                     f"{beyond}/{args.seeds}", "yes" if med["advantage"] > args.noise and 2 * beyond > args.seeds
                     else "no", f"{time.perf_counter() - start:.0f}"))
    print_table(f"phase schedules vs the best static mixture: medians of {args.seeds} seeds, seed noise sd {args.noise}",
                ["strategy", "runs", "auto chose", "gap", "advantage", "vs surrogate's static", "regret",
                 "advantage > noise", "goal", "s"], rows)


if __name__ == "__main__":
    main()
