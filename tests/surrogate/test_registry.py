"""The surrogate registry: every family a recipe may name is found, each in its own module, imported only
when it is used."""

from __future__ import annotations

from importlib import import_module
from typing import get_args

from mixsearch.recipe.search import Search
from mixsearch.surrogate.base import BUILTINS, SURROGATES


def test_the_registry_names_every_surrogate_a_recipe_accepts():
    assert {"auto", *BUILTINS} == set(get_args(Search.model_fields["surrogate"].annotation))


def test_the_lazy_surrogate_registry_names_every_builtin_family():
    """known_surrogates() answers from BUILTINS without importing the families: every family the
    modules register must be listed there, under the module that registers it."""
    for module in set(BUILTINS.values()):
        import_module(f"mixsearch.surrogate.{module}")
    assert set(SURROGATES) == set(BUILTINS)
    assert all(SURROGATES[name].__module__ == f"mixsearch.surrogate.{module}" for name, module in BUILTINS.items())
