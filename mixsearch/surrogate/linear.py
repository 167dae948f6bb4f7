"""Linear and log-linear regression on the mixture weights (minimum-norm least squares: the
weights sum to one, so the centred design is rank-deficient by construction)."""

from __future__ import annotations

import numpy as np

from mixsearch.surrogate.base import Surrogate, TrainSet, register

FLOORS = (0.01, 0.05, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # loglinear: floor c = min(y) - f · spread(y)


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


def _loglinear(X: np.ndarray, y: np.ndarray, c: float) -> tuple[float, tuple[np.ndarray, np.ndarray, float]]:
    """log(y - c) = a + b·r by least squares: the squared error of c + exp(a + b·r), and the fit."""
    fit = _lstsq(X, np.log(y - c))
    coef, x_mean, y_mean = fit
    return float(np.sum((c + np.exp((X - x_mean) @ coef + y_mean) - y) ** 2)), fit


@register
class LogLinearSurrogate(Surrogate):
    """y = c + exp(a + b·r): a single exponential in the mixture above a floor c below the runs.

    The floor is c = min(y) - f · spread(y), f (between FLOORS[0] and FLOORS[-1]) the one with the
    least squared error: the fit is the same for any sign, offset and scale of the objective (a
    maximised metric is minimised as its negative, so its values may all be negative).
    """

    name = "loglinear"
    piecewise = True
    floor = 0.0  # fits stored before the floor was fitted took logs of the objective itself

    def _fit(self, data: TrainSet) -> None:
        from scipy.optimize import minimize_scalar

        X, y = data.X, np.asarray(data.y, float)
        low, spread = float(y.min()), float(np.ptp(y)) or 1.0

        def sse(log_f: float) -> float:
            return _loglinear(X, y, low - np.exp(log_f) * spread)[0]

        grid = np.log(FLOORS)
        i = int(np.argmin([sse(g) for g in grid]))
        bracket = (grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)])
        log_f = minimize_scalar(sse, bounds=bracket, method="bounded", options={"xatol": 1e-9}).x
        log_f = log_f if sse(log_f) <= sse(grid[i]) else grid[i]
        self.floor = low - float(np.exp(log_f)) * spread
        self.coef, self.x_mean, self.y_mean = _loglinear(X, y, self.floor)[1]

    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        return self.floor + np.exp((X - self.x_mean) @ self.coef + self.y_mean)
