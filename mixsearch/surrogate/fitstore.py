"""The study's cross-validation, stored under runs/<study>/fit/fit.json and reused while its runs are unchanged.

The file holds data only (JSON): the key of what the fit saw (a hash of the runs and of the settings
that shaped it), the chosen surrogate's name, and every candidate's CV scores with their out-of-fold
predictions. The chosen surrogate itself is refitted from the runs when the file is reused: the fit
is deterministic under the recipe's seed and costs one of the CV's k + 1 fits, while the file never
holds anything that runs when read (the runs directory may be shared). `status` reads the same file
without loading torch. It is written atomically (temp file, rename); one that is unreadable or of
the wrong shape is ignored with a warning and rewritten by the next fit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.hashing import stable_hash
from mixsearch.paths import read_cached, write_atomic
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.cv import CVScore

DIR = "fit"
FILE = "fit.json"


def data_key(data: TrainSet, run_ids: list[str], settings: dict) -> str:
    """Identifies what a fit saw: the run ids, their mixtures, objectives and fidelities, and settings."""
    arrays = [np.round(a, 12).tobytes().hex() for a in (data.X, data.y, data.fidelities)]
    return stable_hash({"runs": sorted(run_ids), "arrays": stable_hash(arrays, 32), "settings": settings}, 32)


def runs_key(run_ids: list[str]) -> str:
    """The completed runs a fit saw, cheaply comparable without preparing the study's data."""
    return stable_hash(sorted(run_ids), 32)


def _score_json(s: CVScore) -> dict:
    arrays = {k: None if v is None else [float(x) for x in v] for k, v in (("predicted", s.predicted),
                                                                          ("actual", s.actual))}
    return {**s.to_dict(), **arrays}


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _array(value: object) -> np.ndarray | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("out-of-fold values are not a list")
    return np.array([_number(v) for v in value], float)


def _score(d: object) -> CVScore:
    if not isinstance(d, dict) or not isinstance(d.get("name"), str):
        raise ValueError("a score is not a mapping with a name")
    skipped = d.get("skipped")
    if skipped is not None and not isinstance(skipped, str):
        raise ValueError("a score's skipped is not text")
    predicted, actual = _array(d.get("predicted")), _array(d.get("actual"))
    if (predicted is None) != (actual is None) or (predicted is not None and len(predicted) != len(actual)):
        raise ValueError("out-of-fold predictions and actual values do not pair up")
    return CVScore(d["name"], _number(d.get("spearman")), _number(d.get("mae")), _number(d.get("fit_seconds")),
                   int(_number(d.get("folds"))), skipped, predicted, actual, int(_number(d.get("candidates", 1))))


def _summary(data: object) -> dict:
    """The stored document, its shape checked: key, chosen, runs, runs_key, scores."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a mapping, got {type(data).__name__}")
    for name, kind in (("key", str), ("chosen", str), ("runs_key", str), ("runs", int), ("scores", list)):
        if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
            raise ValueError(f"'{name}' is missing or not {kind.__name__}")
    return data


def save(root: Path, key: str, result: Any, summary: dict) -> None:
    """Store a fit's CV (`result.scores`, with their out-of-fold predictions) and its summary
    (chosen, runs, runs_key) under root/fit/."""
    doc = {"key": key, **summary, "scores": [_score_json(s) for s in result.scores]}
    write_atomic(root / DIR / FILE, json.dumps(doc, indent=1, default=float))


def load(root: Path, key: str) -> tuple[str, list[CVScore]] | None:
    """The stored (chosen surrogate, CV scores) if made from exactly these runs and settings, else None."""
    path = root / DIR / FILE

    def parse(data: object) -> tuple[dict, list[CVScore]]:
        doc = _summary(data)
        scores = [_score(s) for s in doc["scores"]]
        if not any(s.name == doc["chosen"] and s.skipped is None for s in scores):
            raise ValueError(f"no score for the chosen surrogate '{doc['chosen']}'")
        return doc, scores

    stored = read_cached(path, parse)
    if stored is None or stored[0]["key"] != key:
        return None
    return stored[0]["chosen"], stored[1]


def summary(root: Path) -> dict | None:
    """The stored fit's summary (key, chosen surrogate, runs, runs_key, scores), or None."""
    return read_cached(root / DIR / FILE, _summary)
