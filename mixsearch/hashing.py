"""Stable content hashes for cache keys and run ids."""

from __future__ import annotations

import hashlib
import json


def stable_hash(obj: object, length: int = 16) -> str:
    """SHA-256 of the canonical JSON of obj, truncated to `length` hex digits."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]
