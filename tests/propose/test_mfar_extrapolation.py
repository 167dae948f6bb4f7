"""mf-ar / mfar with two cheap fidelities: a distortion the cheap fidelities share, shrinking as the
fidelity grows, is cancelled by extrapolating them to the target (linear in log cost). The second
cheap fidelity costs 0.05, so its MID_FIRST runs cost less than MID_SHARE of a target run."""

from __future__ import annotations

import numpy as np

from mixsearch.mixtures import Space
from mixsearch.propose.base import FidelityLevel, ProposalContext
from mixsearch.propose.batch import propose
from mixsearch.propose.autoregressive import MID_FIRST, steps_to_target
from mixsearch.propose.evidence import plan
from mixsearch.recipe.schema import Search
from mixsearch.replay.bench import Pool, band, replay
from mixsearch.surrogate.base import TrainSet

FIDS = np.array([0.01, 0.05, 1.0])
K = steps_to_target(0.01, 0.05)  # about 2.86
CHEAP_FIRST = plan("small", 0.01, None).runs  # the cheap batch the evidence plans (no budget given)
OPT, DECOY = np.array([0.55, 0.25, 0.1, 0.1]), np.array([0.05, 0.05, 0.15, 0.75])


def _losses(W: np.ndarray) -> np.ndarray:
    """(n, 3): the target has its optimum at OPT; the cheap fidelities add a distortion z (best at
    DECOY) with weight 1 at 0.01 and 1 - 1/K at 0.05 (it vanishes at the target along the log-cost
    line), so both cheap fidelities rank DECOY's side first."""
    target = 1.0 + ((W - OPT) ** 2).sum(1)
    z = -2.0 * np.exp(-4.0 * ((W - DECOY) ** 2).sum(1))
    return np.column_stack([target + z + 0.3, target + (1 - 1 / K) * z + 0.1, target])


def test_steps_to_target_is_the_log_cost_distance():
    assert np.isclose(steps_to_target(0.01, 0.1), 2.0) and np.isclose(steps_to_target(0.1, 0.5), np.log(10) / np.log(5))
    assert np.isclose(K, np.log(100) / np.log(5))


def test_mf_ar_extrapolates_two_cheap_fidelities_that_share_a_misleading_distortion():
    """The cheap batch, then MID_FIRST runs at 0.05 on cheaply run mixtures, then a first target run
    that is within 5% of the pool's optimum, although either cheap fidelity alone points at DECOY
    (the cheap model's best, near DECOY, lies far outside the band)."""
    X = np.random.default_rng(3).dirichlet(np.ones(4), size=200)
    Y = _losses(X)
    assert np.abs(X[np.argmin(Y[:, 0])] - DECOY).sum() < np.abs(X[np.argmin(Y[:, 0])] - OPT).sum()
    pool = Pool(X, FIDS, Y)
    (t,) = replay(pool, ["mf-ar"], budget=3.0, seed=0)
    first = next(i for i, b in enumerate(t.best) if np.isfinite(b))
    assert np.isclose(t.cost[first], plan("f0", 0.01, 3.0).runs * 0.01 + MID_FIRST * 0.05 + 1.0)
    assert t.best[first] <= band(pool.optimum, 0.05)


def _ctx(data: TrainSet, pending: np.ndarray | None = None, pending_fid: np.ndarray | None = None) -> ProposalContext:
    space = Space(tuple("abcd"), np.zeros(4), np.ones(4), np.full(4, 0.25))
    levels = [FidelityLevel("small", 0.01), FidelityLevel("mid", 0.05), FidelityLevel("target", 1.0)]
    return ProposalContext(None, space, data, levels, Search(candidates=5000), 0, data.X, data.fidelities,
                           pending=pending, pending_fid=pending_fid)


def test_mfar_runs_the_second_cheap_fidelity_on_cheaply_run_mixtures_then_targets_the_extrapolation():
    """After the cheap batch, mfar proposes mid-fidelity runs of mixtures already run cheaply
    (distinct, none open there; open mid runs count toward MID_FIRST) until MID_FIRST mixtures
    have both, then target runs, the first near the extrapolated optimum OPT although either
    cheap fidelity alone points at DECOY."""
    X = np.random.default_rng(0).dirichlet(np.ones(4), size=CHEAP_FIRST)
    data = TrainSet(X, _losses(X)[:, 0], np.full(CHEAP_FIRST, 0.01))
    opened = propose(_ctx(data, pending=X[:MID_FIRST], pending_fid=np.full(MID_FIRST, 0.05)), 2, "mfar")
    assert opened.fidelity == ["target"] * 2  # MID_FIRST already open at mid: no more of them
    mid_runs = 0
    while (prop := propose(_ctx(data), 3, "mfar")).fidelity[0] == "mid":
        assert set(prop.fidelity) == {"mid"} and len(np.unique(np.round(prop.W, 4), axis=0)) == len(prop.W)
        assert all(np.abs(X - w).sum(1).min() < 1e-3 for w in prop.W)  # cheaply run mixtures
        data = TrainSet(np.vstack([data.X, prop.W]), np.concatenate([data.y, _losses(prop.W)[:, 1]]),
                        np.concatenate([data.fidelities, np.full(len(prop.W), 0.05)]))
        mid_runs += len(prop.W)
        assert mid_runs <= MID_FIRST
    assert mid_runs == MID_FIRST and len(np.unique(np.round(data.X[CHEAP_FIRST:], 4), axis=0)) == MID_FIRST
    assert prop.fidelity == ["target"] * 3
    w = prop.W[0]
    assert np.abs(w - OPT).sum() < np.abs(w - DECOY).sum()
