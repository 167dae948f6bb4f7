"""k-fold cross-validation of surrogates: Spearman rank correlation and MAE on held-out runs.
In large studies only the first folds that hold out HELD_OUT runs are fitted.

Folds split the target-fidelity runs; lower-fidelity runs are always in the training part
(multi-fidelity surrogates use them, the others ignore them). With a time budget, a candidate
whose projected cost (first fold's fit time × (folds + 1): the folds and the final fit) exceeds
it is skipped after that first fold, and its score says so.

A surrogate is trusted only where it beats chance: its out-of-fold Spearman is significantly
above 0 (one-sided, at the number of runs it predicted; `chance_bound`), at level CHANCE_ALPHA
divided by the number of candidates scored (Bonferroni: `auto` keeps the best of several scores).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from mixsearch.surrogate.base import TrainSet, make_surrogate

SPEARMAN_TIE = 0.01
CHANCE_ALPHA = 0.05

POOR_RANK = 0.6  # a Spearman rank correlation below this says too little to trust
HELD_OUT = 2_000  # held-out runs that measure a Spearman to about ±0.02: past them, folds are not fitted


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
    candidates: int = 1  # how many surrogates were scored beside it (the chance test corrects for them)

    @property
    def runs(self) -> int:
        """How many runs the out-of-fold predictions cover (0 when not scored)."""
        return 0 if self.actual is None else len(self.actual)

    @property
    def beats_chance(self) -> bool:
        """Whether it ranks held-out runs significantly better than chance (see `chance_bound`)."""
        return self.skipped is None and self.runs > 0 and self.spearman >= self.chance_bound

    @property
    def chance_bound(self) -> float:
        """The least Spearman that beats chance at its runs and number of candidates."""
        return chance_bound(self.runs, CHANCE_ALPHA / self.candidates)

    def to_dict(self) -> dict:
        return {"name": self.name, "spearman": self.spearman, "mae": self.mae, "fit_seconds": self.fit_seconds,
                "folds": self.folds, "skipped": self.skipped, "candidates": self.candidates,
                "beats_chance": self.beats_chance}


class OverBudget(Exception):
    """A candidate's projected cross-validation + fit time exceeds the budget."""


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation; 0 when either side is constant."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.nan_to_num(np.corrcoef(_ranks(a), _ranks(b))[0, 1]))


def chance_bound(n: int, alpha: float = CHANCE_ALPHA) -> float:
    """The least Spearman on n runs that is significantly > 0 (one-sided test at level alpha):
    Spearman's null distribution in its t approximation, t = r sqrt((n - 2) / (1 - r²)) on n - 2
    degrees of freedom (0.55 at 10 runs, 0.31 at 30, 0.17 at 100); 1 below 4 runs."""
    from scipy.stats import t

    if n < 4:
        return 1.0
    tc = float(t.ppf(1 - alpha, n - 2))
    return tc / math.sqrt(n - 2 + tc**2)


