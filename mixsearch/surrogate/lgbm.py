"""LightGBM regression with RegMix's hyper-parameters (gbdt, 1000 rounds, learning rate 0.01).

LightGBM keeps labels in float32: the objective is fitted relative to its mean, so an offset
(a metric around 1000, a negated one) costs no precision."""

from __future__ import annotations

import numpy as np

from mixsearch.surrogate.base import Surrogate, TrainSet, register

ROUNDS = 1000


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
        return np.asarray(self.booster.predict(X, num_threads=1)) + self.offset
