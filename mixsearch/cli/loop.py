"""The search loop's commands: init writes a recipe; run and sweep do rounds of launch → fit →
propose; status shows where a study stands."""

from __future__ import annotations

from pathlib import Path
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from mixsearch.cli.common import (AddressOpt, JsonOpt, RecipeArg, RunsDir, context, open_study, prepare_data,
                                  warn_unreadable)
from mixsearch.errors import EXIT_OK, EXIT_RUNS_FAILED, UserError
from mixsearch.paths import write_atomic
from mixsearch.recipe.schema import load_recipe, parse_recipe_text
from mixsearch.ui import documents, views
from mixsearch.ui.output import err
from mixsearch.ui.page import show
from mixsearch.ui.progress import RunProgress, sweep_callback

if TYPE_CHECKING:
    from mixsearch.search.study import Study
    from mixsearch.search.sweep import RoundReport

STARTER = Path(__file__).parent.parent / "starter.yaml"


def init(path: Annotated[Path, typer.Argument(help="where to write the recipe")] = Path("recipes/my-study.yaml"),
         study: Annotated[str, typer.Option(help="study name")] = "my-study",
         force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False) -> None:
    """Write a starter recipe (real text fetched from package registries) to PATH."""
    if path.exists() and not force:
        raise UserError("exists already (use --force to overwrite)", where=str(path))
    text = STARTER.read_text().replace("study: starter", f"study: {study}", 1)
    parse_recipe_text(text, str(path))
    write_atomic(path, text)
    err.print(f"wrote {path}; next: mixsearch data fetch {path} && mixsearch data prepare {path} "
              f"&& mixsearch run {path}", markup=False, highlight=False, soft_wrap=True)


def _sweep(recipe: Path, rounds: int, address: str | None, runs_dir: Path, as_json: bool,
           budget_hours: float | None, max_runs: int | None, command: str) -> int:
    """Shared by `run` and `sweep`: lock the study, do the rounds, report; returns the exit code."""
    from mixsearch.search.budget import Budget
    from mixsearch.search.launch import training
    from mixsearch.search.sweep import sweep

    study = open_study(recipe, runs_dir)
    if max_runs is not None and max_runs < 1:
        raise UserError("must be >= 1", where="--max-runs")
    ctx = context(study, recipe)
    budget = Budget(hours=study.recipe.budget.hours if budget_hours is None else budget_hours,
                    tokens=study.recipe.budget.tokens)
    with training(study, command):
        prepare_data(study, as_json)
        with RunProgress() as progress:
            result = sweep(study, rounds, budget, max_runs, address,
                           sweep_callback(progress, lambda: len(study.unfinished())),
                           None if as_json else partial(_show_round, study, ctx), progress.phase)
    warn_unreadable(study)
    code = EXIT_RUNS_FAILED if result.failed else EXIT_OK
    show(documents.sweep_document(study, result, budget, str(recipe), code), partial(views.sweep_page, ctx=ctx),
         as_json)
    return code


def _show_round(study: Study, ctx: views.Context, rep: RoundReport) -> None:
    """A round's answer, fit and proposals as it ends (a round stopped by the budget has no fit)."""
    from mixsearch.search import answer

    if rep.fit is not None:
        doc = {**documents.answer_json(answer.state(study.store.root), ctx.recipe),
               **documents.round_json(rep, study.recipe.domain_names)}
        views.round_page(doc, ctx).print()


BudgetOpt = Annotated[float | None, typer.Option("--budget-hours", min=0,
                                                 help="stop at this many device-hours (study total)")]
MaxRunsOpt = Annotated[int | None, typer.Option("--max-runs", help="launch at most this many runs in this invocation")]


def run(recipe: RecipeArg,
        rounds: Annotated[int | None, typer.Option(help="proposal rounds to train (default: recipe)")] = None,
        address: AddressOpt = None, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False,
        budget_hours: BudgetOpt = None, max_runs: MaxRunsOpt = None) -> None:
    """Initial runs → fit → propose; each further round trains the proposals, refits and proposes again."""
    r = load_recipe(recipe)
    rounds = r.search.rounds if rounds is None else rounds
    if rounds < 0:
        raise UserError("must be >= 0", where="--rounds")
    raise typer.Exit(_sweep(recipe, rounds + 1, address, runs_dir, as_json, budget_hours, max_runs, "run"))


def sweep_cmd(recipe: RecipeArg, rounds: Annotated[int, typer.Option(min=1, help="rounds of launch → fit → propose")] = 1,
              address: AddressOpt = None, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False,
              budget_hours: BudgetOpt = None, max_runs: MaxRunsOpt = None) -> None:
    """For cron/CI: continue the study where it stopped, do ROUNDS rounds of launch → fit → propose, exit.

    Exit codes: 0 done; 2 invalid input; 3 the study is locked by another live process;
    4 finished, but some runs failed after their retries; 130/143 interrupted (SIGINT/SIGTERM)."""
    raise typer.Exit(_sweep(recipe, rounds, address, runs_dir, as_json, budget_hours, max_runs, "sweep"))


def status(recipe: RecipeArg, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """The answer (the validated recommendation first, a later fit's beside it), runs by status,
    failures with their errors, budget used, and the best run so far. Reads only: nothing is
    fitted or written (`mixsearch fit` or `report --refit` fit anew)."""
    study = open_study(recipe, runs_dir)
    doc = documents.status_document(study, str(recipe))
    warn_unreadable(study)
    show(doc, partial(views.status_page, ctx=context(study, recipe)), as_json)
