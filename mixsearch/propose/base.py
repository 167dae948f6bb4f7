"""What every proposer shares: the context it sees, the proposal it returns, and the registry of
methods by the name a recipe uses (`search.proposer`), each method's module imported when it is used.

Methods: candidate-based on any surrogate (regmix, argmin, optimize: candidates.py), Bayesian
optimisation (bo: batch qLogNEI on the target fidelity; mfbo: cost-aware multi-fidelity GIBBON:
bo.py; mfar: autoregressive multi-fidelity BO: autoregressive.py), and Optuna samplers (tpe,
cmaes, qmc: optuna_samplers.py) through ask/tell. `batch.propose` runs one and keeps its batch
diverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

import numpy as np

from mixsearch.mixtures import DECIMALS, Space, dedupe, finalize
from mixsearch.recipe.schema import Search
from mixsearch.surrogate.base import Surrogate, TrainSet


@dataclass(frozen=True)
class FidelityLevel:
    name: str
    value: float  # cost relative to the target, in (0, 1]


@dataclass(frozen=True)
class Candidates:
    """A finite set of mixtures to propose from (replay: a pool of completed runs): proposals are
    rows of X, and row i may be proposed at fidelity j (ctx.fidelities' order) only where open[i, j]."""

    X: np.ndarray  # (N, d)
    open: np.ndarray  # (N, F) bool

    def at(self, j: int) -> np.ndarray:
        """Indices of the rows that may be proposed at fidelity j."""
        return np.flatnonzero(self.open[:, j])


@dataclass
class ProposalContext:
    surrogate: Surrogate | None
    space: Space
    data: TrainSet
    fidelities: list[FidelityLevel]  # cheapest first; the last is the target
    cfg: Search
    seed: int
    existing: np.ndarray | None = None  # mixtures of past runs (never proposed again)
    existing_fid: np.ndarray | None = None  # their fidelity values
    objectives: tuple[np.ndarray, np.ndarray] | None = None  # multi-objective: (mixtures, values (n, k))
    pending: np.ndarray | None = None  # mixtures of open (proposed/pending) runs: count as already chosen
    pending_fid: np.ndarray | None = None  # their fidelity values
    candidates: Candidates | None = None  # propose only these mixtures (default: the whole space)
    budget: float | None = None  # cost left to spend, in target-run units (sizes cheap-run plans)

    @property
    def past(self) -> np.ndarray:
        return np.zeros((0, self.space.dim)) if self.existing is None else np.round(self.existing, DECIMALS)

    @property
    def open_runs(self) -> np.ndarray:
        return np.zeros((0, self.space.dim)) if self.pending is None else np.asarray(self.pending, float)


@dataclass
class Proposal:
    W: np.ndarray  # (n, d)
    fidelity: list[str]  # one fidelity name per row
    predicted: np.ndarray  # predicted objective at the target fidelity
    recommendation: np.ndarray | None = None  # mfbo: the posterior-mean optimum at the target
    reason: str = ""  # multi-fidelity proposers: why these fidelities (or the target only)


Proposer = Callable[[ProposalContext, int], Proposal]
PROPOSERS: dict[str, Proposer] = {}
# the built-in methods and their modules, imported only when a method is used (bo needs torch)
BUILTINS = {"regmix": "candidates", "argmin": "candidates", "optimize": "candidates", "bo": "bo", "mfbo": "bo",
            "mfar": "autoregressive", **{k: "optuna_samplers" for k in ("tpe", "cmaes", "qmc", "motpe", "nsga2")}}


def register(name: str) -> Callable[[Proposer], Proposer]:
    def deco(fn: Proposer) -> Proposer:
        PROPOSERS[name] = fn
        return fn

    return deco


def proposer(method: str) -> Proposer:
    """The registered proposer of that name; a KeyError names the known ones."""
    if method not in PROPOSERS and method in BUILTINS:
        import_module(f"mixsearch.propose.{BUILTINS[method]}")  # registers its methods
    if method not in PROPOSERS:
        raise KeyError(f"unknown proposer '{method}' (known: {', '.join(sorted(set(PROPOSERS) | set(BUILTINS)))})")
    return PROPOSERS[method]


def fresh(W: np.ndarray, existing: np.ndarray) -> np.ndarray:
    """Rows of W that are not (at DECIMALS places) a past run."""
    same = np.all(np.abs(W[:, None, :] - existing[None, :, :]) < 0.5 * 10**-DECIMALS, -1)
    return W[~np.any(same, 1)]


def feasible(W: np.ndarray, space: Space) -> np.ndarray:
    """Round onto the constrained simplex and drop duplicates."""
    return dedupe(finalize(np.atleast_2d(W), space))
