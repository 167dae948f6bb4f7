"""LightGBM regression with RegMix's hyper-parameters (gbdt, 1000 rounds, learning rate 0.01).

LightGBM keeps labels in float32: the objective is fitted relative to its mean, so an offset
(a metric around 1000, a negated one) costs no precision."""

from __future__ import annotations

import os
import threading

import numpy as np

from mixsearch.surrogate.base import Surrogate, TrainSet, register

ROUNDS = 1000
PARALLEL_ROWS = 20_000  # predictions of fewer rows run on one thread


@register
class LightGBMSurrogate(Surrogate):
    name = "lightgbm"
    piecewise = True
    independent_fits = True  # separate boosters share nothing; each uses one thread (no OpenMP spinning)
    offset = 0.0  # the mean the labels were fitted relative to (0 in fits stored before it was)

    def _fit(self, data: TrainSet) -> None:
        import lightgbm as lgb

        X, self.offset = data.X, float(np.mean(data.y))
        y = data.y - self.offset
        params = {
            "objective": "regression", "boosting": "gbdt", "learning_rate": 0.01, "num_leaves": 31,
            "min_data_in_leaf": max(2, min(20, len(X) // 8)), "min_data_in_bin": 1,
            "seed": self.seed, "deterministic": True, "force_row_wise": True, "num_threads": 1,
            "verbosity": -1,
        }
        dataset = lgb.Dataset(X, y, params={"min_data_in_bin": 1, "verbosity": -1})
        self.booster = lgb.train(params, dataset, num_boost_round=ROUNDS)

    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        return np.asarray(self.booster.predict(X, num_threads=predict_threads(len(X)))) + self.offset


def predict_threads(rows: int) -> int:
    """LightGBM threads for predicting `rows` rows: every usable CPU for a large prediction on the
    main thread (one parallel region, rows split evenly: 100,000 rows with 1,000 trees took 3.5 s
    on 2 threads against 6.7 s on 1); one in other threads, which run beside each other (a
    bootstrap's refits), and for small predictions."""
    if rows < PARALLEL_ROWS or threading.current_thread() is not threading.main_thread():
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
