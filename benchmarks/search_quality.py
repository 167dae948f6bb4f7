"""Search quality under seed noise: regret of the model's recommendation vs regret of the best
observed run, per strategy, at equal cost (the same runs), median over seeds.

Ground truth: the synthetic multi-fidelity benchmark's target law (6 domains; the objective is the
mean of six per-domain losses) plus Gaussian seed noise of sd `noise` on the objective, half of its
variance shared by all domains of a run (a lucky seed lowers every loss) and half per domain. Each
strategy trains 16 initial runs and, as `search.replicates: {mixtures: 4, seeds: 3}` does, 4
mixtures (uniform and three initial ones) with 3 seeds each (the first seed of an initial mixture
is its initial run), then `rounds` batches of 4, all at the target, proposing with its own
surrogate (LightGBM for regmix, the GP for gp-bo). The best observed run is the lowest noisy
objective; the recommendation is what a study answers: the surrogate `search.surrogate: auto`
chooses by 5-fold CV, fitted on all runs (replicate means, the measured seed noise as a GP's noise
floor) with their per-domain losses as a study records them
(`--objective-only`: on the objective alone, as for a metric objective), and recommend.py's
optimum of it. Regret = true objective - true optimum. Goal: recommendation regret <= half the
best observed run's.

`--average` also measures the other answer `auto` could give: the mean of the optima of the
candidates within CV noise of the best (`within_noise`: Spearman within one bootstrap sd of the
paired difference to the chosen one's), against the chosen surrogate's optimum alone.

    python benchmarks/search_quality.py [--seeds 10] [--noise 0.03] [--rounds 4] [--objective-only]
                                        [--no-replicates] [--average]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings

import numpy as np
from mixsearch.mixtures import Space, sample
from mixsearch.search.noise import fit_data, replicate_plan
from mixsearch.propose.base import FidelityLevel, ProposalContext
from mixsearch.propose.batch import propose
from mixsearch.recipe.search import Sampling, Search
from mixsearch.search.recommendation import recommendation
from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet, known_surrogates
from mixsearch.surrogate.cv import CVScore, pick, select, spearman
from mixsearch.replay.synthetic import MultiFidelityBenchmark
from run import print_table  # noqa: E402  (benchmarks/ is the script's directory)

STRATEGIES = {"random": ("lightgbm", None), "regmix": ("lightgbm", "regmix"), "gp-bo": ("gp", "bo")}
D, INITIAL, BATCH, REPLICATES = 6, 16, 4, (4, 3)


def losses(law, W: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """(n, d) noisy per-domain losses whose mean has seed-noise sd `noise` (half shared, half per domain)."""
    L = law.losses(W)
    shared = rng.normal(0, noise / np.sqrt(2), (len(W), 1))
    return L + shared + rng.normal(0, noise * np.sqrt(L.shape[1] / 2), L.shape)


def within_noise(scores: list[CVScore], seed: int, resamples: int = 200) -> list[str]:
    """The chosen candidate and those whose out-of-fold Spearman is within one bootstrap sd (runs
    resampled, paired) of its own, among those `pick` considers."""
    best = pick(scores)
    scored = [s for s in scores if s.skipped is None and s.runs == best.runs]
    scored = [s for s in scored if s.beats_chance] or scored
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, best.runs, best.runs) for _ in range(resamples)]

    def boot(s: CVScore) -> np.ndarray:
        return np.array([spearman(s.predicted[i], s.actual[i]) for i in draws])

    ref = boot(best)
    return [s.name for s in scored
            if s.name == best.name or best.spearman - s.spearman <= float(np.std(ref - boot(s)))]


def one(strategy: str, seed: int, noise: float, rounds: int, objective_only: bool,
        replicates: bool = True, average: bool = False) -> tuple[float, float, str, int, float, int]:
    """(recommendation regret, best observed run regret, surrogate auto chose, runs, regret of the
    average of the optima within CV noise (with `average`, else NaN), how many were averaged)."""
    surrogate_name, method = STRATEGIES[strategy]
    space = Space(tuple(f"d{i}" for i in range(D)), np.zeros(D), np.ones(D), np.full(D, 1 / D))
    bench = MultiFidelityBenchmark.random(D, seed)
    truth = bench.law
    _, opt = truth.optimum(space)
    rng = np.random.default_rng(seed)
    cfg = Search(candidates=20_000, top_k=64, batch_size=BATCH)
    X = sample(space, INITIAL, Sampling(), rng)
    if replicates:
        reps, seeds = replicate_plan(space, X, *REPLICATES, 0)
        initial = (np.abs(reps[:, None, :] - X[None]).max(2) < 1e-9).any(1)
        X = np.vstack([X, reps[(np.array(seeds) > 0) | ~initial]])  # seed 0 of an initial mixture: its initial run
    P = losses(truth, X, noise, rng)
    weights = np.full(D, 1 / D)
    for r in range(rounds):
        y = P @ weights
        if method is None:
            W = sample(space, BATCH, Sampling(), rng)
        else:
            data, _ = fit_data(TrainSet(X, y), seed)
            model = make_surrogate(surrogate_name, seed).fit(data)
            ctx = ProposalContext(model, space, data, [FidelityLevel("target", 1.0)], cfg, seed + r + 1, X)
            W = propose(ctx, BATCH, method).W
        X, P = np.vstack([X, W]), np.vstack([P, losses(truth, W, noise, rng)])
    y = P @ weights
    runs = TrainSet(X, y) if objective_only else TrainSet(X, y, None, P, weights)
    data, _ = fit_data(runs, seed)
    chosen, scores = select(known_surrogates(), data, 5, seed)

    def optimum_of(name: str) -> np.ndarray:
        rec = recommendation(make_surrogate(name, seed).fit(data), name, noise, len(data), space, cfg, seed, noise,
                        support=data.target_only().X)
        return np.array(list(rec.mixture.values()))

    w = optimum_of(chosen)
    regret = float(truth(w[None])[0] - opt)
    avg_regret, near = math.nan, 1
    if average:
        names = within_noise(scores, seed)
        near = len(names)
        w_avg = np.mean([w if n == chosen else optimum_of(n) for n in names], axis=0)
        avg_regret = float(truth(w_avg[None])[0] - opt)
    return regret, float(truth(X[np.argmin(y)][None])[0] - opt), chosen, len(X), avg_regret, near


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--noise", type=float, default=0.03)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--objective-only", action="store_true",
                    help="fit on the objective alone (a metric objective), not on the per-domain losses")
    ap.add_argument("--no-replicates", action="store_true", help="no replicate runs (and so no measured noise)")
    ap.add_argument("--average", action="store_true",
                    help="also measure the mean of the optima of the surrogates within CV noise of the best")
    ap.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated subset of the strategies")
    args = ap.parse_args()
    rows, averaged = [], []
    for strategy in args.strategies.split(","):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = [one(strategy, s, args.noise, args.rounds, args.objective_only, not args.no_replicates,
                           args.average) for s in range(args.seeds)]
        if args.average:
            pick_r, avg_r = np.array([r[0] for r in results]), np.array([r[4] for r in results])
            print(f"{strategy}: chosen {pick_r.round(4).tolist()} averaged {avg_r.round(4).tolist()} "
                  f"near {[r[5] for r in results]}", file=sys.stderr, flush=True)
            averaged.append((strategy, f"{np.mean(pick_r):.4f}", f"{np.median(pick_r):.4f}", f"{np.mean(avg_r):.4f}",
                             f"{np.median(avg_r):.4f}", f"{int((avg_r < pick_r - 1e-12).sum())}/"
                             f"{int((avg_r > pick_r + 1e-12).sum())}",
                             f"{sum(r[5] > 1 for r in results)}/{args.seeds}"))
        pairs = np.array([r[:2] for r in results])
        chosen = sorted({r[2] for r in results})
        rec, best = np.median(pairs, axis=0)
        print(f"{strategy}: recommendation {rec:.4f}, best observed {best:.4f}", file=sys.stderr, flush=True)
        rows.append((strategy, f"{results[0][3]}", ", ".join(chosen), f"{rec:.4f}", f"{best:.4f}",
                     f"{rec / best:.2f}" if best > 0 else "-", f"{int((pairs[:, 0] < pairs[:, 1]).sum())}/{args.seeds}",
                     "yes" if rec <= best / 2 else "no", f"{time.perf_counter() - start:.0f}"))
    fitted_on = "objective only" if args.objective_only else "per-domain losses"
    print_table(f"search quality: regret, median of {args.seeds} seeds, seed noise sd {args.noise}, fitted on {fitted_on}",
                ["strategy", "runs", "auto chose", "recommendation", "best observed", "ratio", "rec better", "<= 1/2", "s"], rows)
    if averaged:
        print_table(f"chosen surrogate's optimum vs mean of the optima within CV noise: regret over {args.seeds} seeds",
                    ["strategy", "chosen mean", "chosen median", "averaged mean", "averaged median",
                     "averaged better/worse", "seeds with >1 within noise"], averaged)


if __name__ == "__main__":
    main()
