"""Gaussian processes (BoTorch): on the simplex, and multi-fidelity with the fidelity as a column.

Both model the negated objective (BoTorch maximises) and report predictions in objective units.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from mixsearch.surrogate.base import Surrogate, TrainSet, register

DTYPE = torch.float64


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=float), dtype=DTYPE)


def _fit_mll(model) -> None:
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))


@register
class GPSurrogate(Surrogate):
    """SingleTaskGP on the mixture weights (target-fidelity runs)."""

    name = "gp"

    def _inputs(self, X: np.ndarray, fid: np.ndarray | None) -> torch.Tensor:
        return _t(X)

    def _build(self, data: TrainSet):
        from botorch.models import SingleTaskGP
        from botorch.models.transforms.outcome import Standardize

        return SingleTaskGP(_t(data.X), -_t(data.y)[:, None], outcome_transform=Standardize(m=1))

    def _fit(self, data: TrainSet) -> None:
        torch.manual_seed(self.seed)
        self.model = self._build(data)
        _fit_mll(self.model)
        self.model.eval()

    def _posterior(self, X: np.ndarray, fid: np.ndarray | None):
        with torch.no_grad():
            return self.model.posterior(self._inputs(X, fid))

    def predict(self, X: np.ndarray, fid: np.ndarray | None = None) -> np.ndarray:
        return -self._posterior(X, fid).mean.squeeze(-1).numpy()

    def predict_std(self, X: np.ndarray, fid: np.ndarray | None = None) -> np.ndarray:
        return self._posterior(X, fid).variance.clamp_min(0).sqrt().squeeze(-1).numpy()


@register
class MultiFidelityGPSurrogate(GPSurrogate):
    """SingleTaskMultiFidelityGP on [mixture, fidelity]; the fidelity column is the last one."""

    name = "mfgp"
    multi_fidelity = True

    def applicable(self, data: TrainSet) -> bool:
        return len(np.unique(data.fidelities)) >= 2 and len(data) >= 6 and len(data.target_only()) >= 2

    def _inputs(self, X: np.ndarray, fid: np.ndarray | None) -> torch.Tensor:
        f = np.ones(len(X)) if fid is None else fid
        return torch.cat([_t(X), _t(f)[:, None]], dim=1)

    def _build(self, data: TrainSet):
        from botorch.models import SingleTaskMultiFidelityGP
        from botorch.models.transforms.outcome import Standardize

        X = self._inputs(data.X, data.fidelities)
        return SingleTaskMultiFidelityGP(X, -_t(data.y)[:, None], data_fidelities=[X.shape[1] - 1],
                                         outcome_transform=Standardize(m=1))
