"""LightGBM regression with RegMix's hyper-parameters (gbdt, 1000 rounds, learning rate 0.01)."""

from __future__ import annotations

import numpy as np

from mixsearch.surrogate.base import Surrogate, TrainSet, register

ROUNDS = 1000


@register
class LightGBMSurrogate(Surrogate):
    name = "lightgbm"
    piecewise = True

    def _fit(self, data: TrainSet) -> None:
        import lightgbm as lgb

        X, y = data.X, data.y
        params = {
            "objective": "regression", "boosting": "gbdt", "learning_rate": 0.01, "num_leaves": 31,
            "min_data_in_leaf": max(2, min(20, len(X) // 8)), "min_data_in_bin": 1,
            "seed": self.seed, "deterministic": True, "force_row_wise": True, "num_threads": 1,
            "verbosity": -1,
        }
        dataset = lgb.Dataset(X, y, params={"min_data_in_bin": 1, "verbosity": -1})
        self.booster = lgb.train(params, dataset, num_boost_round=ROUNDS)

    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        return np.asarray(self.booster.predict(X, num_threads=1))
