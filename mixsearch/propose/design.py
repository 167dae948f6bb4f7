"""Space-filling designs: the first target runs of a search, before a model can rank mixtures.

The k-th design run is the k-th point of a scrambled Sobol sequence on the constrained simplex
(uniform there, low discrepancy), so a search's first picks cover the space whatever order a
random search would take; with a finite candidate set (replay) each point becomes the nearest
candidate not yet taken.
"""

from __future__ import annotations

import numpy as np

from mixsearch.mixtures import Space, sample
from mixsearch.recipe.search import Sampling


def sobol_points(space: Space, start: int, m: int, seed: int) -> np.ndarray:
    """Points start .. start + m - 1 of the seed's scrambled Sobol sequence on the simplex."""
    return sample(space, start + m, Sampling(method="sobol"), np.random.default_rng(seed), rounded=False)[start:]


def nearest_distinct(cands: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Per point, the index of the nearest candidate not already picked for an earlier point."""
    picks: list[int] = []
    for p in points:
        dist = ((cands - p) ** 2).sum(1)
        dist[picks] = np.inf
        if not np.isfinite(dist).any():
            break
        picks.append(int(np.argmin(dist)))
    return np.array(picks, dtype=int)
