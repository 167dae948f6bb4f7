"""The study's answer over time: every recommendation a fit made (runs/<study>/recommendations.json,
newest last; recommendation.json is the newest alone) and the one `validate` measured
(validation.json names it). The validated recommendation stays the answer until another is
validated; a later fit's recommendation is shown beside it as "not validated"."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import BaseModel

from mixsearch.paths import read_cached, write_atomic
from mixsearch.search.recommendation import FILE, Recommendation, load

HISTORY = "recommendations.json"
VALIDATION = "validation.json"
KEEP = 200  # records kept in the history (the oldest are dropped)


def history(root: Path) -> list[Recommendation]:
    """Every recorded recommendation, oldest first (none, with a warning, when the file is unusable)."""
    from pydantic import TypeAdapter

    return read_cached(root / HISTORY, TypeAdapter(list[Recommendation]).validate_python) or []


def find(root: Path, rec_id: str) -> Recommendation | None:
    return next((r for r in reversed(history(root)) if r.id == rec_id), None)


def record(root: Path, rec: Recommendation) -> Recommendation:
    """Record `rec` as the latest recommendation (atomically; the caller holds the study lock).
    A recommendation already in the history (same id) keeps its first creation time."""
    past = history(root)
    known = next((r for r in past if r.id == rec.id), None)
    if known is not None:
        rec = replace(rec, created=known.created, stability=rec.stability or known.stability)
    past = [r for r in past if r.id != rec.id] + [rec]
    write_atomic(root / HISTORY, json.dumps([r.to_dict() for r in past[-KEEP:]], indent=1))
    write_atomic(root / FILE, json.dumps(rec.to_dict(), indent=1))
    return rec


class _ArmDoc(BaseModel):
    name: str
    mean: float
    sd: float
    values: dict[str, float]


class _ComparisonDoc(BaseModel):
    name: str
    diff: float
    interval: tuple[float, float]
    verdict: str


class _ValidationDoc(BaseModel):
    """What readers of validation.json rely on (checked on load)."""

    fidelity: str
    seeds: list[int]
    mixtures: list[_ArmDoc]
    comparisons: list[_ComparisonDoc]
    recommendation: Recommendation | None = None


def _valid_doc(doc: object) -> tuple[dict, Recommendation | None]:
    """The validation's JSON dict, once its shape is checked, and the recommendation it validated."""
    return doc, _ValidationDoc.model_validate(doc).recommendation  # type: ignore[return-value]  # a dict: validated


def validation(root: Path) -> tuple[dict, Recommendation | None] | None:
    """The last validation (as its JSON dict) with the recommendation it validated, or None (also,
    with a warning, when the file is unusable)."""
    return read_cached(root / VALIDATION, _valid_doc)


@dataclass(frozen=True)
class Answer:
    """What to show: the answer (the validated recommendation, else the latest) with its
    validation, and the latest recommendation when a later fit moved it away from the validated one."""

    recommendation: Recommendation | None
    validation: dict | None = None  # the validation of `recommendation`
    current: Recommendation | None = None  # a later, not validated recommendation
    distance: float | None = None  # L1 between the two

    @property
    def moved(self) -> bool:
        return self.current is not None


def state(root: Path) -> Answer:
    """The study's answer, read from its files (nothing is fitted or written)."""
    latest = load(root)
    val, validated = validation(root) or ({}, None)
    if validated is None:
        return Answer(latest)
    if latest is None or latest.id == validated.id:
        return Answer(validated, val)
    return Answer(validated, val, latest, validated.distance(latest))
