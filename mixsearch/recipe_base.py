"""The base of every recipe section: unknown keys are errors; names follow one pattern."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"


class Strict(BaseModel):
    """Base model: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid")


def one_as_list(data: object, key: str) -> object:
    """A recipe mapping with a single string under `key` given as a one-item list (before validation)."""
    if isinstance(data, dict) and isinstance(data.get(key), str):
        return {**data, key: [data[key]]}
    return data
