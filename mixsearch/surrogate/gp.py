"""Gaussian processes (BoTorch): on the simplex, and multi-fidelity with the fidelity as a column.

Both model the negated objective (BoTorch maximises) and report predictions in objective units.
Fitting is bounded: hyper-parameters are fitted in float32 on at most HYPER_RUNS runs with a
capped number of L-BFGS steps (warm-started from a previous fit when given), then a float64 model
on all runs takes them over. Predictions are exact, from one Cholesky factor of the training
covariance, in chunks: a chunk's cross-covariance with the runs and marginal variances only.
"""

from __future__ import annotations

import warnings
from functools import cached_property

import numpy as np
import torch

from mixsearch.surrogate.base import Surrogate, TrainSet, register

DTYPE = torch.float64
FIT_DTYPE = torch.float32  # float64 took 3-10x longer to reach the same held-out ranking
MAXITER = 100  # L-BFGS steps; uncapped fits ran for hundreds of steps on noise-free losses
HYPER_RUNS = 1024  # hyper-parameters from a random subset of at most this many runs
MAX_CHOLESKY = 20_000  # exact solves up to this many runs (gpytorch's default switches to CG at 800)
HYPERS = ("likelihood.", "mean_module.", "covar_module.")  # what a fit hands over (not the outcome transform,
# nor constraints: a model's noise floor is its own)


def _t(a: np.ndarray, dtype: torch.dtype = DTYPE) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=float), dtype=dtype)


def _fit_mll(model, maxiter: int = MAXITER) -> None:
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from gpytorch.settings import max_cholesky_size

    with warnings.catch_warnings(), max_cholesky_size(MAX_CHOLESKY):
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), max_attempts=2,
                         optimizer_kwargs={"options": {"maxiter": maxiter}})


