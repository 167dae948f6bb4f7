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


def out_of_fold(name: str, X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> tuple[np.ndarray, int, float]:
    """Each run predicted by a surrogate fitted without its fold: (predictions, folds, seconds per fit)."""
    n = len(y)
    k = max(2, min(folds, n))
    order = np.random.default_rng(seed).permutation(n)
    pred = np.empty(n)
    start = time.perf_counter()
    for fold in np.array_split(order, k):
        train = np.setdiff1d(order, fold)
        pred[fold] = make_surrogate(name, seed).fit(X[train], y[train]).predict(X[fold])
    return pred, k, (time.perf_counter() - start) / k


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation; 0 when either side is constant."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.nan_to_num(spearmanr(a, b).statistic))


def cross_validate(name: str, X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> CVScore:
    """Spearman and MAE of the out-of-fold predictions of every run."""
    pred, k, seconds = out_of_fold(name, X, y, folds, seed)
    return CVScore(name, spearman(pred, y), float(np.mean(np.abs(pred - y))), seconds, k)


def select(names: list[str], X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> tuple[str, list[CVScore]]:
    """Score every candidate; the best has the highest Spearman, ties broken by lower MAE."""
    scores = [cross_validate(n, X, y, folds, seed) for n in names]
    best = max(scores, key=lambda s: (round(s.spearman, 6), -s.mae))
    return best.name, scores
