"""The device a worker trains on: CUDA when there is one (bf16 autocast), else the CPU."""

from __future__ import annotations

from contextlib import nullcontext

import torch


def autocast(device: torch.device):
    """bf16 autocast on CUDA; no-op elsewhere."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync(device: torch.device) -> None:
    """Wait for queued CUDA work (a no-op on the CPU), so timings measure it."""
    if device.type == "cuda":
        torch.cuda.synchronize()
