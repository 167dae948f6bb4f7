"""Stable content hashes for cache keys and run ids."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def stable_hash(obj: object, length: int = 16) -> str:
    """SHA-256 of the canonical JSON of obj, truncated to `length` hex digits."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def file_hash(path: Path, length: int = 16) -> str:
    """SHA-256 of a file's bytes (read in chunks), truncated to `length` hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]
