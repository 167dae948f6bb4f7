"""What the CLI's commands share: their common options, opening a study, tokenizing its data,
and warning about unreadable store parts."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mixsearch.recipe.schema import load_recipe
from mixsearch.ui.output import err
from mixsearch.ui.views import Context

if TYPE_CHECKING:
    from mixsearch.data.prepare import DomainTokens
    from mixsearch.search.study import Study

RecipeArg = Annotated[Path, typer.Argument(help="recipe YAML file", show_default=False)]
RunsDir = Annotated[Path, typer.Option("--runs-dir", envvar="MIXSEARCH_RUNS_DIR", help="where studies live")]
JsonOpt = Annotated[bool, typer.Option("--json", help="one JSON document on stdout (progress stays on stderr)")]
AddressOpt = Annotated[str | None, typer.Option("--address", help="join a Ray cluster: auto, host:port, ray://...")]


def open_study(recipe: Path, runs_dir: Path) -> Study:
    """Load and validate the recipe, then open its study under runs_dir."""
    r = load_recipe(recipe)  # before the study's imports, so a bad recipe fails fast
    from mixsearch.search.study import Study

    return Study.open(r, runs_dir)


def context(study: Study, recipe: Path) -> Context:
    """What the views show beside a command's document: the recipe's path (for the hints), whether
    the study trains runs, the objectives' labels."""
    r = study.recipe
    return Context(str(recipe), not r.fit_only, tuple(o.label for o in r.objective_list))


def prepare_data(study: Study, quiet: bool) -> None:
    """Tokenize the study's domains (cached), with a spinner and a line per domain unless quiet."""
    with err.status("tokenizing domains (cached by content hash)…", spinner="dots") if not quiet else nullcontext():
        study.data(on_domain=None if quiet else print_domain)


def print_domain(name: str, d: DomainTokens) -> None:
    """A tokenized domain's line on stderr: train/val tokens, and bytes that were not UTF-8."""
    err.print(f"  {name}: {d.train_tokens:,} train / {d.val_tokens:,} val tokens"
              + (f", {d.undecodable_bytes:,} bytes not UTF-8" if d.undecodable_bytes else ""))


def warn_unreadable(study: Study) -> None:
    """One warning line on stderr per Parquet part the store could not read."""
    for path, why in study.store.unreadable.items():
        print(f"warning: {path}: unreadable Parquet part, left in place; its rows are not counted ({why})",
              file=sys.stderr)


@contextmanager
def warning_unreadable(study: Study) -> Iterator[None]:
    """Warn about unreadable parts when the block ends, also when it fails (e.g. too few runs)."""
    try:
        yield
    finally:
        warn_unreadable(study)
