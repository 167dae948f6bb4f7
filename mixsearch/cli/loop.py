"""The search loop's commands: init writes a recipe; run and sweep do rounds of launch → fit →
propose; status shows where a study stands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from mixsearch.cli.common import AddressOpt, JsonOpt, RecipeArg, RunsDir, open_study, prepare_data, warn_unreadable
from mixsearch.errors import EXIT_OK, EXIT_RUNS_FAILED, UserError
from mixsearch.paths import write_atomic
from mixsearch.recipe.schema import load_recipe, parse_recipe_text
from mixsearch.ui import documents
from mixsearch.ui.output import emit_json, err, out
from mixsearch.ui.progress import RunProgress, sweep_callback
from mixsearch.ui.tables import mixture_table, print_fit, show_answer, show_best, show_recommendation

if TYPE_CHECKING:
    from mixsearch.search.answer import Answer
    from mixsearch.search.budget import Budget
    from mixsearch.search.sweep import SweepResult
    from mixsearch.search.study import Study

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
    from mixsearch.search import answer
    from mixsearch.search.budget import Budget
    from mixsearch.store.lock import StudyLock
    from mixsearch.execute.schedule import shutdown
    from mixsearch.search.sweep import RoundReport, sweep

    study = open_study(recipe, runs_dir)
    r = study.recipe
    if max_runs is not None and max_runs < 1:
        raise UserError("must be >= 1", where="--max-runs")
    budget = Budget(hours=budget_hours if budget_hours is not None else r.budget.hours,
                    tokens=r.budget.tokens)

    def on_round(rep: RoundReport) -> None:
        if not as_json and rep.fit is not None:
            show_recommendation(answer.state(study.store.root), r.mixture_names, str(recipe))
            print_fit(rep.fit)
            out.print(mixture_table(rep.proposals, r.mixture_names,
                                    f"proposed mixtures (after round {rep.round})", "predicted"))

    with StudyLock(study.store.root, command):
        prepare_data(study, as_json)
        try:
            with RunProgress() as progress:
                result = sweep(study, rounds, budget, max_runs, address,
                               sweep_callback(progress, lambda: len(study.unfinished())), on_round, progress.phase)
        finally:
            shutdown()
            study.store.compact()
    warn_unreadable(study)
    best = study.best()
    state = answer.state(study.store.root)
    code = EXIT_RUNS_FAILED if result.failed else EXIT_OK
    if as_json:
        emit_json({**_sweep_document(study, result, budget, state, best, str(recipe)), "exit_code": code})
    else:
        show_answer(state, best, r.mixture_names, str(recipe))
        s = result.spent
        err.print(f"stopped by {result.stopped_by}; {result.failed} run(s) failed in this invocation; study total "
                  f"{s.runs} runs, {s.cpu_hours:.3f} CPU-h, {s.gpu_hours:.3f} GPU-h, {s.tokens:,} tokens")
    return code


def _sweep_document(study: Study, result: SweepResult, budget: Budget, state: Answer, best: dict | None,
                    recipe: str) -> dict:
    """What `run`/`sweep --json` emit: the answer, each round's fit and proposals, what was spent."""
    names = study.recipe.mixture_names
    return {**documents.answer_json(state, recipe),
            "study": study.recipe.study, "initial_added": result.initial_added, "stopped_by": result.stopped_by,
            "rounds": [{"round": rep.round, "launched": rep.launched,
                        "fit": documents.fit_json(rep.fit) if rep.fit else None,
                        "proposals": documents.proposal_json(rep.proposals, names)} for rep in result.rounds],
            "failed": result.failed, "spent": result.spent.to_dict(),
            "budget": {"hours": budget.hours, "tokens": budget.tokens},
            "best": documents.best_json(best, names, state.recommendation)}


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
    from mixsearch.search import answer

    study = open_study(recipe, runs_dir)
    best = study.best()
    state = answer.state(study.store.root)
    doc = _status_document(study, state, best, str(recipe))
    if as_json:
        emit_json(doc)
        return
    show_recommendation(state, study.recipe.mixture_names, str(recipe))
    _show_status(doc, study)
    if not doc["pareto"] and best:
        show_best(best, state.recommendation, study.recipe.mixture_names)


def _status_document(study: Study, state: Answer, best: dict | None, recipe: str) -> dict:
    """Where the study stands, as `status --json` emits it (the table shows the same)."""
    from mixsearch.search.budget import spent
    from mixsearch.search.modelling import last_proposal
    from mixsearch.store.lock import StudyLock

    r = study.recipe
    view = study.store.runs()
    failures = view[view["status"] == "failed"][["run_id", "error"]].to_dict("records")
    lock = StudyLock(study.store.root).holder()
    warn_unreadable(study)
    return {**documents.answer_json(state, recipe), "study": r.study, "runs": len(view),
            "by_status": {k: int(v) for k, v in view["status"].value_counts().items()}, "failed": len(failures),
            "failures": failures, "pareto": documents.pareto_json(study) if len(r.objective_list) > 1 else None,
            "surrogate": _stored_fit(study), "spent": spent(view).to_dict(), "budget": r.budget.model_dump(),
            "last_proposal": last_proposal(study.store.root), "locked_by": lock,
            "unreadable_parts": {str(p): why for p, why in study.store.unreadable.items()},
            "best": documents.best_json(best, r.mixture_names, state.recommendation)}


def _show_status(doc: dict, study: Study) -> None:
    """The status document as tables and lines."""
    r = study.recipe
    table = Table(title=f"study {r.study}: {doc['runs']} runs")
    table.add_column("status")
    table.add_column("runs", justify="right")
    for k, v in sorted(doc["by_status"].items()):
        table.add_row(k, str(v))
    out.print(table)
    used, limit = doc["spent"], f" of {r.budget.hours:g} h budget" if r.budget.hours else ""
    out.print(f"spent: {used['cpu_hours']:.3f} CPU-h, {used['gpu_hours']:.3f} GPU-h{limit}; {used['tokens']:,} tokens")
    if lock := doc["locked_by"]:
        out.print(f"locked by pid {lock.get('pid')} on {lock.get('host')} ({lock.get('command')})")
    if fitted := doc["surrogate"]:
        out.print(f"surrogate: {fitted['chosen']} fitted on {fitted['runs']} runs "
                  f"({'current' if fitted['current'] else 'stale: runs finished since; fit/propose refit it'})")
    if (proposal := doc["last_proposal"]) and proposal.get("reason"):
        out.print(f"last proposal ({proposal['method']}, {', '.join(proposal['fidelities'])}): {proposal['reason']}",
                  markup=False, highlight=False)
    for f in doc["failures"]:
        out.print(f"[red]failed[/red] {f['run_id'][:10]}: {f['error']}", markup=True, highlight=False)
    if doc["pareto"]:
        table = Table(title="Pareto set (completed target-fidelity runs)")
        table.add_column("run_id")
        for o in r.objective_list:
            table.add_column(o.label, justify="right")
        for p in doc["pareto"]:
            table.add_row(p["run_id"][:10], *[f"{v:.4f}" for v in p["objectives"]])
        out.print(table)


def _stored_fit(study: Study) -> dict | None:
    """The stored fit's summary, and whether it saw exactly the study's completed runs."""
    from mixsearch.surrogate import fitstore

    stored = fitstore.summary(study.store.root)
    if stored is None:
        return None
    done = study.completed()
    current = stored.get("runs_key") == fitstore.runs_key([str(i) for i in done.get("run_id", [])])
    return {"chosen": stored.get("chosen"), "runs": stored.get("runs"), "current": current}
