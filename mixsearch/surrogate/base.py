"""The surrogate contract and the name registry."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Surrogate(ABC):
    """fit(X, y) on mixtures X (n, d) and objective values y (n,); predict(X) returns means (m,).

    Implementations are deterministic for a given seed and must not modify their inputs.
    """

    name: str = ""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray) -> "Surrogate": ...

    @abstractmethod
    def predict(self, X: np.ndarray) -> np.ndarray: ...


SURROGATES: dict[str, type[Surrogate]] = {}


def register(cls: type[Surrogate]) -> type[Surrogate]:
    SURROGATES[cls.name] = cls
    return cls


def make_surrogate(name: str, seed: int = 0) -> Surrogate:
    from mixsearch.surrogate import lgbm, linear  # noqa: F401  (registers the built-ins)

    if name not in SURROGATES:
        raise KeyError(f"unknown surrogate '{name}' (known: {', '.join(sorted(SURROGATES))})")
    return SURROGATES[name](seed=seed)


def known_surrogates() -> list[str]:
    from mixsearch.surrogate import lgbm, linear  # noqa: F401

    return sorted(SURROGATES)
