"""Surrogates: predict the objective from a mixture. One base class, one module per family,
registered by the name a recipe uses."""

from mixsearch.surrogate.base import SURROGATES, Surrogate, make_surrogate

__all__ = ["SURROGATES", "Surrogate", "make_surrogate"]
