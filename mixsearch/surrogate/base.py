"""The surrogate contract, its training data, and the name registry."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib import import_module

import numpy as np


@dataclass(frozen=True)
class TrainSet:
    """Runs to fit on: mixtures X (n, d), objective y (n,), and optionally each run's fidelity in
    (0, 1] (1 = the target fidelity) and the losses the objective is a weighted sum of."""

    X: np.ndarray
    y: np.ndarray
    fid: np.ndarray | None = None
    parts: np.ndarray | None = None  # (n, m) losses with y = parts @ part_weights
    part_weights: np.ndarray | None = None
    noise_sd: float | None = None  # one run's seed-noise sd, measured by replicates: a GP's noise floor

    def __len__(self) -> int:
        return len(self.y)

    @property
    def fidelities(self) -> np.ndarray:
        return np.ones(len(self.y)) if self.fid is None else self.fid

    def subset(self, idx: np.ndarray) -> "TrainSet":
        return replace(self, X=self.X[idx], y=self.y[idx],
                       fid=None if self.fid is None else self.fid[idx],
                       parts=None if self.parts is None else self.parts[idx])

    def target_only(self) -> "TrainSet":
        return self.subset(np.flatnonzero(np.isclose(self.fidelities, 1.0)))


FIT_THREADS = 1  # torch threads while fitting/predicting: on a shared 2-core machine, 2 threads made a
# 512-run GP's likelihood evaluation 5-10x slower than 1 (threads wait for each other at every op)


@contextmanager
def torch_threads(n: int = FIT_THREADS) -> Iterator[None]:
    """Limit torch's intra-op threads (if torch is loaded at all) for the duration."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def chunked(fn: Callable[[np.ndarray, np.ndarray | None], np.ndarray], X: np.ndarray, fid: np.ndarray | None,
            rows: int) -> np.ndarray:
    """fn applied to at most `rows` rows of X (and fid) at a time, the results concatenated."""
    X = np.atleast_2d(X)
    if len(X) <= rows:
        return fn(X, fid)
    return np.concatenate([fn(X[i: i + rows], None if fid is None else fid[i: i + rows])
                           for i in range(0, len(X), rows)])


class Surrogate(ABC):
    """fit(TrainSet) then predict(X) -> predicted objective at the target fidelity (m,).

    Single-fidelity surrogates see only the target-fidelity runs; multi-fidelity ones see all
    and take fidelities in predict. Implementations are deterministic for a seed. Predictions
    are made `chunk_rows` candidates at a time, so memory stays bounded for any number of them.
    """

    name: str = ""
    multi_fidelity: bool = False
    has_std: bool = False
    # predictions piecewise constant (trees) or monotone along a direction (linear): the model's
    # optimum is a jagged cell or a corner, so the recommendation is RegMix's top-k average instead
    piecewise: bool = False
    independent_fits: bool = False  # fits and predictions of separate instances may run in parallel threads
    chunk_rows: int = 65_536

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.warm_start: object | None = None  # a warm_state() of an earlier fit on similar runs

    def warm_state(self) -> object | None:
        """What a later fit on similar runs (another CV fold, the next replay step) may start from;
        None for families that always fit from scratch."""
        return None

    def min_runs(self, dim: int) -> int:
        """Fewest runs this family can be fitted on meaningfully (target-fidelity runs, or all
        runs for multi-fidelity families)."""
        return 4

    def applicable(self, data: TrainSet) -> bool:
        n = len(data) if self.multi_fidelity else len(data.target_only())
        return n >= self.min_runs(data.X.shape[1])

    def fit(self, data: TrainSet) -> "Surrogate":
        with torch_threads():
            self._fit(data if self.multi_fidelity else data.target_only())
        return self

    @abstractmethod
    def _fit(self, data: TrainSet) -> None: ...

    @abstractmethod
    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray: ...

    def _predict_std(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError(f"{self.name} has no predictive standard deviation")

    def predict(self, X: np.ndarray, fid: np.ndarray | None = None) -> np.ndarray:
        with torch_threads():
            return chunked(self._predict, X, fid, self.chunk_rows)

    def predict_std(self, X: np.ndarray, fid: np.ndarray | None = None) -> np.ndarray | None:
        """Posterior standard deviation (marginal), for families that have one."""
        if not self.has_std:
            return None
        with torch_threads():
            return chunked(self._predict_std, X, fid, self.chunk_rows)


SURROGATES: dict[str, type[Surrogate]] = {}


def register(cls: type[Surrogate]) -> type[Surrogate]:
    SURROGATES[cls.name] = cls
    return cls


# the built-in families and their modules, imported only when a family is used (gp needs torch)
BUILTINS = {"linear": "linear", "loglinear": "linear", "lightgbm": "lgbm", "mixing_law": "laws", "bimix": "laws",
            "gp": "gp", "mfgp": "gp"}


def surrogate_class(name: str) -> type[Surrogate]:
    """The registered family `name` (a built-in one's module imported on first use)."""
    if name not in SURROGATES and name in BUILTINS:
        import_module(f"mixsearch.surrogate.{BUILTINS[name]}")  # registers its families
    if name not in SURROGATES:
        raise KeyError(f"unknown surrogate '{name}' (known: {', '.join(known_surrogates())})")
    return SURROGATES[name]


def make_surrogate(name: str, seed: int = 0) -> Surrogate:
    return surrogate_class(name)(seed=seed)


def known_surrogates() -> list[str]:
    return sorted(set(SURROGATES) | set(BUILTINS))