def chance_warning(score: CVScore, auto: bool) -> str | None:
    """One line when the chosen surrogate does not beat chance (None when it does); with `auto`,
    no candidate did, and proposals explore instead."""
    if score.beats_chance:
        return None
    level = f"one-sided {CHANCE_ALPHA:.0%}" + (f" over {score.candidates} surrogates" if score.candidates > 1 else "")
    measured = f"CV Spearman {score.spearman:.2f} on {score.runs} runs, {score.chance_bound:.2f} needed ({level})"
    if auto:
        return (f"no surrogate ranks held-out runs better than chance (best {score.name}: {measured}): "
                f"its predictions are not trusted; proposals explore (space-filling) until one does")
    return f"{score.name} does not rank held-out runs better than chance ({measured}): its predictions are not trusted"


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
    """Target-fidelity runs predicted by a surrogate fitted without their fold: (predictions,
    actual objectives, folds, seconds per fit), in run order. Folds are fitted in turn until
    HELD_OUT runs are held out (every fold in studies of up to HELD_OUT runs): the
    runs of the folds left unfitted have no prediction. Raises OverBudget after the first fold
    when the fits needed (the folds and the final fit) would take longer than budget_s."""
    target = np.flatnonzero(np.isclose(data.fidelities, 1.0))
    k = max(2, min(folds, len(target)))
    order = np.random.default_rng(seed).permutation(target)
    parts = np.array_split(order, k)
    needed = next(i + 1 for i in range(k) if i == k - 1 or sum(map(len, parts[: i + 1])) >= HELD_OUT)
    pred = {}
    start = time.perf_counter()
    warm = None  # folds share most runs: each fit starts where the previous fold's ended
    for i, fold in enumerate(parts[:needed]):
        train = np.setdiff1d(np.arange(len(data)), fold)
        model = make_surrogate(name, seed)
        model.warm_start = warm
        model.fit(data.subset(train))
        warm = model.warm_state()
        pred.update(zip(fold, model.predict(data.X[fold])))
        projected = (time.perf_counter() - start) * (needed + 1)
        if i == 0 and budget_s is not None and projected > budget_s:
            raise OverBudget(f"projected {projected:.0f} s > fit budget {budget_s:g} s")
    idx = np.sort(np.fromiter(pred, dtype=int))
    return np.array([pred[i] for i in idx]), data.y[idx], k, (time.perf_counter() - start) / needed


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
    within SPEARMAN_TIE of the highest count as ties, broken by the lower MAE, among those that
    beat chance when any does (else the best score, which `CVScore.beats_chance` marks untrusted).
    With a budget, candidates over it are skipped (listed with the reason); linear is never skipped."""
    usable = [n for n in names if make_surrogate(n, seed).applicable(data)] or ["linear"]
    scores = [cross_validate(n, data, folds, seed, None if n == "linear" or len(usable) == 1 else budget_s)
              for n in usable]
    if not any(s.skipped is None for s in scores):
        scores.append(cross_validate("linear", data, folds, seed))
    k = sum(s.skipped is None for s in scores)
    scores = [replace(s, candidates=k) if s.skipped is None else s for s in scores]
    return pick(scores).name, scores


def pick(scores: list[CVScore]) -> CVScore:
    """`select`'s choice among scored candidates: the highest Spearman (within SPEARMAN_TIE, the
    lower MAE), among those that beat chance when any does."""
    scored = [s for s in scores if s.skipped is None]
    scored = [s for s in scored if s.beats_chance] or scored
    top = max(s.spearman for s in scored)
    return min((s for s in scored if s.spearman >= top - SPEARMAN_TIE), key=lambda s: s.mae)


def resampled_choices(scores: list[CVScore], resamples: int, seed: int) -> list[str]:
    """`pick` on each of `resamples` bootstrap resamples of the target runs, scoring every
    candidate on the same resampled out-of-fold predictions (no refit): which surrogate the
    selection would choose had other runs of the same kind been observed."""
    n = max((s.runs for s in scores if s.skipped is None), default=0)
    scored = [s for s in scores if s.skipped is None and s.runs == n > 0]
    if len(scored) < 2:
        return [s.name for s in scored] * resamples
    idx = np.random.default_rng([seed, 104729]).integers(0, n, (resamples, n))
    rho = {s.name: _row_spearman(s.predicted[idx], s.actual[idx]) for s in scored}
    mae = {s.name: np.abs(s.predicted[idx] - s.actual[idx]).mean(1) for s in scored}
    return [pick([replace(s, spearman=float(rho[s.name][b]), mae=float(mae[s.name][b])) for s in scored]).name
            for b in range(resamples)]


def _row_spearman(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """`spearman` of each row of A with the same row of B."""
    from scipy.stats import rankdata

    ra, rb = rankdata(A, axis=1), rankdata(B, axis=1)
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    den = np.sqrt((ra**2).sum(1) * (rb**2).sum(1))
    return np.divide((ra * rb).sum(1), den, out=np.zeros(len(A)), where=den > 0)
