"""The proposer registry: every method a recipe may name is found, each in its own module, imported
only when it is used."""

from __future__ import annotations

from importlib import import_module
from typing import get_args

from mixsearch.propose.base import BUILTINS, PROPOSERS, proposer
from mixsearch.recipe.search import Search


def test_the_registry_names_every_method_a_recipe_accepts():
    assert set(BUILTINS) == set(get_args(Search.model_fields["proposer"].annotation))


def test_each_method_is_registered_by_its_module():
    for name, module in BUILTINS.items():
        import_module(f"mixsearch.propose.{module}")
        assert PROPOSERS[name].__module__ == f"mixsearch.propose.{module}"
        assert proposer(name) is PROPOSERS[name]
