"""Every surrogate predicts in bounded memory, chunk by chunk, for any number of candidates."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.surrogate import make_surrogate
from mixsearch.surrogate.base import TrainSet, chunked, known_surrogates
from mixsearch.replay.synthetic import MultiFidelityBenchmark

D = 3


@pytest.fixture(scope="module")
def data() -> TrainSet:
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(D), size=24)
    fid = np.tile([0.1, 1.0], 12)
    return TrainSet(X, MultiFidelityBenchmark.random(D, 0)(X, fid, noise=0.003, seed=1), fid)


def test_chunked_never_passes_more_than_the_chunk():
    sizes: list[int] = []

    def fn(X, fid):
        sizes.append(len(X))
        return X.sum(1) + fid

    X, fid = np.ones((10, 2)), np.arange(10.0)
    out = chunked(fn, X, fid, 4)
    assert sizes == [4, 4, 2] and np.array_equal(out, 2 + fid)


@pytest.mark.parametrize("name", known_surrogates())
def test_predict_on_a_million_candidates(data, name):
    """GP predict must not build the full posterior covariance (10^5 candidates: 80 GB). LightGBM's
    1000 trees take about a minute per 10^6 rows on one core: 10^5 here, 10^6 in the benchmark."""
    model = make_surrogate(name, 0).fit(data)
    n = 100_000 if name == "lightgbm" else 1_000_000
    X = np.random.default_rng(2).dirichlet(np.ones(D), size=n)
    pred = model.predict(X)
    assert pred.shape == (n,) and np.isfinite(pred).all()
    std = model.predict_std(X)
    assert std is None if not model.has_std else (std.shape == (n,) and np.isfinite(std).all() and std.max() > 0)


def test_gp_predictions_match_botorch_posterior(data):
    """The chunked mean and marginal std equal BoTorch's posterior (computed there in one piece)."""
    import torch

    X = np.random.default_rng(4).dirichlet(np.ones(D), size=300)
    fid = np.repeat([0.1, 1.0], 150)
    for name in ("gp", "mfgp"):
        model = make_surrogate(name, 0).fit(data)
        model.chunk_rows = 64
        with torch.no_grad():
            post = model.model.posterior(torch.as_tensor(model._inputs(X, fid)))
        assert np.allclose(model.predict(X, fid), -post.mean.squeeze(-1).numpy(), atol=1e-9)
        assert np.allclose(model.predict_std(X, fid), post.variance.sqrt().squeeze(-1).numpy(), atol=1e-9)


@pytest.mark.parametrize("name", ["gp", "mfgp", "lightgbm", "mixing_law"])
def test_fitted_surrogates_survive_pickling(data, name):
    """The stored fit is a pickle; BoTorch's fidelity kernel holds a lambda and did not pickle."""
    import pickle

    model = make_surrogate(name, 0).fit(data)
    X = np.random.default_rng(5).dirichlet(np.ones(D), size=50)
    back = pickle.loads(pickle.dumps(model))
    assert np.allclose(back.predict(X), model.predict(X), atol=1e-9)


def test_lightgbm_predicts_the_same_on_its_threads_and_on_one(data, monkeypatch):
    """A large prediction on the main thread uses every usable CPU, one in a worker thread (a
    bootstrap's refits run beside each other); the predictions are the same."""
    from concurrent.futures import ThreadPoolExecutor

    from mixsearch.surrogate import lgbm

    model = make_surrogate("lightgbm", 0).fit(data)
    X = np.random.default_rng(1).dirichlet(np.ones(D), size=3000)
    monkeypatch.setattr(lgbm, "PARALLEL_ROWS", 1000)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert lgbm.predict_threads(len(X)) == 4 and lgbm.predict_threads(999) == 1
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(lgbm.predict_threads, len(X)).result() == 1
        beside = pool.submit(model.predict, X).result()
    assert np.array_equal(model.predict(X), beside)
