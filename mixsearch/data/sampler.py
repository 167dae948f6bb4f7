"""Draw training sequences from token arrays in proportion to a mixture."""

from __future__ import annotations

import numpy as np
import torch


class MixtureSampler:
    """Each sequence picks its domain with probability equal to its mixture weight,
    then a uniformly random window of that domain's training tokens."""

    def __init__(self, arrays: dict[str, np.ndarray], weights: dict[str, float],
                 context: int, batch_size: int, seed: int | np.random.Generator) -> None:
        self.names = [n for n, w in weights.items() if w > 0]
        if not self.names:
            raise ValueError("mixture has no positive weight")
        p = np.array([weights[n] for n in self.names], dtype=float)
        self.p = p / p.sum()
        self.arrays = [arrays[n] for n in self.names]
        self.context = context
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One (inputs, targets) pair of shape (batch_size, context), int64."""
        doms = self.rng.choice(len(self.names), size=self.batch_size, p=self.p)
        rows = np.empty((self.batch_size, self.context + 1), dtype=np.int64)
        for i, d in enumerate(doms):
            arr = self.arrays[d]
            off = self.rng.integers(0, len(arr) - self.context)
            rows[i] = arr[off: off + self.context + 1]
        t = torch.from_numpy(rows)
        return t[:, :-1], t[:, 1:]


class ScheduledSampler:
    """A mixture per phase: batch i (of `steps`) comes from the phase whose share of the steps
    holds it (phase p ends at step round(steps x the shares up to p)); one random stream under the
    seed runs through all phases, so the first phase draws exactly what a static run would."""

    def __init__(self, arrays: dict[str, np.ndarray], phases: list[dict], steps: int,
                 context: int, batch_size: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.samplers = [MixtureSampler(arrays, p["mixture"], context, batch_size, rng) for p in phases]
        self.ends = np.round(steps * np.cumsum([p["share"] for p in phases])).astype(int)
        self.ends[-1] = steps
        self.drawn = 0

    @property
    def phase(self) -> int:
        """The phase of the next batch (the last one past the end)."""
        return min(int(np.searchsorted(self.ends, self.drawn, side="right")), len(self.ends) - 1)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.samplers[self.phase].batch()
        self.drawn += 1
        return out


def run_sampler(arrays: dict[str, np.ndarray], mixture: dict[str, float], phases: list[dict] | None,
                steps: int, context: int, batch_size: int, seed: int) -> MixtureSampler | ScheduledSampler:
    """A run's training stream: its mixture, or (phases: [{name, share, mixture}]) its schedule."""
    if phases:
        return ScheduledSampler(arrays, phases, steps, context, batch_size, seed)
    return MixtureSampler(arrays, mixture, context, batch_size, seed)


def eval_windows(val: np.ndarray, context: int, max_tokens: int) -> torch.Tensor:
    """Evenly spaced (n, context+1) windows of a validation array: the same for every run."""
    n = max(1, min(max_tokens // context, (len(val) - 1) // context))
    starts = np.linspace(0, len(val) - context - 1, n).astype(np.int64)
    return torch.from_numpy(np.stack([np.asarray(val[s: s + context + 1], dtype=np.int64) for s in starts]))


class Prefetcher:
    """Draws `count` batches on a background thread, `depth` ahead, in pinned memory, so the
    host never starves the GPU (used on CUDA; `batch()` has the sampler's interface)."""

    def __init__(self, draw, count: int, depth: int = 4) -> None:
        import queue
        import threading

        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        pin = torch.cuda.is_available()

        def work() -> None:
            for _ in range(count):
                x, y = draw()
                self._queue.put((x.pin_memory(), y.pin_memory()) if pin else (x, y))

        threading.Thread(target=work, daemon=True).start()

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._queue.get()
