"""A run's objective(s) from its losses or metrics, in the user's sign.

The direction is applied once, where runs become a training set (sign x value: every model
minimises); `user_sign` maps a model's values back for showing and storing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixsearch.recipe.schema import Objective
from mixsearch.store.schema import LOSS, OBJECTIVE

if TYPE_CHECKING:
    from mixsearch.search.study import Study


def objective_weights(obj: Objective, domains: list[str]) -> dict[str, float]:
    """The losses (of domains, text eval sets and tasks) the objective is a weighted sum of, with
    weights summing to one (none for a metric): kind=mean averages `over` (weight 1 unless
    `weights` says otherwise), else the names of `weights`, else every domain."""
    if obj.kind == "metric":
        return {}
    if obj.kind in ("domain", "eval"):
        return {obj.target: 1.0}
    if obj.over:
        weights = {n: (obj.weights or {}).get(n, 1.0) for n in obj.over}
    else:
        weights = obj.weights or {d: 1.0 for d in domains}
    total = sum(weights.values())
    return {d: w / total for d, w in weights.items()}


def objective_value(obj: Objective, losses: dict[str, float], domains: list[str],
                    metrics: dict[str, float] | None = None) -> float:
    """The recipe's objective, in the user's sign, from a run's per-domain (and eval set) losses
    or, for kind=metric, its metrics (a loss counts as the metric loss_<name>); KeyError names
    what is missing (loss_<name> or the metric)."""
    if obj.kind == "metric":
        found = {**{LOSS + k: v for k, v in losses.items()}, **(metrics or {})}
        if obj.metric not in found:
            raise KeyError(obj.metric)
        return float(found[obj.metric])
    weights = objective_weights(obj, domains)
    missing = [d for d in weights if d not in losses]
    if missing:
        raise KeyError(LOSS + missing[0])
    return sum(w * losses[d] for d, w in weights.items())


def user_sign(sign: float, values: np.ndarray | float) -> np.ndarray:
    """Minimised (sign-adjusted) values in the user's sign; a zero is never shown as -0."""
    return sign * np.asarray(values, dtype=float) + 0.0


def objectives_matrix(study: Study, done: pd.DataFrame) -> np.ndarray | None:
    """(n, k) sign-adjusted (to minimise) objective values of a multi-objective study's runs;
    None for one objective. Multiply by `signs` for the user's values."""
    k = len(study.recipe.objective_list)
    if k < 2:
        return None
    cols = [f"{OBJECTIVE}{i}" for i in range(k)]
    if not all(c in done for c in cols):
        return np.full((len(done), k), np.nan)
    return done[cols].to_numpy(float) * study.signs


def pareto_runs(study: Study) -> pd.DataFrame:
    """Completed target-fidelity runs that no other such run dominates (all objectives)."""
    done = study.completed_at_target()
    Y = objectives_matrix(study, done)
    if Y is None or done.empty:
        return done
    ok = np.isfinite(Y).all(1)
    done, Y = done[ok], Y[ok]
    dominated = [bool(np.any(np.all(Y <= y, 1) & np.any(Y < y, 1))) for y in Y]
    return done[~np.array(dominated, bool)] if len(done) else done
