"""Parametric laws fitted robustly: Huber loss, multi-start L-BFGS (torch gradients, scipy optimizer).

- mixing_law — Data Mixing Laws: L_i(r) = c_i + k_i · exp(Σ_j t_ij r_j), one law per loss the
  objective is made of (each target domain, or the eval set), combined with the objective's weights.
- bimix — BiMix-style law in proportion and data quantity:
  L(r, D) = c + (Σ_j a_j (r_j + ε)^(-α)) · D^(-β), with D the run's fidelity (relative tokens).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import minimize

from mixsearch.surrogate.base import Surrogate, TrainSet, register

DELTA = 0.02  # Huber threshold, in loss units
STARTS = 8
BIMIX_STARTS, BIMIX_MAXITER = 4, 250  # its power terms make each start slower
EPS = 0.01

Law = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (theta, X, D) -> prediction


def _huber(r: torch.Tensor, delta: float) -> torch.Tensor:
    a = r.abs()
    return torch.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def fit_law(law: Law, starts: list[np.ndarray], X: np.ndarray, D: np.ndarray, y: np.ndarray,
            delta: float = DELTA, maxiter: int = 500) -> np.ndarray:
    """The parameters, over all starts, with the lowest Huber loss."""
    Xt, Dt, yt = (torch.as_tensor(a, dtype=torch.float64) for a in (X, D, y))

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        loss = _huber(law(t, Xt, Dt) - yt, delta).mean()
        if not torch.isfinite(loss):
            return 1e10, np.zeros_like(theta)
        loss.backward()
        return loss.item(), t.grad.numpy().copy()

    best, best_val = starts[0], np.inf
    for x0 in starts:
        res = minimize(objective, x0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
        if res.fun < best_val:
            best, best_val = res.x, res.fun
    return best


def _mixing_law(theta: torch.Tensor, X: torch.Tensor, D: torch.Tensor) -> torch.Tensor:
    return theta[0] + torch.exp(theta[1] + X @ theta[2:])


def _bimix(theta: torch.Tensor, X: torch.Tensor, D: torch.Tensor) -> torch.Tensor:
    d = X.shape[1]
    a, alpha, beta = torch.exp(theta[1: d + 1]), torch.exp(theta[d + 1]), torch.exp(theta[d + 2])
    return theta[0] + ((X + EPS) ** (-alpha) @ a) * D ** (-beta)


def _starts(y: np.ndarray, n_rest: int, rng: np.random.Generator, rest_scale: float) -> list[np.ndarray]:
    spread = max(float(np.ptp(y)), 1e-3)
    out = []
    for _ in range(STARTS):
        c = float(y.min()) - spread * rng.uniform(0.1, 2.0)
        out.append(np.concatenate([[c, np.log(max(float(y.mean()) - c, 1e-6))], rng.normal(0, rest_scale, n_rest)]))
    return out


@register
class MixingLawSurrogate(Surrogate):
    name = "mixing_law"

    def min_runs(self, dim: int) -> int:
        return dim + 3

    def _fit(self, data: TrainSet) -> None:
        rng = np.random.default_rng(self.seed)
        parts = data.parts if data.parts is not None else data.y[:, None]
        self.weights = data.part_weights if data.parts is not None else np.ones(1)
        ones = np.ones(len(data.y))
        self.thetas = [fit_law(_mixing_law, _starts(parts[:, i], data.X.shape[1], rng, 1.0), data.X, ones, parts[:, i])
                       for i in range(parts.shape[1])]

    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        Xt = torch.as_tensor(X, dtype=torch.float64)
        with torch.no_grad():
            preds = [_mixing_law(torch.as_tensor(t), Xt, Xt[:, 0]).numpy() for t in self.thetas]
        return np.column_stack(preds) @ self.weights


@register
class BiMixSurrogate(Surrogate):
    name = "bimix"
    multi_fidelity = True

    def min_runs(self, dim: int) -> int:
        return dim + 4

    def _fit(self, data: TrainSet) -> None:
        rng = np.random.default_rng(self.seed)
        d = data.X.shape[1]
        starts = []
        for s in _starts(data.y, d + 1, rng, 0.5)[:BIMIX_STARTS]:
            a = np.log(max(float(np.exp(s[1])) / d, 1e-6))
            starts.append(np.concatenate([[s[0]], np.full(d, a) + rng.normal(0, 0.3, d), [np.log(0.3), np.log(0.3)]]))
        self.theta = fit_law(_bimix, starts, data.X, data.fidelities, data.y, maxiter=BIMIX_MAXITER)

    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        D = np.ones(len(X)) if fid is None else fid
        with torch.no_grad():
            return _bimix(torch.as_tensor(self.theta), torch.as_tensor(X, dtype=torch.float64),
                          torch.as_tensor(D, dtype=torch.float64)).numpy()
