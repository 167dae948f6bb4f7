"""k-fold cross-validation of surrogates: Spearman rank correlation and MAE on held-out runs.

Folds split the target-fidelity runs; lower-fidelity runs are always in the training part
(multi-fidelity surrogates use them, the others ignore them).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import spearmanr

from mixsearch.surrogate.base import TrainSet, make_surrogate

SPEARMAN_TIE = 0.01


@dataclass(frozen=True)
class CVScore:
    name: str
    spearman: float
    mae: float
    fit_seconds: float
    folds: int

    def to_dict(self) -> dict:
        return asdict(self)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation; 0 when either side is constant."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.nan_to_num(spearmanr(a, b).statistic))


def out_of_fold(name: str, data: TrainSet, folds: int, seed: int) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Each target-fidelity run predicted by a surrogate fitted without its fold:
    (predictions, actual objectives, folds, seconds per fit)."""
    target = np.flatnonzero(np.isclose(data.fidelities, 1.0))
    k = max(2, min(folds, len(target)))
    order = np.random.default_rng(seed).permutation(target)
    pred = {}
    start = time.perf_counter()
    for fold in np.array_split(order, k):
        train = np.setdiff1d(np.arange(len(data)), fold)
        model = make_surrogate(name, seed).fit(data.subset(train))
        pred.update(zip(fold, model.predict(data.X[fold])))
    idx = np.sort(target)
    return np.array([pred[i] for i in idx]), data.y[idx], k, (time.perf_counter() - start) / k


def cross_validate(name: str, data: TrainSet, folds: int, seed: int) -> CVScore:
    """Spearman and MAE of the out-of-fold predictions of every target-fidelity run."""
    pred, actual, k, seconds = out_of_fold(name, data, folds, seed)
    return CVScore(name, spearman(pred, actual), float(np.mean(np.abs(pred - actual))), seconds, k)


def select(names: list[str], data: TrainSet, folds: int, seed: int) -> tuple[str, list[CVScore]]:
    """Score every applicable candidate; the best has the highest Spearman, where Spearmans
    within SPEARMAN_TIE of the highest count as ties, broken by the lower MAE."""
    usable = [n for n in names if make_surrogate(n, seed).applicable(data)] or ["linear"]
    scores = [cross_validate(n, data, folds, seed) for n in usable]
    top = max(s.spearman for s in scores)
    best = min((s for s in scores if s.spearman >= top - SPEARMAN_TIE), key=lambda s: s.mae)
    return best.name, scores
