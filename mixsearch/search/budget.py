"""Compute accounting: device-hours and tokens spent by a study, and when a budget is reached.

A run's device-hours are counted on the device it actually trained on: GPU-hours when it asked
for GPUs and got one, else CPU-hours (a run that asked for GPUs but found no usable CUDA trains on
the CPU, with one warning per command). Failed runs count the time they held their device."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

import pandas as pd

FINISHED = ("done", "failed")
_warned: set[str] = set()  # the warnings this process (one command) has printed


@dataclass(frozen=True)
class Spent:
    runs: int
    cpu_hours: float
    gpu_hours: float
    tokens: int
    device_hours: float  # GPU-hours of the runs on a GPU plus CPU-hours of the others

    def to_dict(self) -> dict:
        return asdict(self)

    def __add__(self, other: "Spent") -> "Spent":
        return Spent(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))


def _warn_once(text: str) -> None:
    if text not in _warned:
        _warned.add(text)
        print(f"warning: {text}", file=sys.stderr)


def run_hours(seconds: float, num_cpus: float, num_gpus: float, device: str | None,
              host: str | None) -> tuple[float, float]:
    """(CPU-hours, GPU-hours) of a run that held its resources for `seconds`: GPU-hours only if
    it asked for GPUs and did not train on a CPU (an unknown device, as of a run that failed
    before reporting one, counts as asked)."""
    on_gpu = num_gpus > 0 and not str(device).startswith("cpu")
    if num_gpus > 0 and not on_gpu:
        _warn_once(f"proxy.resources.num_gpus: runs asked for GPUs but trained on the CPU of {host} (no usable "
                   "CUDA there); they count CPU-hours, not GPU-hours")
    return seconds * num_cpus / 3600, seconds * num_gpus / 3600 if on_gpu else 0.0


def spent(view: pd.DataFrame) -> Spent:
    """What the study's finished runs cost (failed runs cost too)."""
    if view.empty:
        return Spent(0, 0.0, 0.0, 0, 0.0)
    fin = view[view["status"].isin(FINISHED)]

    def column(col: str) -> pd.Series:
        values = fin[col] if col in fin else pd.Series(0.0, index=fin.index)
        return pd.to_numeric(values, errors="coerce").fillna(0)

    cpu, gpu = column("cpu_hours"), column("gpu_hours")
    device = fin["device"].astype("string").fillna("") if "device" in fin else pd.Series("", index=fin.index)
    on_gpu = (gpu > 0) & ~device.str.startswith("cpu")  # an imported run (no device): by the hours it has
    return Spent(len(fin), float(cpu.sum()), float(gpu.sum()), int(column("tokens_trained").sum()),
                 float(gpu[on_gpu].sum() + cpu[~on_gpu].sum()))


@dataclass(frozen=True)
class Budget:
    """Study-wide limits: device-hours (each run's on the device it trained on) and tokens."""

    hours: float | None = None
    tokens: int | None = None

    @property
    def active(self) -> bool:
        return self.hours is not None or self.tokens is not None

    def reached(self, s: Spent) -> bool:
        return bool((self.hours is not None and s.device_hours >= self.hours)
                    or (self.tokens is not None and s.tokens >= self.tokens))


class Tally:
    """A budget's running count: what the study had spent when `refresh` read the store, plus each
    result `add`ed since, so a check after every result costs one row, not a read of every run."""

    def __init__(self, budget: Budget, read: Callable[[], pd.DataFrame]) -> None:
        self.budget, self.read = budget, read
        self.spent: Spent | None = None  # None without a budget: nothing is counted

    def refresh(self) -> None:
        if self.budget.active:
            self.spent = spent(self.read())

    def add(self, row: dict) -> None:
        if self.spent is not None:
            self.spent = self.spent + spent(pd.DataFrame([row]))

    def reached(self) -> bool:
        return self.spent is not None and self.budget.reached(self.spent)
