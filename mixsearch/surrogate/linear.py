"""Linear and log-linear regression on the mixture weights (minimum-norm least squares: the
weights sum to one, so the centred design is rank-deficient by construction)."""

from __future__ import annotations

import numpy as np

from mixsearch.surrogate.base import Surrogate, TrainSet, register


def _lstsq(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    x_mean, y_mean = X.mean(0), y.mean()
    return np.linalg.lstsq(X - x_mean, y - y_mean, rcond=None)[0], x_mean, y_mean


@register
class LinearSurrogate(Surrogate):
    name = "linear"
    piecewise = True

    def _fit(self, data: TrainSet) -> None:
        self.coef, self.x_mean, self.y_mean = _lstsq(data.X, data.y)

    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        return (X - self.x_mean) @ self.coef + self.y_mean


@register
class LogLinearSurrogate(Surrogate):
    """log L = a + b·r: a single exponential in the mixture (positive losses)."""

    name = "loglinear"
    piecewise = True

    def _fit(self, data: TrainSet) -> None:
        self.coef, self.x_mean, self.y_mean = _lstsq(data.X, np.log(np.maximum(data.y, 1e-9)))

    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        return np.exp((X - self.x_mean) @ self.coef + self.y_mean)
