"""Which cheap fidelities are worth running: their rank correlation with the target, measured
online on mixtures that were run at both."""

from __future__ import annotations

import numpy as np

from mixsearch.surrogate.base import TrainSet

MIN_PAIRS = 5  # mixtures seen at a cheap fidelity and at the target before their correlation counts
MIN_RANK_CORR = 0.5  # a cheap fidelity ranking the target worse than this is no longer proposed


def rank_correlation(data: TrainSet, fidelity: float) -> tuple[float, int]:
    """Spearman between the runs at `fidelity` and at the target over the mixtures run at both
    (means where a mixture was run more than once), and how many such mixtures there are."""
    from mixsearch.surrogate.cv import spearman

    fid = data.fidelities
    keys = [tuple(r) for r in np.round(data.X, 4)]
    cheap: dict[tuple, list[float]] = {}
    target: dict[tuple, list[float]] = {}
    for k, f, y in zip(keys, fid, data.y):
        if np.isclose(f, fidelity):
            cheap.setdefault(k, []).append(y)
        elif np.isclose(f, 1.0):
            target.setdefault(k, []).append(y)
    both = [k for k in cheap if k in target]
    if len(both) < 2:
        return 1.0, len(both)
    return spearman(np.array([np.mean(cheap[k]) for k in both]), np.array([np.mean(target[k]) for k in both])), len(both)


def useful(data: TrainSet, values: list[float]) -> list[float]:
    """The fidelity values (the target always) whose measured rank correlation with the target is
    at least MIN_RANK_CORR, or not measured yet (fewer than MIN_PAIRS shared mixtures)."""
    keep = []
    for v in values:
        rho, pairs = rank_correlation(data, v) if v < 1.0 else (1.0, 0)
        if v >= 1.0 or pairs < MIN_PAIRS or rho >= MIN_RANK_CORR:
            keep.append(v)
    return keep
