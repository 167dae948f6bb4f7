"""Replay drives the registered proposers; bo's space-filling design; the evidence that decides
whether cheap fidelities pay (propose/evidence.py) and the multi-fidelity proposer's fallback."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from mixsearch.mixtures import Space
from mixsearch.propose import PROPOSERS, FidelityLevel, ProposalContext, propose
from mixsearch.propose.autoregressive import MID_FIRST, MID_SHARE
from mixsearch.propose.evidence import lower_bound, plan
from mixsearch.recipe import Search
from mixsearch.replay import Pool, cost_key, replay, synthetic_pool
from mixsearch.surrogate.base import TrainSet
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
    """Before: gp-bo's first 5 picks were random search's permutation, so they could not differ.
    Now they are Sobol points on the simplex (nearest pool mixtures): different picks, better spread."""
    design, rand = [], []
    for seed in range(5):
        pool = synthetic_pool(4, 300, seed=seed)
        t_bo, t_random = replay(pool, ["gp-bo", "random"], budget=5.0, seed=seed)
        first_bo, first_random = [i for i, _ in t_bo.runs[:5]], [i for i, _ in t_random.runs[:5]]
        assert first_bo[0] != first_random[0] and first_bo != first_random
        design.append(_coverage(pool.X, pool.X[first_bo]))
        rand.append(_coverage(pool.X, pool.X[first_random]))
    assert np.median(design) < np.median(rand)


def test_evidence_weighs_agreement_against_cost():
    assert plan("small", 0.01, 40.0).pays  # very cheap: worth a batch before anything is measured
    assert not plan("small", 0.177, 40.0).pays and "does not pay" in plan("small", 0.177, 40.0).reason
    assert not plan("small", 0.01, 40.0, measured=(0.05, 20)).pays  # measured: it says nothing
    assert plan("small", 0.01, 40.0, measured=(0.95, 20)).pays
    assert lower_bound(0.6, 6) < lower_bound(0.6, 30) < 0.6
    assert plan("small", 0.01, 40.0).runs <= 0.25 * 40 / 0.01  # at most a share of the budget


def _levels(*values: float) -> list[FidelityLevel]:
    return [FidelityLevel(f"f{i}", v) for i, v in enumerate(values)]


def test_mfar_goes_target_only_where_cheap_runs_are_dear_and_says_so():
    space = Space(tuple("abc"), np.zeros(3), np.ones(3), np.full(3, 1 / 3))
    X = np.random.default_rng(0).dirichlet(np.ones(3), 6)
    data = TrainSet(X, X[:, 0], np.ones(6))
    ctx = ProposalContext(None, space, data, _levels(0.2, 0.5, 1.0), Search(candidates=500), 0, X, data.fidelities)
    prop = propose(ctx, 2, "mfar")
    assert prop.fidelity == ["f2", "f2"] and "does not pay" in prop.reason and "target runs only" in prop.reason


def test_mfar_buys_second_fidelity_runs_only_where_they_cost_at_most_a_target_run():
    """After its cheap batch, mfar runs mixtures at the second cheap fidelity where MID_FIRST of them
    cost at most MID_SHARE target runs (0.1: 0.8; before, that was too dear and it went to the target),
    and not where they cost more (0.5: 3.0)."""
    space = Space(tuple("abc"), np.zeros(3), np.ones(3), np.full(3, 1 / 3))
    runs = plan("f0", 0.01, None).runs
    X = np.random.default_rng(0).dirichlet(np.ones(3), runs)
    data = TrainSet(X, X[:, 0] + 0.1 * X[:, 1], np.full(runs, 0.01))
    assert MID_FIRST * 0.5 > MID_SHARE  # the dear case is dear
    for mid, expected in ((0.1, "f1"), (0.5, "f2")):
        ctx = ProposalContext(None, space, data, _levels(0.01, mid, 1.0), Search(candidates=500), 0, X,
                              data.fidelities)
        prop = propose(ctx, 2, "mfar")
        assert prop.fidelity == [expected] * 2 and "pays" in prop.reason


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
    """Before: the summary key said 1pct whatever the tolerance; now the per-seed costs and the
    summary are named by it."""
    assert cost_key(0.005) == "cost_to_0.5pct" and cost_key(0.01) == "cost_to_1pct"
    res = json.loads(cli("replay", "--strategies", "random,gp-bo", "--seeds", "2", "--domains", "3", "--pool", "30",
                         "--budget", "6", "--tolerance", "0.005", "--out", "r.png", "--json", cwd=tmp_path).stdout)
    assert set(res["per_seed"]) == {"cost_to_0.5pct"} and len(res["per_seed"]["cost_to_0.5pct"]["gp-bo"]) == 2
    assert "median_cost_to_0.5pct" in res["summary"][0] and "1pct" not in json.dumps(res["summary"])


def test_replay_imports_neither_report_nor_itself_in_a_cycle():
    code = ("import sys, mixsearch.replay_strategies as s; assert 'mixsearch.replay' not in sys.modules; "
            "import mixsearch.replay; assert 'mixsearch.report' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
