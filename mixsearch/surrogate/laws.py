"""Parametric laws fitted robustly: Huber loss, multi-start L-BFGS-B on analytic gradients (NumPy).

- mixing_law — Data Mixing Laws: L_i(r) = c_i + k_i · exp(Σ_j t_ij r_j), one law per loss the
  objective is made of (each target domain, or the eval set), combined with the objective's weights.
  Starts: for a few offsets c below the smallest loss, (log k, t) from least squares on log(L − c).
- bimix — BiMix-style law in proportion and data quantity:
  L(r, D) = c + (Σ_j a_j (r_j + ε)^(-α)) · D^(-β), with D the run's fidelity (relative tokens).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

from mixsearch.surrogate.base import Surrogate, TrainSet, register

DELTA = 0.02  # Huber threshold, in loss units
OFFSETS = (0.05, 0.3, 1.0, 3.0)  # mixing_law starts: c = min(L) − offset · spread(L)
BIMIX_STARTS, BIMIX_MAXITER = 4, 500
EPS = 0.01

# (theta, X, D) -> (prediction (n,), d prediction / d theta (n, p))
Law = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def fit_law(law: Law, starts: list[np.ndarray], X: np.ndarray, D: np.ndarray, y: np.ndarray,
            delta: float = DELTA, maxiter: int = 500) -> np.ndarray:
    """The parameters, over all starts, with the lowest mean Huber loss. The law's first
    parameter is its additive constant c: the fit is made relative to the mean of y (starts
    shifted with it) and c shifted back, so an offset of the objective costs no precision."""
    shift = float(np.mean(y))
    y = y - shift
    starts = [np.concatenate([[x0[0] - shift], x0[1:]]) for x0 in starts]
    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            pred, jac = law(theta, X, D)
            r = pred - y
            a = np.abs(r)
            loss = np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta)).mean()
            grad = jac.T @ np.clip(r, -delta, delta) / len(y)
        if not (np.isfinite(loss) and np.isfinite(grad).all()):
            return 1e10, np.zeros_like(theta)
        return float(loss), grad

    best, best_val = starts[0], np.inf
    for x0 in starts:
        res = minimize(objective, x0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
        if res.fun < best_val:
            best, best_val = res.x, res.fun
    return np.concatenate([[best[0] + shift], best[1:]])


def mixing_law(theta: np.ndarray, X: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """theta = (c, log k, t_1..t_d): c + exp(log k + X t)."""
    e = np.exp(theta[1] + X @ theta[2:])
    return theta[0] + e, np.column_stack([np.ones(len(X)), e, e[:, None] * X])


def bimix(theta: np.ndarray, X: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """theta = (c, log a_1..log a_d, log α, log β): c + (Σ_j a_j (r_j + ε)^(-α)) D^(-β)."""
    d = X.shape[1]
    a, alpha, beta = np.exp(theta[1: d + 1]), np.exp(theta[d + 1]), np.exp(theta[d + 2])
    logx = np.log(X + EPS)
    P = np.exp(-alpha * logx)  # (n, d)
    s, g = P @ a, np.exp(-beta * np.log(D))
    jac = np.column_stack([np.ones(len(X)), (P * a) * g[:, None], -alpha * ((logx * P) @ a) * g,
                           -beta * np.log(D) * s * g])
    return s * g + theta[0], jac


def _mixing_law_starts(X: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    spread = max(float(np.ptp(y)), 1e-3)
    A = np.column_stack([np.ones(len(X)), X])
    starts = []
    for off in OFFSETS:
        c = float(y.min()) - off * spread
        coef = np.linalg.lstsq(A, np.log(y - c), rcond=None)[0]
        starts.append(np.concatenate([[c], coef]))
    return starts


@register
class MixingLawSurrogate(Surrogate):
    name = "mixing_law"

    def min_runs(self, dim: int) -> int:
        return dim + 3

    def _fit(self, data: TrainSet) -> None:
        parts = data.parts if data.parts is not None else data.y[:, None]
        self.weights = data.part_weights if data.parts is not None else np.ones(1)
        ones = np.ones(len(data.y))
        self.thetas = [fit_law(mixing_law, _mixing_law_starts(data.X, parts[:, i]), data.X, ones, parts[:, i])
                       for i in range(parts.shape[1])]

    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        ones = np.ones(len(X))
        return np.column_stack([mixing_law(t, X, ones)[0] for t in self.thetas]) @ self.weights


@register
class BiMixSurrogate(Surrogate):
    name = "bimix"
    multi_fidelity = True

    def min_runs(self, dim: int) -> int:
        return dim + 4

    def _fit(self, data: TrainSet) -> None:
        rng = np.random.default_rng(self.seed)
        d, y = data.X.shape[1], data.y
        spread = max(float(np.ptp(y)), 1e-3)
        starts = []
        for _ in range(BIMIX_STARTS):
            c = float(y.min()) - spread * rng.uniform(0.1, 2.0)
            a = np.log(max(float(y.mean()) - c, 1e-6) / d)
            starts.append(np.concatenate([[c], np.full(d, a) + rng.normal(0, 0.3, d), [np.log(0.3), np.log(0.3)]]))
        self.theta = fit_law(bimix, starts, data.X, data.fidelities, y, maxiter=BIMIX_MAXITER)

    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        return bimix(self.theta, X, np.ones(len(X)) if fid is None else fid)[0]
