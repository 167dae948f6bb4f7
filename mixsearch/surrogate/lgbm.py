"""LightGBM regression with RegMix's hyper-parameters (gbdt, 1000 rounds, learning rate 0.01)."""

from __future__ import annotations

import numpy as np

from mixsearch.surrogate.base import Surrogate, register


@register
class LightGBMSurrogate(Surrogate):
    name = "lightgbm"

    def fit(self, X: np.ndarray, y: np.ndarray) -> "LightGBMSurrogate":
        import lightgbm as lgb

        self.model = lgb.LGBMRegressor(
            boosting_type="gbdt", n_estimators=1000, learning_rate=0.01, num_leaves=31,
            min_child_samples=max(2, min(20, len(X) // 8)), min_data_in_bin=1,
            subsample=1.0, colsample_bytree=1.0, random_state=self.seed, deterministic=True,
            force_row_wise=True, n_jobs=1, verbosity=-1,
        )
        self.model.fit(X, y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(X)
