"""k-fold cross-validation of surrogates: Spearman rank correlation and MAE on held-out runs."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import spearmanr

from mixsearch.surrogate.base import make_surrogate


@dataclass(frozen=True)
class CVScore:
    name: str
    spearman: float
    mae: float
    fit_seconds: float
    folds: int

    def to_dict(self) -> dict:
        return asdict(self)


def cross_validate(name: str, X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> CVScore:
    """Out-of-fold predictions for every run; Spearman and MAE computed over all of them."""
    n = len(y)
    k = max(2, min(folds, n))
    order = np.random.default_rng(seed).permutation(n)
    pred = np.empty(n)
    start = time.perf_counter()
    for fold in np.array_split(order, k):
        train = np.setdiff1d(order, fold)
        pred[fold] = make_surrogate(name, seed).fit(X[train], y[train]).predict(X[fold])
    seconds = (time.perf_counter() - start) / k
    rho = spearmanr(pred, y).statistic if np.ptp(pred) > 0 and np.ptp(y) > 0 else 0.0
    return CVScore(name, float(np.nan_to_num(rho)), float(np.mean(np.abs(pred - y))), seconds, k)


def select(names: list[str], X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> tuple[str, list[CVScore]]:
    """Score every candidate; the best has the highest Spearman, ties broken by lower MAE."""
    scores = [cross_validate(n, X, y, folds, seed) for n in names]
    best = max(scores, key=lambda s: (round(s.spearman, 6), -s.mae))
    return best.name, scores
