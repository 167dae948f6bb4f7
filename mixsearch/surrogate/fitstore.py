"""The study's fitted surrogate, stored under runs/<study>/fit/ and reused while its runs are unchanged.

`fit.pkl` holds the whole fit result (surrogate, CV scores with out-of-fold predictions, data);
`fit.json` a summary that `status` reads without loading torch. Both are keyed by a hash of the
runs the fit saw and of the settings that shaped it, and written atomically (temp file, rename).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.hashing import stable_hash
from mixsearch.paths import write_atomic
from mixsearch.surrogate.base import TrainSet

DIR = "fit"


def data_key(data: TrainSet, run_ids: list[str], settings: dict) -> str:
    """Identifies what a fit saw: the run ids, their mixtures, objectives and fidelities, and settings."""
    arrays = [np.round(a, 12).tobytes().hex() for a in (data.X, data.y, data.fidelities)]
    return stable_hash({"runs": sorted(run_ids), "arrays": stable_hash(arrays, 32), "settings": settings}, 32)


def runs_key(run_ids: list[str]) -> str:
    """The completed runs a fit saw, cheaply comparable without preparing the study's data."""
    return stable_hash(sorted(run_ids), 32)


def save(root: Path, key: str, result: Any, summary: dict) -> None:
    """Store a fit result and its summary under root/fit/ (the pickle first: a summary never
    points at a missing or older fit). A result that cannot be pickled is not stored."""
    try:
        blob = pickle.dumps({"key": key, "result": result}, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError):
        return
    write_atomic(root / DIR / "fit.pkl", blob)
    write_atomic(root / DIR / "fit.json", json.dumps({"key": key, **summary}, indent=1, default=float).encode())


def load(root: Path, key: str) -> Any | None:
    """The stored fit result if it was made from exactly these runs and settings, else None."""
    try:
        with open(root / DIR / "fit.pkl", "rb") as fh:
            stored = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ModuleNotFoundError):
        return None
    return stored["result"] if isinstance(stored, dict) and stored.get("key") == key else None


def summary(root: Path) -> dict | None:
    """The stored fit's summary (key, chosen surrogate, scores), or None."""
    try:
        return json.loads((root / DIR / "fit.json").read_text())
    except (OSError, ValueError):
        return None
