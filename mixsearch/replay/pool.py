"""A pool of completed runs to replay: mixtures with their results at one or more fidelities (from a
study's runs or a synthetic family), and the trace of what a strategy bought from it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mixsearch.mixtures import DECIMALS
from mixsearch.replay.synthetic import FAMILIES


@dataclass(frozen=True)
class Pool:
    """N mixtures (N, d), fidelity values (F,) with the last = 1, and losses (N, F) (NaN: not run)."""

    X: np.ndarray
    fids: np.ndarray
    Y: np.ndarray

    @property
    def optimum(self) -> float:
        return float(np.nanmin(self.Y[:, -1]))


@dataclass
class Trace:
    strategy: str
    cost: list[float]
    best: list[float]
    reasons: list[str] = field(default_factory=list)  # the proposer's reason for each run bought ("" if none)
    runs: list[tuple[int, int]] = field(default_factory=list)  # each run bought: (pool row, fidelity index)

    def cost_to_reach(self, threshold: float) -> float:
        """Cumulative cost when the best target objective first reached `threshold` (inf: never)."""
        for c, b in zip(self.cost, self.best):
            if b <= threshold:
                return c
        return math.inf


def synthetic_pool(d: int, n: int, seed: int, noise: float = 0.003, alpha: float = 0.3,
                   family: str = "standard") -> Pool:
    """n Dirichlet(alpha) mixtures of d domains, each 'run' at every fidelity of a synthetic law
    of the family (synthetic.FAMILIES)."""
    bench = FAMILIES[family](d, seed)
    rng = np.random.default_rng(seed)
    X = rng.dirichlet(np.full(d, alpha), size=n)
    Y = np.column_stack([bench(X, f, noise=noise, seed=seed + i) for i, f in enumerate(bench.fidelities)])
    return Pool(X, np.array(bench.fidelities), Y)


def pool_from_runs(X: np.ndarray, fid: np.ndarray, y: np.ndarray) -> Pool:
    """A pool from completed runs: one row per distinct mixture, one column per fidelity."""
    keys = [tuple(r) for r in np.round(X, DECIMALS)]
    df = pd.DataFrame({"key": keys, "fid": np.round(fid, 6), "y": y})
    table = df.pivot_table(index="key", columns="fid", values="y", aggfunc="mean").sort_index(axis=1)
    if 1.0 not in table.columns:
        raise ValueError("the pool has no target-fidelity runs")
    return Pool(np.array(list(table.index)), table.columns.to_numpy(float), table.to_numpy(float))
