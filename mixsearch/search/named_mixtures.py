"""Mixtures a user names for `validate` to train beside the recommendation: on the command line
(`name=w1,w2,...`) or in a CSV or YAML file, each checked against the study's domains."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import yaml

from mixsearch.errors import UserError
from mixsearch.mixtures import SUM_TOL


def parse_mixture(text: str, names: list[str]) -> tuple[str, np.ndarray]:
    """`name=w1,w2,...` (weights in domain order)."""
    label, sep, weights = text.partition("=")
    if not sep or not label.strip():
        raise UserError(f"'{text}': expected name=w1,w2,...", where="--mixture")
    try:
        w = np.array([float(x) for x in weights.split(",")])
    except ValueError:
        raise UserError(f"'{text}': weights must be numbers", where="--mixture") from None
    return label.strip(), checked(w, names, f"--mixture {label.strip()}")


def read_mixtures(path: Path, names: list[str]) -> dict[str, np.ndarray]:
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
            out[row["name"]] = checked(w, names, f"{where}: {row['name']}")
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
        out[str(label)] = checked(w, names, f"{where}: {label}")
    return out


def checked(w: np.ndarray, names: list[str], where: str) -> np.ndarray:
    if len(w) != len(names):
        raise UserError(f"{len(w)} weights for {len(names)} domains ({', '.join(names)})", where=where)
    if np.any(w < 0) or abs(w.sum() - 1) > SUM_TOL:
        raise UserError(f"weights must be >= 0 and sum to 1 (sum {w.sum():.4g})", where=where)
    return w / w.sum()
