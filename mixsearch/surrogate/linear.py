"""Linear regression on the mixture weights (minimum-norm least squares: the weights sum to one,
so the centred design is rank-deficient by construction)."""

from __future__ import annotations

import numpy as np

from mixsearch.surrogate.base import Surrogate, register


@register
class LinearSurrogate(Surrogate):
    name = "linear"

    def fit(self, X: np.ndarray, y: np.ndarray) -> "LinearSurrogate":
        self.x_mean, self.y_mean = X.mean(0), y.mean()
        self.coef = np.linalg.lstsq(X - self.x_mean, y - self.y_mean, rcond=None)[0]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (X - self.x_mean) @ self.coef + self.y_mean
