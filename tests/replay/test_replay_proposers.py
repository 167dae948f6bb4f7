"""Replay drives the registered proposers: bo's space-filling design, and the multi-fidelity
proposer's fallback on a pool whose cheap fidelities predict nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from mixsearch.propose.base import PROPOSERS, ProposalContext
from mixsearch.replay.bench import Pool, cost_key, replay, synthetic_pool
from tests.conftest import cli


def test_replay_drives_the_registered_proposer(monkeypatch):
    """Every gp-bo step is the `bo` proposer itself, handed the pool as its candidate set."""
    import mixsearch.propose.bo  # noqa: F401  (registers bo before it is wrapped)

    calls = []
    shipped = PROPOSERS["bo"]

    def spy(ctx: ProposalContext, n: int):
        calls.append(ctx.candidates is not None and ctx.budget is not None)
        return shipped(ctx, n)

    monkeypatch.setitem(PROPOSERS, "bo", spy)
    pool = synthetic_pool(3, 40, seed=0)
    (t,) = replay(pool, ["gp-bo"], budget=7.0, seed=0)
    assert len(calls) == len(t.runs) >= 7 and all(calls)
    assert all(j == len(pool.fids) - 1 for _, j in t.runs) and len({i for i, _ in t.runs}) == len(t.runs)


def _coverage(X: np.ndarray, picks: np.ndarray) -> float:
    """Mean distance from uniform points of the simplex to the nearest pick (lower: better spread)."""
    ref = np.random.default_rng(99).dirichlet(np.ones(X.shape[1]), 2000)
    return float(np.sqrt(((ref[:, None] - picks[None]) ** 2).sum(-1)).min(1).mean())


def test_gp_bo_starts_with_a_space_filling_design_not_randoms_permutation():
    """gp-bo's first 5 picks are Sobol points on the simplex (nearest pool mixtures), not random
    search's permutation: different picks, better spread."""
    design, rand = [], []
    for seed in range(5):
        pool = synthetic_pool(4, 300, seed=seed)
        t_bo, t_random = replay(pool, ["gp-bo", "random"], budget=5.0, seed=seed)
        first_bo, first_random = [i for i, _ in t_bo.runs[:5]], [i for i, _ in t_random.runs[:5]]
        assert first_bo[0] != first_random[0] and first_bo != first_random
        design.append(_coverage(pool.X, pool.X[first_bo]))
        rand.append(_coverage(pool.X, pool.X[first_random]))
    assert np.median(design) < np.median(rand)


def test_mf_falls_back_on_useless_cheap_fidelities_and_uses_informative_ones():
    """Cheap fidelities of pure noise: after its cheap batch and MIN_PAIRS target runs, mf-ar
    measures that the cheap side predicts nothing and buys only target runs, saying why; on the
    standard family its cheap runs pay and its first target run is guided by them."""
    full = synthetic_pool(4, 150, seed=1)
    noise = np.random.default_rng(0).normal(size=(len(full.X), 2))
    useless = Pool(full.X, full.fids, np.column_stack([noise, full.Y[:, -1]]))
    (t,) = replay(useless, ["mf-ar"], budget=14.0, seed=0)
    fell_back = next(k for k, why in enumerate(t.reasons) if "does not pay" in why)
    assert all("does not pay" in why and "predicts the target runs" in why for why in t.reasons[fell_back:])
    assert all(j == 2 for _, j in t.runs[fell_back:]) and len(t.runs) > fell_back + 3

    (t,) = replay(full, ["mf-ar"], budget=10.0, seed=0)
    cheap = [k for k, (_, j) in enumerate(t.runs) if j == 0]
    assert len(cheap) >= 8 and "pays" in t.reasons[cheap[0]]


def test_replay_json_names_costs_by_their_tolerance(tmp_path):
    """The per-seed costs and the summary are named by the tolerance asked for."""
    assert cost_key(0.005) == "cost_to_0.5pct" and cost_key(0.01) == "cost_to_1pct"
    res = json.loads(cli("replay", "--strategies", "random,gp-bo", "--seeds", "2", "--domains", "3", "--pool", "30",
                         "--budget", "6", "--tolerance", "0.005", "--out", "r.png", "--json", cwd=tmp_path).stdout)
    assert set(res["per_seed"]) == {"cost_to_0.5pct"} and len(res["per_seed"]["cost_to_0.5pct"]["gp-bo"]) == 2
    assert "median_cost_to_0.5pct" in res["summary"][0] and "1pct" not in json.dumps(res["summary"])


def test_replay_imports_neither_report_nor_itself_in_a_cycle():
    code = ("import sys, mixsearch.replay.strategies as s; assert 'mixsearch.replay.bench' not in sys.modules; "
            "import mixsearch.replay.bench; assert 'mixsearch.report.html' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
