"""The base of every recipe section: unknown keys are errors, numbers are finite, integers may be
written in scientific notation (`2.0e9`), and names follow one pattern."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# names of real corpora: Pile-CC, tulu-3-sft, c4.en; they become columns (w_<name>, loss_<name>) and file names
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
NAME_MAX = 100
BIG = 10**15  # upper bound of token counts and byte sizes: far beyond any corpus or run


def _integral(value: object) -> object:
    """A number written as text (YAML reads `2.0e9` and `6e9` as strings) or a float, as an int
    when it is a whole number; anything else is left for the int check to reject."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip().replace("_", ""))
        except InvalidOperation:
            return value
        if not number.is_finite():
            return value
        return int(number) if number == number.to_integral_value() else float(number)
    return value


Int = Annotated[int, BeforeValidator(_integral)]


class Strict(BaseModel):
    """Base model: unknown keys are errors, so typos never pass silently; inf and nan are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def one_as_list(data: object, key: str) -> object:
    """A recipe mapping with a single string under `key` given as a one-item list (before validation)."""
    if isinstance(data, dict) and isinstance(data.get(key), str):
        return {**data, key: [data[key]]}
    return data


class WeightRange(Strict):
    """A domain's least and largest weight in a mixture."""

    min: float = Field(0.0, ge=0, le=1, description="least weight of the domain")
    max: float = Field(1.0, ge=0, le=1, description="largest weight of the domain")

    @model_validator(mode="after")
    def _ordered(self) -> "WeightRange":
        if self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max}")
        return self
