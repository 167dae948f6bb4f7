"""Replay benchmark and synthetic ground truth; a multi-fidelity study end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from mixsearch.replay.bench import pool_from_runs, replay, summarize, synthetic_pool
from mixsearch.replay.synthetic import MultiFidelityBenchmark
from tests.conftest import cli, write_recipe


def test_synthetic_fidelities_correlate_imperfectly():
    bench = MultiFidelityBenchmark.random(5, seed=0)
    X = np.random.default_rng(0).dirichlet(np.ones(5), 500)
    lo, mid, hi = (bench(X, f) for f in bench.fidelities)
    assert (lo > hi).all() and (mid > hi).all()  # smaller proxies have higher loss
    from mixsearch.surrogate.cv import spearman

    r_lo, r_mid = spearman(lo, hi), spearman(mid, hi)
    assert 0.3 < r_lo < r_mid < 0.999  # informative, not identical
    assert np.allclose(bench(X[:1], 1.0), bench(X, 1.0)[:1])  # a pure function of each mixture


def test_replay_traces_and_summary():
    pool = synthetic_pool(4, 50, seed=1)
    traces = replay(pool, ["random", "regmix", "gp-bo", "mf-bo"], budget=8.0, seed=0)  # mf-bo: 5 target runs first
    for t in traces:
        assert t.cost == sorted(t.cost) and t.cost[-1] <= 8.0 + 1.0  # one step may cross the budget
        finite = [b for b in t.best if math.isfinite(b)]
        assert finite == sorted(finite, reverse=True)  # best-so-far never gets worse
        assert min(finite) >= pool.optimum - 1e-12
    mf = traces[3]
    assert any(c < 1 for c in np.diff([0.0, *mf.cost]))  # it used cheap fidelities
    table = summarize([traces], [pool.optimum], tolerance=0.5)
    assert list(table["strategy"]) == ["random", "regmix", "gp-bo", "mf-bo"]
    assert (table["reached"] == 1.0).all() and "cost_vs_random" in table


def test_stopping_at_the_tolerance():
    pool = synthetic_pool(4, 50, seed=2)
    (t,) = replay(pool, ["random"], budget=50.0, seed=0, tolerance=0.01)
    assert t.best[-1] <= pool.optimum * 1.01 and all(b > pool.optimum * 1.01 for b in t.best[:-1])


def test_pool_from_runs_groups_by_mixture():
    X = np.array([[0.5, 0.5], [0.5, 0.5], [0.2, 0.8]])
    pool = pool_from_runs(X, np.array([0.1, 1.0, 1.0]), np.array([3.0, 2.5, 2.7]))
    assert pool.Y.shape == (2, 2) and pool.optimum == 2.5 and np.isnan(pool.Y[0, 0])


@pytest.mark.slow
def test_multi_fidelity_study_end_to_end(recipe_dict, tmp_path):
    recipe_dict["proxy"]["fidelities"] = [{"name": "small", "tokens": 2048, "width": 16, "heads": 2},
                                          {"name": "full"}]
    recipe_dict["search"].update(initial_fidelities=["small", "full"], proposer="mfbo", rounds=0)
    recipe = write_recipe(tmp_path / "mf.yaml", recipe_dict)
    res = json.loads(cli("run", str(recipe), "--json", cwd=tmp_path).stdout)
    assert res["initial_added"] == 12 and res["rounds"][0]["launched"] == {"done": 12, "failed": 0}
    props = res["rounds"][0]["proposals"]
    assert len(props) == 2 and {p["fidelity"] for p in props} <= {"small", "full"}
    names = {s["name"] for s in res["rounds"][0]["fit"]["scores"]}
    assert "mfgp" in names and "bimix" in names  # multi-fidelity families were candidates
    cli("export", str(recipe), "--format", "parquet", "--out", "all.parquet", cwd=tmp_path)
    df = pd.read_parquet(tmp_path / "all.parquet")
    done = df[df["status"] == "done"]
    assert sorted(done["fidelity"].value_counts().to_dict().items()) == [("full", 6), ("small", 6)]
    small = done[done["fidelity"] == "small"]
    assert ((0 < small["fidelity_value"]) & (small["fidelity_value"] < 0.5)).all() and (small["tokens"] == 2048).all()
    assert (done.loc[done["fidelity"] == "full", "fidelity_value"] == 1.0).all()
    assert res["best"]["run_id"] in set(done.loc[done["fidelity"] == "full", "run_id"])  # best is at the target
    rep = json.loads(cli("replay", str(recipe), "--seeds", "1", "--budget", "3", "--strategies", "random,mf-bo",
                         "--out", "r.png", "--json", cwd=tmp_path).stdout)
    assert [r["strategy"] for r in rep["summary"]] == ["random", "mf-bo"] and (tmp_path / "r.png").exists()
    ar = json.loads(cli("propose", str(recipe), "--method", "mfar", "--n", "2", "--json", cwd=tmp_path).stdout)
    why = ar["reason"]  # the evidence decides whether small runs pay, and the output says so
    shown = json.loads(cli("status", str(recipe), "--json", cwd=tmp_path).stdout)["last_proposal"]
    assert shown["method"] == "mfar" and shown["reason"] == why  # and status says so later
    assert why.startswith("small (cost ") and ("does not pay" in why or " pays:" in why)
    if "does not pay" in why:
        assert [p["fidelity"] for p in ar["proposals"]] == ["full", "full"]
    else:
        assert [p["fidelity"] for p in ar["proposals"]] == ["small", "small"]  # 6 cheap runs: the batch goes on


def test_weak_family_has_poor_cheap_ranks_and_a_plateau():
    from mixsearch.surrogate.cv import spearman

    X = np.random.default_rng(0).dirichlet(np.ones(5), 2000)
    strong, weak = MultiFidelityBenchmark.random(5, 0), MultiFidelityBenchmark.weak(5, 0)
    assert spearman(weak(X, 0.01), weak(X, 1.0)) < 0.5 < spearman(strong(X, 0.01), strong(X, 1.0))
    y = weak(X, 1.0)
    near = np.mean(y <= y.min() + 0.1 * (np.ptp(strong(X, 1.0))))  # share of mixtures near the optimum
    assert near > 2 * np.mean(strong(X, 1.0) <= strong(X, 1.0).min() + 0.1 * np.ptp(strong(X, 1.0)))


def test_partial_pools_curves_and_mf_bo_fallback():
    """A pool whose cheap fidelity misses most mixtures; mf-bo must never 'run' a missing cell.
    On the weak family it stops using a cheap fidelity that ranks the target poorly."""
    from mixsearch.replay.bench import Pool, regret_curves

    full = synthetic_pool(4, 60, seed=3, family="weak")
    Y = full.Y.copy()
    Y[::2, 0] = np.nan  # half the mixtures were never run at the cheapest fidelity
    pool = Pool(full.X, full.fids, Y)
    traces = replay(pool, ["random", "mf-bo"], budget=6.0, seed=0)
    assert all(math.isfinite(b) for b in traces[1].best[-3:])
    curves = regret_curves([traces], [pool.optimum], points=10)
    assert set(curves["strategy"]) == {"random", "mf-bo"} and (curves["q25"] <= curves["q75"]).all()


def test_band_for_a_higher_is_better_score():
    """A negated score has a negative optimum: the 1% band must lie above it, not below (unreachable)."""
    from mixsearch.replay.bench import Pool, band

    assert band(2.0, 0.01) == 2.02 and band(-50.0, 0.01) == -49.5
    full = synthetic_pool(4, 50, seed=2)
    pool = Pool(full.X, full.fids, -full.Y)  # as a higher-is-better score imports
    (t,) = replay(pool, ["random"], budget=50.0, seed=0, tolerance=0.01)
    table = summarize([[t]], [pool.optimum], tolerance=0.01)
    assert table["reached"].iloc[0] == 1.0 and t.best[-1] <= band(pool.optimum, 0.01)


def test_mf_ar_trusts_an_informative_cheap_fidelity_and_survives_a_useless_one():
    """mf-ar: with a cheap fidelity that ranks like the target, its first target run (picked by the
    cheap model) is within 1% of the pool's optimum after its planned cheap batch; with a cheap
    fidelity of pure noise it still gets there, paying target runs like plain BO."""
    from mixsearch.propose.evidence import plan
    from mixsearch.replay.bench import Pool, band

    full = synthetic_pool(4, 150, seed=4)
    target = full.Y[:, -1]
    informative = Pool(full.X, full.fids[[0, -1]], np.column_stack([target + 0.3, target]))
    (t,) = replay(informative, ["mf-ar"], budget=20.0, seed=0, tolerance=0.01)
    assert t.best[-1] <= band(informative.optimum, 0.01)
    cheap_first = plan("f0", 0.01, 20.0).runs
    assert cheap_first > 0 and t.cost[-1] <= cheap_first * 0.01 + 1.0 + 1e-9  # the cheap batch, then one target run

    noise = np.random.default_rng(0).normal(size=len(target))
    useless = Pool(full.X, full.fids[[0, -1]], np.column_stack([noise, target]))
    (t,) = replay(useless, ["mf-ar"], budget=40.0, seed=0, tolerance=0.01)
    assert t.best[-1] <= band(useless.optimum, 0.01)