def _hypers(model) -> dict[str, torch.Tensor]:
    """A fitted model's hyper-parameters (to warm-start another fit or take over in float64)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if k.startswith(HYPERS) and "_constraint." not in k}


@register
class GPSurrogate(Surrogate):
    """SingleTaskGP on the mixture weights (target-fidelity runs)."""

    name = "gp"
    has_std = True
    chunk_rows = 2048  # a chunk needs chunk_rows × runs floats

    def __init__(self, seed: int = 0, warm_start: dict[str, torch.Tensor] | None = None) -> None:
        super().__init__(seed)
        self.warm_start = warm_start
        self.noise_floor: float | None = None  # objective units; measured seed noise, when replicates exist

    def _make(self, X: torch.Tensor, y: torch.Tensor):
        """The model, its learned noise kept at least the measured seed noise (without replicates,
        the GP learned 0.4-0.8x the true noise on noisy runs, and its mean followed them)."""
        model = self._build(X, y)
        if self.noise_floor:
            from gpytorch.constraints import GreaterThan

            stdv = float(model.outcome_transform.stdvs.squeeze())  # the noise is in standardized units
            model.likelihood.noise_covar.register_constraint("raw_noise", GreaterThan((self.noise_floor / stdv) ** 2))
        return model

    def _inputs(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        return np.asarray(X, dtype=float)

    def _build(self, X: torch.Tensor, y: torch.Tensor):
        from botorch.models import SingleTaskGP
        from botorch.models.transforms.outcome import Standardize

        return SingleTaskGP(X, y[:, None], outcome_transform=Standardize(m=1))

    def _fit(self, data: TrainSet) -> None:
        from botorch.exceptions.errors import ModelFittingError
        from linear_operator.utils.errors import NotPSDError

        torch.manual_seed(self.seed)
        # one floor for all rows (replicate means are a little less noisy); at the target only
        self.noise_floor = None if self.multi_fidelity else data.noise_sd
        X, y = self._inputs(data.X, data.fidelities), -np.asarray(data.y, dtype=float)
        rng = np.random.default_rng(self.seed)
        idx = np.sort(rng.choice(len(y), HYPER_RUNS, replace=False)) if len(y) > HYPER_RUNS else np.arange(len(y))
        hypers = None
        for dtype in (FIT_DTYPE, DTYPE):  # float64 only where float32 is too coarse for these runs
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # BoTorch's advice to use float64 (it is, for predictions)
                small = self._make(_t(X[idx], dtype), _t(y[idx] - y[idx].mean(), dtype))  # float32: no offset
            if self.warm_start:
                small.load_state_dict(self.warm_start, strict=False)
            try:
                _fit_mll(small, MAXITER // 2 if self.warm_start else MAXITER)
            except (ModelFittingError, NotPSDError, RuntimeError):
                continue
            hypers = _hypers(small)
            break
        self._X, self._y = X, y
        self.model = self._make(_t(X), _t(y))
        if hypers is None:
            _fit_mll(self.model)
        else:
            self.model.load_state_dict(hypers, strict=False)
        self.model.eval()

    def __getstate__(self) -> dict:
        """Pickled as its runs and hyper-parameters (BoTorch's fidelity kernel holds a lambda)."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("model", "_factors")}
        return {**state, "hypers": self.hyperparameters()}

    def __setstate__(self, state: dict) -> None:
        hypers = state.pop("hypers")
        self.__dict__.update(state)
        self.model = self._make(_t(self._X), _t(self._y))
        self.model.load_state_dict(hypers, strict=False)
        self.model.eval()

    def hyperparameters(self) -> dict[str, torch.Tensor]:
        return _hypers(self.model)

    def warm_state(self) -> dict[str, torch.Tensor]:
        return self.hyperparameters()

    @cached_property
    def _factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Cholesky factor L of K + σ²I over the training runs, and α = (K + σ²I)⁻¹(y − m)."""
        from linear_operator.utils.cholesky import psd_safe_cholesky

        m = self.model
        X = m.train_inputs[0]
        with torch.no_grad():
            K = m.covar_module(X).to_dense() + m.likelihood.noise * torch.eye(len(X), dtype=X.dtype)
            L = psd_safe_cholesky(K)
            alpha = torch.cholesky_solve((m.train_targets - m.mean_module(X))[:, None], L)
        return L, alpha

    def _scale(self) -> tuple[float, float]:
        t = self.model.outcome_transform
        return float(t.means.squeeze()), float(t.stdvs.squeeze())

    def noise_sd(self) -> float:
        """The likelihood's learned noise (one run's scatter around the mean), in objective units."""
        with torch.no_grad():
            return float(self.model.likelihood.noise.mean().sqrt()) * self._scale()[1]

    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        """Posterior mean, exactly, from the cached factors: m(x) + K(x, X) α (no test-test covariance)."""
        m, (_, alpha), (mu, sd) = self.model, self._factors, self._scale()
        Xs = _t(self._inputs(X, fid))
        with torch.no_grad():
            f = m.mean_module(Xs) + (m.covar_module(Xs, m.train_inputs[0]).to_dense() @ alpha).squeeze(-1)
        return -(f.numpy() * sd + mu)

    def _predict_std(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        """Marginal posterior standard deviation (no observation noise): k(x, x) − ‖L⁻¹K(X, x)‖²."""
        m, (L, _), (_, sd) = self.model, self._factors, self._scale()
        Xs = _t(self._inputs(X, fid))
        with torch.no_grad():
            v = torch.linalg.solve_triangular(L, m.covar_module(m.train_inputs[0], Xs).to_dense(), upper=False)
            var = m.covar_module(Xs, diag=True) - (v**2).sum(0)
        return var.clamp_min(0).sqrt().numpy() * sd


@register
class MultiFidelityGPSurrogate(GPSurrogate):
    """SingleTaskMultiFidelityGP on [mixture, fidelity]; the fidelity column is the last one."""

    name = "mfgp"
    multi_fidelity = True

    def applicable(self, data: TrainSet) -> bool:
        return len(np.unique(data.fidelities)) >= 2 and len(data) >= 6 and len(data.target_only()) >= 2

    def _inputs(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        f = np.ones(len(X)) if fid is None else fid
        return np.column_stack([np.asarray(X, dtype=float), f])

    def _build(self, X: torch.Tensor, y: torch.Tensor):
        from botorch.models import SingleTaskMultiFidelityGP
        from botorch.models.transforms.outcome import Standardize

        return SingleTaskMultiFidelityGP(X, y[:, None], data_fidelities=[X.shape[1] - 1],
                                         outcome_transform=Standardize(m=1))
