"""Token arrays stored as shards with a JSON index, read as one array (memory-mapped, no copy)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mixsearch.paths import read_cached, write_atomic

INDEX = "index.json"


@dataclass(frozen=True)
class Shard:
    """A flat token array in a file: `tokens` ids of `dtype` from byte `offset` (a .npy header skipped)."""

    path: str
    tokens: int
    dtype: str = "uint16"
    offset: int = 0

    def array(self) -> np.ndarray:
        if self.tokens == 0:
            return np.zeros(0, dtype=self.dtype)
        return np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=(self.tokens,))


def shard_of_file(path: Path, dtype: str) -> Shard:
    """A pre-tokenized file as it is: a .npy array (its own dtype), or a flat .bin of `dtype`."""
    if path.suffix == ".npy":
        arr = np.load(path, mmap_mode="r")
        if arr.ndim != 1 or arr.dtype.kind != "u" or arr.dtype.itemsize not in (2, 4):
            raise ValueError(f"{path}: expected a 1-D uint16 or uint32 array, found {arr.ndim}-D {arr.dtype}")
        return Shard(str(path.resolve()), len(arr), str(arr.dtype), int(arr.offset))
    size = path.stat().st_size
    itemsize = np.dtype(dtype).itemsize
    if size % itemsize:
        raise ValueError(f"{path}: {size} bytes is not a whole number of {dtype} tokens")
    return Shard(str(path.resolve()), size // itemsize, dtype)


class TokenView:
    """Tokens [start, stop) of the concatenation of shards, sliced like one 1-D array."""

    def __init__(self, shards: list[Shard], start: int, stop: int) -> None:
        self.shards = [s for s in shards if s.tokens]
        self.bounds = np.cumsum([0] + [s.tokens for s in self.shards])
        self.start, self.stop = start, stop
        kinds = {s.dtype for s in self.shards}
        self.dtype = np.dtype(kinds.pop() if len(kinds) == 1 else "uint32")
        self._arrays: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.stop - self.start

    def _array(self, i: int) -> np.ndarray:
        if i not in self._arrays:
            self._arrays[i] = self.shards[i].array()
        return self._arrays[i]

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("TokenView supports contiguous slices only")
        lo, hi, _ = key.indices(len(self))
        lo, hi = self.start + lo, self.start + max(lo, hi)
        parts = []
        i = int(np.searchsorted(self.bounds, lo, side="right")) - 1
        while lo < hi:
            end = min(hi, int(self.bounds[i + 1]))
            parts.append(self._array(i)[lo - self.bounds[i]: end - self.bounds[i]])
            lo, i = end, i + 1
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts).astype(self.dtype) if parts else np.zeros(0, self.dtype)


def write_index(folder: Path, shards: list[Shard], train_tokens: int, val_tokens: int, extra: dict) -> Path:
    """The index of a domain's shards (paths relative to `folder` when inside it), written atomically."""
    def rel(s: Shard) -> dict:
        p = Path(s.path)
        return {**asdict(s), "path": p.name if p.parent == folder else str(p)}

    index = {"version": 1, "shards": [rel(s) for s in shards], "train_tokens": train_tokens,
             "val_tokens": val_tokens, **extra}
    return write_atomic(folder / INDEX, json.dumps(index, indent=1))


def read_index(path: str | Path) -> tuple[list[Shard], dict]:
    """(shards with absolute paths, the whole index)."""
    path = Path(path)
    return _parsed(path, json.loads(path.read_text()))


def load_index(path: Path) -> tuple[list[Shard], dict] | None:
    """`read_index` of a cache entry, or None when it has none; an index that is unreadable or of the
    wrong shape is None too, with a one-line warning (the entry is then made again)."""
    return read_cached(path, lambda doc: _parsed(path, doc))


def _parsed(path: Path, index: object) -> tuple[list[Shard], dict]:
    if not isinstance(index, dict) or not isinstance(index.get("shards"), list):
        raise ValueError("not a token index (no list of shards)")
    for key in ("train_tokens", "val_tokens", "max_id"):
        if key in index and (isinstance(index[key], bool) or not isinstance(index[key], int)):
            raise ValueError(f"{key} is not a whole number")
    shards = [Shard(**{**s, "path": str(path.parent / s["path"])}) for s in index["shards"]]
    for s in shards:
        if isinstance(s.tokens, bool) or not isinstance(s.tokens, int) or s.tokens < 0 \
                or not isinstance(s.offset, int) or s.dtype not in ("uint16", "uint32"):
            raise ValueError(f"shard {s.path}: tokens, offset or dtype of the wrong kind")
    return shards, index
