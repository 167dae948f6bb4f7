"""Propose the next batch of mixtures from a fitted surrogate, within the constrained simplex."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.cluster.vq import kmeans2

from mixsearch.mixtures import DECIMALS, Space, dedupe, finalize, sample
from mixsearch.recipe import Search
from mixsearch.surrogate.base import Surrogate

MIN_L1 = 0.02  # argmin: proposals at least this far (L1) from each other and from past runs


def _argmin(cands: np.ndarray, order: np.ndarray, n: int, taken: np.ndarray) -> list[np.ndarray]:
    picked: list[np.ndarray] = []
    for i in order:
        ref = np.vstack([taken, *picked])
        if len(ref) == 0 or np.abs(ref - cands[i]).sum(1).min() >= MIN_L1:
            picked.append(cands[i])
            if len(picked) == n:
                break
    return picked


def _regmix(cands: np.ndarray, order: np.ndarray, n: int, top_k: int, seed: int) -> list[np.ndarray]:
    """RegMix: the mean of the top-k predicted candidates. For a batch of n, the top n*k are
    split into n clusters (k-means) and each cluster's mean is a proposal; n=1 is RegMix exactly."""
    pool = cands[order[: min(len(order), top_k * n)]]
    if n == 1:
        return [pool.mean(0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, labels = kmeans2(pool, n, seed=seed, minit="++")
    return [pool[labels == c].mean(0) for c in range(n) if np.any(labels == c)]


def _fresh(W: np.ndarray, existing: np.ndarray) -> np.ndarray:
    """Rows of W that are not (at DECIMALS places) a past run."""
    same = np.all(np.abs(W[:, None, :] - existing[None, :, :]) < 0.5 * 10**-DECIMALS, -1)
    return W[~np.any(same, 1)]


def propose(surrogate: Surrogate, space: Space, n: int, cfg: Search, seed: int,
            existing: np.ndarray | None = None, method: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n new mixtures (rows in domain order) and their predicted objective, best first.

    Candidates are `cfg.candidates` draws from the recipe's sampler; proposals never repeat a
    past run (`existing`) and always lie on the simplex within bounds.
    """
    rng = np.random.default_rng(seed)
    existing = np.zeros((0, space.dim)) if existing is None else np.round(existing, DECIMALS)
    cands = sample(space, cfg.candidates, cfg.sampling, rng, rounded=False)
    order = np.argsort(surrogate.predict(cands), kind="stable")
    method = method or cfg.proposer
    picks = _regmix(cands, order, n, cfg.top_k, seed) if method == "regmix" else _argmin(cands, order, n, existing)
    out = _fresh(dedupe(finalize(np.array(picks), space)), existing)
    if len(out) < n:  # clusters collapsed or repeated past runs: fill with the best distinct candidates
        extra = _argmin(cands, order, n - len(out), np.vstack([existing, out]))
        if extra:
            out = _fresh(dedupe(np.vstack([out, finalize(np.array(extra), space)])), existing)
    out = out[:n]
    pred = surrogate.predict(out)
    best_first = np.argsort(pred, kind="stable")
    return out[best_first], pred[best_first]
