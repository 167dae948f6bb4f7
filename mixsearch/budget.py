"""Compute accounting: device-hours and tokens spent by a study, and when a budget is reached."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

FINISHED = ("done", "failed")


@dataclass(frozen=True)
class Spent:
    runs: int
    cpu_hours: float
    gpu_hours: float
    tokens: int

    def to_dict(self) -> dict:
        return asdict(self)


def spent(view: pd.DataFrame) -> Spent:
    """What the study's finished runs cost (failed runs cost too)."""
    if view.empty:
        return Spent(0, 0.0, 0.0, 0)
    fin = view[view["status"].isin(FINISHED)]

    def total(col: str) -> float:
        return float(pd.to_numeric(fin[col], errors="coerce").fillna(0).sum()) if col in fin else 0.0

    return Spent(len(fin), total("cpu_hours"), total("gpu_hours"), int(total("tokens_trained")))


@dataclass(frozen=True)
class Budget:
    """Study-wide limits: device-hours (GPU-hours when runs use GPUs, else CPU-hours) and tokens."""

    hours: float | None = None
    tokens: int | None = None
    gpus: bool = False

    @property
    def active(self) -> bool:
        return self.hours is not None or self.tokens is not None

    def reached(self, s: Spent) -> bool:
        hours = s.gpu_hours if self.gpus else s.cpu_hours
        return bool((self.hours is not None and hours >= self.hours)
                    or (self.tokens is not None and s.tokens >= self.tokens))
