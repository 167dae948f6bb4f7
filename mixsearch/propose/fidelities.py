"""Which cheap fidelities are worth running: their rank correlation with the target, measured
online on mixtures that were run at both."""

from __future__ import annotations

import numpy as np

from mixsearch.mixtures import DECIMALS
from mixsearch.surrogate.base import TrainSet

MIN_PAIRS = 5  # mixtures seen at a cheap fidelity and at the target before their correlation counts
MIN_RANK_CORR = 0.5  # a cheap fidelity ranking the target worse than this is no longer proposed


def paired(data: TrainSet, a: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mixtures run at both fidelities a and b, with their results at each (means where a
    mixture was run more than once at a fidelity)."""
    keys = [tuple(r) for r in np.round(data.X, DECIMALS)]
    runs: tuple[dict[tuple, list[float]], dict[tuple, list[float]]] = ({}, {})
    first: dict[tuple, np.ndarray] = {}
    for k, x, f, y in zip(keys, data.X, data.fidelities, data.y):
        for at, value in zip(runs, (a, b)):
            if np.isclose(f, value):
                at.setdefault(k, []).append(y)
                first.setdefault(k, x)
    both = [k for k in runs[0] if k in runs[1]]
    return (np.array([first[k] for k in both]).reshape(len(both), data.X.shape[1]),
            np.array([np.mean(runs[0][k]) for k in both]), np.array([np.mean(runs[1][k]) for k in both]))


def rank_correlation(data: TrainSet, fidelity: float) -> tuple[float, int]:
    """Spearman between the runs at `fidelity` and at the target over the mixtures run at both
    (means where a mixture was run more than once), and how many such mixtures there are."""
    from mixsearch.surrogate.cv import spearman

    _, cheap, target = paired(data, fidelity, 1.0)
    if len(cheap) < 2:
        return 1.0, len(cheap)
    return spearman(cheap, target), len(cheap)


def useful(data: TrainSet, values: list[float]) -> list[float]:
    """The fidelity values (the target always) whose measured rank correlation with the target is
    at least MIN_RANK_CORR, or not measured yet (fewer than MIN_PAIRS shared mixtures)."""
    keep = []
    for v in values:
        rho, pairs = rank_correlation(data, v) if v < 1.0 else (1.0, 0)
        if v >= 1.0 or pairs < MIN_PAIRS or rho >= MIN_RANK_CORR:
            keep.append(v)
    return keep
