"""Mixtures a user names for `validate` to train beside the recommendation: on the command line
(`name=w1,w2,...`) or in a CSV or YAML file, each checked against the study's domains (with phases:
a weight per phase and domain, or one mixture of the domains for every phase); and, for a phased
study, the baseline of the best single static mixture."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from mixsearch.errors import UserError
from mixsearch.layout import Layout
from mixsearch.mixtures import SUM_TOL

if TYPE_CHECKING:
    from mixsearch.search.study import Study

BEST_STATIC = "best-static"


def static_baseline(study: Study) -> dict[str, np.ndarray]:
    """A phased study's best single static mixture by its fitted surrogate (as a schedule: the
    same mixture in every phase), the baseline that tells whether the schedule matters; {} without phases."""
    if not study.recipe.phases:
        return {}
    from mixsearch.propose.simplex import static_optimum
    from mixsearch.search.modelling import fit

    fitted = fit(study)
    assert fitted is not None
    r = study.recipe
    return {BEST_STATIC: static_optimum(fitted.surrogate, study.space(), r.search, r.seed)}


def parse_mixture(text: str, names: list[str], layout: Layout | None = None) -> tuple[str, np.ndarray]:
    """`name=w1,w2,...` (weights in the order of `names`; with a phased layout also one static mixture)."""
    label, sep, weights = text.partition("=")
    if not sep or not label.strip():
        raise UserError(f"'{text}': expected name=w1,w2,...", where="--mixture")
    try:
        w = np.array([float(x) for x in weights.split(",")])
    except ValueError:
        raise UserError(f"'{text}': weights must be numbers", where="--mixture") from None
    return label.strip(), checked(w, names, f"--mixture {label.strip()}", layout)


def read_mixtures(path: Path, names: list[str], layout: Layout | None = None) -> dict[str, np.ndarray]:
    """A CSV (a `name` column and one column per domain) or YAML ({name: {domain: weight}} or
    {name: [weights in domain order]}) of named mixtures."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read: {exc}", where=where) from None
    out: dict[str, np.ndarray] = {}
    if path.suffix.lower() == ".csv":
        for i, row in enumerate(csv.DictReader(text.splitlines())):
            missing = [n for n in ["name", *names] if n not in row]
            if missing:
                raise UserError(f"row {i + 1}: no column {missing[0]}", where=where)
            try:
                w = np.array([float(row[n]) for n in names])
            except ValueError:
                raise UserError(f"row {i + 1}: weights must be numbers", where=where) from None
            out[row["name"]] = checked(w, names, f"{where}: {row['name']}", layout)
        return out
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise UserError("invalid YAML", where=where) from None
    if not isinstance(data, dict):
        raise UserError("expected a mapping of name to mixture", where=where)
    for label, value in data.items():
        try:
            w = np.array([float(value.get(n, 0.0)) for n in names] if isinstance(value, dict)
                         else [float(x) for x in value])
        except (TypeError, ValueError, AttributeError):
            raise UserError(f"{label}: expected {{domain: weight}} or a list of weights", where=where) from None
        out[str(label)] = checked(w, names, f"{where}: {label}", layout)
    return out


def checked(w: np.ndarray, names: list[str], where: str, layout: Layout | None = None) -> np.ndarray:
    """w on the simplex (each phase's block), renormalised; a static mixture given for a phased
    layout becomes the same mixture in every phase."""
    if layout is not None and layout.phased and len(w) == len(layout.domains):
        return layout.tile(checked(w, list(layout.domains), where))[0]
    if len(w) != len(names):
        raise UserError(f"{len(w)} weights for {len(names)} domains ({', '.join(names)})", where=where)
    blocks = layout.blocks if layout is not None else [slice(0, len(w))]
    sums = np.array([w[b].sum() for b in blocks])
    if np.any(w < 0) or np.any(np.abs(sums - 1) > SUM_TOL):
        shown = sums[np.argmax(np.abs(sums - 1))]
        raise UserError(f"weights must be >= 0 and sum to 1 (sum {shown:.4g})", where=where)
    out = w.astype(float).copy()
    for b, total in zip(blocks, sums):
        out[b] /= total
    return out
