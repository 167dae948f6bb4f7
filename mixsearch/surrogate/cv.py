"""k-fold cross-validation of surrogates: Spearman rank correlation and MAE on held-out runs.

Folds split the target-fidelity runs; lower-fidelity runs are always in the training part
(multi-fidelity surrogates use them, the others ignore them). With a time budget, a candidate
whose projected cost (first fold's fit time × (folds + 1): the folds and the final fit) exceeds
it is skipped after that first fold, and its score says so.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from mixsearch.surrogate.base import TrainSet, make_surrogate

SPEARMAN_TIE = 0.01


@dataclass(frozen=True)
class CVScore:
    name: str
    spearman: float
    mae: float
    fit_seconds: float
    folds: int
    skipped: str | None = None  # why the candidate was not scored (over the time budget)
    predicted: np.ndarray | None = field(default=None, repr=False, compare=False)  # out-of-fold
    actual: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"name": self.name, "spearman": self.spearman, "mae": self.mae, "fit_seconds": self.fit_seconds,
                "folds": self.folds, "skipped": self.skipped}


class OverBudget(Exception):
    """A candidate's projected cross-validation + fit time exceeds the budget."""


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation; 0 when either side is constant."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.nan_to_num(np.corrcoef(_ranks(a), _ranks(b))[0, 1]))


def _ranks(v: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank (as scipy's rankdata), in NumPy alone."""
    v = np.asarray(v, dtype=float)
    order = np.argsort(v, kind="stable")
    _, first, counts = np.unique(v[order], return_index=True, return_counts=True)
    ranks = np.empty(len(v))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    return ranks


def out_of_fold(name: str, data: TrainSet, folds: int, seed: int,
                budget_s: float | None = None) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Each target-fidelity run predicted by a surrogate fitted without its fold:
    (predictions, actual objectives, folds, seconds per fit). Raises OverBudget after the first
    fold when (folds + 1) fits would take longer than budget_s."""
    target = np.flatnonzero(np.isclose(data.fidelities, 1.0))
    k = max(2, min(folds, len(target)))
    order = np.random.default_rng(seed).permutation(target)
    pred = {}
    start = time.perf_counter()
    warm = None  # folds share most runs: each fit starts where the previous fold's ended
    for i, fold in enumerate(np.array_split(order, k)):
        train = np.setdiff1d(np.arange(len(data)), fold)
        model = make_surrogate(name, seed)
        model.warm_start = warm
        model.fit(data.subset(train))
        warm = model.warm_state()
        pred.update(zip(fold, model.predict(data.X[fold])))
        projected = (time.perf_counter() - start) * (k + 1)
        if i == 0 and budget_s is not None and projected > budget_s:
            raise OverBudget(f"projected {projected:.0f} s > fit budget {budget_s:g} s")
    idx = np.sort(target)
    return np.array([pred[i] for i in idx]), data.y[idx], k, (time.perf_counter() - start) / k


def cross_validate(name: str, data: TrainSet, folds: int, seed: int, budget_s: float | None = None) -> CVScore:
    """Spearman and MAE of the out-of-fold predictions of every target-fidelity run (kept in the score)."""
    try:
        pred, actual, k, seconds = out_of_fold(name, data, folds, seed, budget_s)
    except OverBudget as exc:
        return CVScore(name, math.nan, math.nan, math.nan, folds, skipped=str(exc))
    return CVScore(name, spearman(pred, actual), float(np.mean(np.abs(pred - actual))), seconds, k,
                   predicted=pred, actual=actual)


def select(names: list[str], data: TrainSet, folds: int, seed: int,
           budget_s: float | None = None) -> tuple[str, list[CVScore]]:
    """Score every applicable candidate; the best has the highest Spearman, where Spearmans
    within SPEARMAN_TIE of the highest count as ties, broken by the lower MAE. With a budget,
    candidates over it are skipped (listed with the reason); linear is never skipped."""
    usable = [n for n in names if make_surrogate(n, seed).applicable(data)] or ["linear"]
    scores = [cross_validate(n, data, folds, seed, None if n == "linear" or len(usable) == 1 else budget_s)
              for n in usable]
    scored = [s for s in scores if s.skipped is None]
    if not scored:
        scored = [cross_validate("linear", data, folds, seed)]
        scores.append(scored[0])
    top = max(s.spearman for s in scored)
    best = min((s for s in scored if s.spearman >= top - SPEARMAN_TIE), key=lambda s: s.mae)
    return best.name, scores
