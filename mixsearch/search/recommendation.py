"""The study's answer: the constrained optimum of the fitted surrogate's predicted mean, with a
predictive interval for a run trained on it. Never a lucky run: the best observed run is only
shown beside it, with its seed-noise band.

- where: for piecewise surrogates (lightgbm, linear, loglinear), whose optimum is a jagged cell
  or a corner, RegMix's mean of the top-k of many candidate mixtures by prediction, counting only
  candidates within a trust radius of the runs (the median L1 distance from a run to its nearest
  neighbour); for smooth ones (mixing_law, bimix, gp, mfgp) the predicted optimum, the best
  candidate refined by SLSQP on the simplex, unbounded: a law's form is what extrapolates, and a
  GP's mean returns to its prior away from the runs.
- interval: for GPs the posterior sd plus observation noise; for the others the out-of-fold
  residuals of the runs predicted best (the top quarter, at least 5): the model's error near
  the optimum, where the recommendation is, not over the whole simplex (without out-of-fold
  predictions: CV MAE x sqrt(pi/2) as the residual sd).

Every recommendation is a record (id, surrogate, the runs it was fitted on as count and hash,
created time, mixture, prediction, interval, stability); answer.py keeps their history.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from mixsearch.hashing import stable_hash
from mixsearch.mixtures import Space
from mixsearch.paths import read_cached
from mixsearch.propose.simplex import Support, optimum
from mixsearch.recipe.schema import Search
from mixsearch.search.stability import Stability
from mixsearch.surrogate.base import Surrogate

Z95 = 1.959964
FILE = "recommendation.json"


@dataclass(frozen=True)
class Recommendation:
    mixture: dict[str, float]
    predicted: float
    interval: tuple[float, float]  # 95% predictive interval of one run's objective
    surrogate: str
    runs: int  # (replicate-averaged) runs the surrogate was fitted on
    noise_sd: float | None = None  # pooled seed sd, when replicates measured it
    runs_key: str = ""  # hash of the ids of the completed runs the fit saw
    id: str = ""  # identifies surrogate, runs and mixture: the same fit gives the same id
    created: str = ""  # ISO time the id was first recorded
    stability: Stability | None = None  # bootstrap of the fit: weight ranges, P(beats baselines)
    trusted: bool = True  # its surrogate ranks held-out runs better than chance (see surrogate.cv)

    @property
    def distrust(self) -> str:
        """Why the recommendation is not to be trusted ("" when it is)."""
        return "" if self.trusted else (f"the {self.surrogate} surrogate does not rank held-out runs better "
                                        "than chance: this is not a trusted answer")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["interval"] = list(self.interval)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Recommendation":
        known = {f.name for f in fields(cls)} - {"interval", "stability"}
        stab = d.get("stability")
        return cls(**{k: v for k, v in d.items() if k in known},  # type: ignore[arg-type]
                   interval=tuple(d["interval"]), stability=Stability.from_dict(stab) if stab else None)

    def identified(self) -> "Recommendation":
        """This record with its id (a hash of surrogate, runs and mixture) and creation time set."""
        ident = stable_hash({"surrogate": self.surrogate, "runs": self.runs, "runs_key": self.runs_key,
                             "mixture": {k: round(v, 6) for k, v in self.mixture.items()}})[:12]
        created = self.created or datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        return replace(self, id=ident, created=created)

    def distance(self, other: "Recommendation") -> float:
        """L1 distance between the two mixtures."""
        return float(sum(abs(self.mixture[k] - other.mixture.get(k, 0.0)) for k in self.mixture))


NEAR_SHARE, NEAR_MIN = 0.25, 5  # the runs predicted best whose CV residuals size a regression interval


def near_optimum_sd(predicted: np.ndarray | None, actual: np.ndarray | None) -> float | None:
    """RMS of the out-of-fold residuals of the runs predicted best (NEAR_SHARE of them, at least
    NEAR_MIN); None without enough out-of-fold predictions."""
    if predicted is None or actual is None or len(predicted) < NEAR_MIN:
        return None
    predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
    best = np.argsort(predicted, kind="stable")[: max(NEAR_MIN, int(np.ceil(NEAR_SHARE * len(predicted))))]
    return float(np.sqrt(np.mean((actual[best] - predicted[best]) ** 2)))


def predictive_sd(surrogate: Surrogate, w: np.ndarray, cv_mae: float, noise_sd: float | None,
                  residual_sd: float | None = None) -> float:
    """sd of one future run's objective at w: GP posterior plus noise (measured from replicates, else
    the GP's learned noise), else the residual sd near the optimum, else the CV residual sd."""
    std = surrogate.predict_std(w[None])
    if std is None:
        return float(residual_sd if residual_sd is not None else cv_mae * np.sqrt(np.pi / 2))
    noise = noise_sd if noise_sd is not None else surrogate.noise_sd()  # type: ignore[attr-defined]
    return float(np.sqrt(std[0] ** 2 + noise**2))


def recommendation(surrogate: Surrogate, name: str, cv_mae: float, runs: int, space: Space, cfg: Search, seed: int,
              noise_sd: float | None = None, residual_sd: float | None = None,
              support: np.ndarray | Support | None = None, runs_key: str = "",
              candidates: np.ndarray | None = None) -> Recommendation:
    w = optimum(surrogate, space, cfg, seed, support, candidates)
    pred = float(surrogate.predict(w[None])[0])
    sd = predictive_sd(surrogate, w, cv_mae, noise_sd, residual_sd)
    return Recommendation(dict(zip(space.names, map(float, w))), pred, (pred - Z95 * sd, pred + Z95 * sd), name,
                          runs, noise_sd, runs_key).identified()


def load(root: Path) -> Recommendation | None:
    """The latest saved recommendation, or None (also, with a warning, when the file is unusable)."""
    from pydantic import TypeAdapter

    return read_cached(root / FILE, TypeAdapter(Recommendation).validate_python)
