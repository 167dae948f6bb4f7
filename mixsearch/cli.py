"""The `mixsearch` command line: thin wiring of the study steps, with rich output or --json."""

from __future__ import annotations

import json
import math
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mixsearch import __version__
from mixsearch.budget import Budget, spent
from mixsearch.errors import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNS_FAILED, UserError
from mixsearch.importer import import_runs, parse_mapping
from mixsearch.lock import StudyLock
from mixsearch.recipe import Search, load_recipe, parse_recipe_text
from mixsearch.recommend import Recommendation
from mixsearch.recommend import load as load_recommendation
from mixsearch.store import LOSS, WEIGHT
from mixsearch.study import MIN_RUNS_TO_FIT, FitResult, Study, shutdown
from mixsearch.sweep import RoundReport, sweep

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Search LLM data mixtures with proxy models, surrogates and proposals.")
data_app = typer.Typer(no_args_is_help=True, help="Fetch and tokenize the recipe's text.")
app.add_typer(data_app, name="data")

err = Console(stderr=True)
out = Console()

RecipeArg = Annotated[Path, typer.Argument(help="recipe YAML file", show_default=False)]
RunsDir = Annotated[Path, typer.Option("--runs-dir", envvar="MIXSEARCH_RUNS_DIR", help="where studies live")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable JSON on stdout")]
AddressOpt = Annotated[str | None, typer.Option("--address", help="join a Ray cluster: auto, host:port, ray://...")]

STARTER = Path(__file__).parent / "starter.yaml"


def _emit_json(obj: Any) -> None:
    def default(o: Any) -> Any:
        if hasattr(o, "isoformat"):
            return o.isoformat()
        if hasattr(o, "item"):
            return o.item()
        return str(o)

    def clean(o: Any) -> Any:
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    print(json.dumps(clean(obj), default=default, indent=1))


def _open(recipe: Path, runs_dir: Path) -> Study:
    return Study.open(load_recipe(recipe), runs_dir)


def _prepare(study: Study, quiet: bool) -> None:
    with err.status("tokenizing domains (cached by content hash)…", spinner="dots") if not quiet else nullcontext():
        study.data(on_domain=None if quiet else lambda n, d: err.print(
            f"  {n}: {d.train_tokens:,} train / {d.val_tokens:,} val tokens"))


def _progress(as_json: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err, disable=as_json)


def _progress_callback(bar: Progress, study: Study, validation: bool = False):
    """A per-result callback; when a round's first result arrives, the bar grows by the runs open then."""
    task = bar.add_task("proxy runs", total=None, info="")

    def on_result(row: dict) -> None:
        state = bar.tasks[task]
        if state.total is None or state.completed >= state.total:
            bar.update(task, total=state.completed + len(study.unfinished(validation)) + 1)
        obj = row.get("objective", math.nan)
        info = f"last: done objective={obj:.4f}" if row["status"] == "done" else f"last: failed ({row.get('error')})"
        bar.update(task, advance=1, info=info)

    return on_result


def _warn_unreadable(study: Study) -> None:
    for path, why in study.store.unreadable.items():
        print(f"warning: {path}: unreadable Parquet part, left in place; its rows are not counted ({why})",
              file=sys.stderr)


def _fit_table(fit: FitResult) -> Table:
    floor = fit.noise
    caption = (f"noise floor: seed sd {floor.sd:.4f} ({floor.mixtures} mixtures, {floor.dof} dof); "
               f"a perfect predictor reaches Spearman {floor.max_spearman:.3f} on single runs" if floor
               else "noise floor: not measured (set search.replicates)")
    table = Table(title=f"surrogates, {fit.scores[0].folds}-fold CV on {fit.n_runs} runs", caption=caption)
    for col in ("surrogate", "spearman", "MAE", "fit s", ""):
        table.add_column(col, justify="right" if col not in ("surrogate", "") else "left")
    for s in fit.scores:
        table.add_row(s.name, f"{s.spearman:.3f}", f"{s.mae:.4f}", f"{s.fit_seconds:.2f}",
                      "[green]chosen" if s.name == fit.name else "")
    return table


def _print_fit(fit: FitResult) -> None:
    out.print(_fit_table(fit))
    for line in fit.warnings:
        err.print(f"warning: {line}", markup=False, highlight=False)


def _recommendation_table(rec: Recommendation, names: list[str]) -> Table:
    table = Table(title=f"recommended mixture: the {rec.surrogate} surrogate's optimum ({rec.runs} runs)")
    for n in names:
        table.add_column(n, justify="right")
    table.add_column("predicted", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_row(*[f"{rec.mixture[n]:.3f}" for n in names], f"{rec.predicted:.4f}",
                  f"[{rec.interval[0]:.4f}, {rec.interval[1]:.4f}]")
    return table


def _show_answer(rec: Recommendation | None, best: dict | None, names: list[str]) -> None:
    """The recommendation first; the best observed run only with its noise band."""
    if rec:
        out.print(_recommendation_table(rec, names))
    if best:
        _show_best(best, rec, names)


def _show_best(best: dict, rec: Recommendation | None, names: list[str]) -> None:
    out.print(_mixture_table([best], names, "best observed run (one seed: not the answer)", "objective"))
    sd = rec.noise_sd if rec else None
    band = f" ± {sd:.4f} (seed sd)" if sd else " (seed noise not measured: set search.replicates)"
    out.print(f"best observed objective {best['objective']:.4f}{band}", highlight=False)


def _mixture_table(rows: list[dict], names: list[str], title: str, value: str) -> Table:
    table = Table(title=title)
    table.add_column("run_id")
    table.add_column("fidelity")
    for n in names:
        table.add_column(n, justify="right")
    table.add_column(value, justify="right")
    for row in rows:
        v = row.get(value, math.nan)
        fid = row.get("fidelity")
        table.add_row(row["run_id"][:10], fid if isinstance(fid, str) else "-", *[f"{row[WEIGHT + n]:.3f}" for n in names],
                      "-" if v is None or not math.isfinite(v) else f"{v:.4f}")
    return table


def _fit_json(fit: FitResult) -> dict:
    return {"chosen": fit.name, "runs": fit.n_runs, "scores": [s.to_dict() for s in fit.scores],
            "noise": fit.noise.to_dict() if fit.noise else None, "warnings": fit.warnings}


def _proposal_json(rows: list[dict], names: list[str]) -> list[dict]:
    return [{"run_id": r["run_id"], "fidelity": r.get("fidelity"), "predicted": r["predicted"],
             "mixture": {n: r[WEIGHT + n] for n in names}} for r in rows]


def _best_json(best: dict | None, names: list[str], rec: Recommendation | None = None) -> dict | None:
    if best is None:
        return None
    losses = {k[len(LOSS):]: v for k, v in best.items() if k.startswith(LOSS)}
    return {"run_id": best["run_id"], "objective": best["objective"], "noise_sd": rec.noise_sd if rec else None,
            "mixture": {n: best[WEIGHT + n] for n in names}, "losses": losses}


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", help="print the version")] = False) -> None:
    if version:
        print(__version__)
        raise typer.Exit()


@app.command()
def init(path: Annotated[Path, typer.Argument(help="where to write the recipe")] = Path("recipes/my-study.yaml"),
         study: Annotated[str, typer.Option(help="study name")] = "my-study",
         force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False) -> None:
    """Write a starter recipe (real text fetched from package registries) to PATH."""
    if path.exists() and not force:
        raise UserError("exists already (use --force to overwrite)", where=str(path))
    text = STARTER.read_text().replace("study: starter", f"study: {study}", 1)
    parse_recipe_text(text, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    err.print(f"wrote {path}; next: mixsearch data fetch {path} && mixsearch run {path}")


@data_app.command("fetch")
def data_fetch(recipe: RecipeArg, as_json: JsonOpt = False) -> None:
    """Download the recipe's packages (without installing them) and extract plain text."""
    from mixsearch.data.fetch import fetch_all

    r = load_recipe(recipe)
    done = fetch_all(r, on_done=None if as_json else lambda n, m: err.print(
        f"  {n}: {m['documents']} documents, {m['bytes'] / 1e6:.2f} MB from {', '.join(m['archives'])}"))
    if as_json:
        _emit_json(done)


@data_app.command("prepare")
def data_prepare(recipe: RecipeArg, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Tokenize every domain once into cached memory-mapped train/validation arrays."""
    study = _open(recipe, runs_dir)
    _prepare(study, as_json)
    data = study.data()
    if as_json:
        _emit_json({"data_hash": data.data_hash, "vocab_size": data.vocab_size,
                    "domains": {n: {"train_tokens": d.train_tokens, "val_tokens": d.val_tokens}
                                for n, d in {**data.domains, **data.eval_sets}.items()}})
    else:
        err.print(f"data hash {data.data_hash}, vocabulary {data.vocab_size}")



def _sweep(recipe: Path, rounds: int, address: str | None, runs_dir: Path, as_json: bool,
           budget_hours: float | None, max_runs: int | None, command: str) -> int:
    """Shared by `run` and `sweep`: lock the study, do the rounds, report; returns the exit code."""
    study = _open(recipe, runs_dir)
    r = study.recipe
    if max_runs is not None and max_runs < 1:
        raise UserError("must be >= 1", where="--max-runs")
    budget = Budget(hours=budget_hours if budget_hours is not None else r.budget.hours,
                    tokens=r.budget.tokens, gpus=r.proxy.resources.num_gpus > 0)

    def on_round(rep: RoundReport) -> None:
        if not as_json and rep.fit is not None:
            out.print(_recommendation_table(rep.recommendation, r.domain_names))
            _print_fit(rep.fit)
            out.print(_mixture_table(rep.proposals, r.domain_names,
                                     f"proposed mixtures (after round {rep.round})", "predicted"))

    with StudyLock(study.store.root, command):
        _prepare(study, as_json)
        try:
            with _progress(as_json) as bar:
                result = sweep(study, rounds, budget, max_runs, address, _progress_callback(bar, study), on_round)
        finally:
            shutdown()
            study.store.compact()
    _warn_unreadable(study)
    best = study.best()
    rec = result.recommendation or load_recommendation(study.store.root)
    code = EXIT_RUNS_FAILED if result.failed else EXIT_OK
    if as_json:
        _emit_json({
            "recommendation": rec.to_dict() if rec else None,
            "study": r.study, "initial_added": result.initial_added, "stopped_by": result.stopped_by,
            "rounds": [{"round": rep.round, "launched": rep.launched, "fit": _fit_json(rep.fit) if rep.fit else None,
                        "proposals": _proposal_json(rep.proposals, r.domain_names)} for rep in result.rounds],
            "failed": result.failed, "spent": result.spent.to_dict(),
            "budget": {"hours": budget.hours, "tokens": budget.tokens},
            "best": _best_json(best, r.domain_names, rec), "exit_code": code})
    else:
        _show_answer(rec, best, r.domain_names)
        s = result.spent
        err.print(f"stopped by {result.stopped_by}; {result.failed} run(s) failed in this invocation; study total "
                  f"{s.runs} runs, {s.cpu_hours:.3f} CPU-h, {s.gpu_hours:.3f} GPU-h, {s.tokens:,} tokens")
    return code


BudgetOpt = Annotated[float | None, typer.Option("--budget-hours", min=0,
                                                 help="stop at this many device-hours (study total)")]
MaxRunsOpt = Annotated[int | None, typer.Option("--max-runs", help="launch at most this many runs in this invocation")]


@app.command()
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


@app.command("sweep")
def sweep_cmd(recipe: RecipeArg, rounds: Annotated[int, typer.Option(min=1, help="rounds of launch → fit → propose")] = 1,
              address: AddressOpt = None, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False,
              budget_hours: BudgetOpt = None, max_runs: MaxRunsOpt = None) -> None:
    """For cron/CI: continue the study where it stopped, do ROUNDS rounds of launch → fit → propose, exit.

    Exit codes: 0 done; 2 invalid input; 3 the study is locked by another live process;
    4 finished, but some runs failed after their retries."""
    raise typer.Exit(_sweep(recipe, rounds, address, runs_dir, as_json, budget_hours, max_runs, "sweep"))


@app.command()
def status(recipe: RecipeArg, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Runs by status, failures with their errors, budget used, and the best mixture so far."""
    study = _open(recipe, runs_dir)
    r = study.recipe
    view = study.store.runs()
    counts = view["status"].value_counts().to_dict() if len(view) else {}
    failed = view[view["status"] == "failed"][["run_id", "error"]].to_dict("records") if len(view) else []
    used = spent(view)
    best = study.best()
    rec = load_recommendation(study.store.root)
    lock = StudyLock(study.store.root).holder()
    _warn_unreadable(study)
    pareto = _pareto_json(study) if len(r.objective_list) > 1 else None
    if as_json:
        _emit_json({"recommendation": rec.to_dict() if rec else None,
                    "study": r.study, "runs": len(view), "by_status": counts, "failed": failed, "pareto": pareto,
                    "spent": used.to_dict(), "budget": r.budget.model_dump(), "locked_by": lock,
                    "unreadable_parts": {str(p): why for p, why in study.store.unreadable.items()},
                    "best": _best_json(best, r.domain_names, rec)})
        return
    if rec:
        out.print(_recommendation_table(rec, r.domain_names))
    table = Table(title=f"study {r.study}: {len(view)} runs")
    table.add_column("status")
    table.add_column("runs", justify="right")
    for k, v in sorted(counts.items()):
        table.add_row(k, str(v))
    out.print(table)
    limit = f" of {r.budget.hours:g} h budget" if r.budget.hours else ""
    out.print(f"spent: {used.cpu_hours:.3f} CPU-h, {used.gpu_hours:.3f} GPU-h{limit}; {used.tokens:,} tokens")
    if lock:
        out.print(f"locked by pid {lock.get('pid')} on {lock.get('host')} ({lock.get('command')})")
    for f in failed:
        out.print(f"[red]failed[/red] {f['run_id'][:10]}: {f['error']}", markup=True, highlight=False)
    if pareto:
        table = Table(title="Pareto set (completed target-fidelity runs)")
        table.add_column("run_id")
        for o in r.objective_list:
            table.add_column(o.label, justify="right")
        for p in pareto:
            table.add_row(p["run_id"][:10], *[f"{v:.4f}" for v in p["objectives"]])
        out.print(table)
    elif best:
        _show_best(best, rec, r.domain_names)


def _pareto_json(study: Study) -> list[dict]:
    front = study.pareto()
    Y = study.objectives_matrix(front)
    return [{"run_id": row["run_id"], "objectives": list(map(float, y)),
             "mixture": {n: row[WEIGHT + n] for n in study.recipe.domain_names}}
            for row, y in zip(front.to_dict("records"), Y)]


@app.command()
def fit(recipe: RecipeArg, surrogate: Annotated[str | None, typer.Option(help="auto or a surrogate name")] = None,
        runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Cross-validate surrogates on the completed runs, report Spearman / MAE / fit time,
    and save the chosen one's predicted-vs-actual plot."""
    from mixsearch.report import predicted_vs_actual, save_png

    study = _open(recipe, runs_dir)
    result = study.fit(surrogate)
    rec = study.recommend(result)
    fig, _ = predicted_vs_actual(study, result)
    plot = save_png(fig, study.store.root / "fit.png")
    if as_json:
        _emit_json({"recommendation": rec.to_dict(), **_fit_json(result), "plot": str(plot)})
    else:
        out.print(_recommendation_table(rec, study.recipe.domain_names))
        _print_fit(result)
        err.print(f"predicted vs actual: {plot}")


@app.command()
def propose(recipe: RecipeArg, n: Annotated[int | None, typer.Option("--n", min=1, help="batch size")] = None,
            method: Annotated[str | None, typer.Option(help="regmix, argmin, optimize, bo, mfbo, tpe, cmaes or qmc")] = None,
            surrogate: Annotated[str | None, typer.Option(help="auto or a surrogate name")] = None,
            runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Fit the surrogate and store the next batch of mixtures as 'proposed' runs."""
    methods = Search.model_fields["proposer"].annotation.__args__
    if method not in (None, *methods):
        raise UserError(f"unknown method '{method}' (use {', '.join(methods)})", where="--method")
    study = _open(recipe, runs_dir)
    _prepare(study, True)
    with StudyLock(study.store.root, "propose"):
        result = study.fit(surrogate)
        rec = study.recommend(result)
        frame = study.propose(result, n, method)
        rows = frame.to_dict("records")
    names = study.recipe.domain_names
    if as_json:
        _emit_json({"recommendation": rec.to_dict(), "fit": _fit_json(result),
                    "proposals": _proposal_json(rows, names),
                    "mf_recommendation": frame.attrs.get("recommendation")})
    else:
        out.print(_recommendation_table(rec, names))
        out.print(_mixture_table(rows, names, "proposed mixtures", "predicted"))
        if frame.attrs.get("recommendation"):
            rec = ", ".join(f"{k}={v:.3f}" for k, v in frame.attrs["recommendation"].items())
            out.print(f"recommended at the target fidelity (posterior-mean optimum): {rec}")



@app.command("validate")
def validate_cmd(recipe: RecipeArg,
                 seeds: Annotated[int, typer.Option(min=1, help="seeds per mixture (the same for all)")] = 3,
                 fidelity: Annotated[str | None, typer.Option(help="a fidelity of the plan (default: target)")] = None,
                 tokens: Annotated[int | None, typer.Option(min=1, help="override: training tokens")] = None,
                 width: Annotated[int | None, typer.Option(min=8, help="override: model width")] = None,
                 layers: Annotated[int | None, typer.Option(min=1, help="override: model layers")] = None,
                 mixture: Annotated[list[str] | None, typer.Option("--mixture", help="also train name=w1,w2,... "
                                                                   "(domain order)")] = None,
                 mixtures: Annotated[Path | None, typer.Option("--mixtures", help="CSV/YAML of named mixtures")] = None,
                 address: AddressOpt = None, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Train the recommendation beside uniform, natural and the best run's mixture (same seeds);
    print mean ± sd, paired differences with 95% intervals and a verdict. Resumable."""
    from mixsearch import validate as va

    study = _open(recipe, runs_dir)
    names = study.recipe.domain_names
    extra = dict(va.parse_mixture(m, names) for m in mixture or [])
    extra.update(va.read_mixtures(mixtures, names) if mixtures else {})
    with StudyLock(study.store.root, "validate"):
        _prepare(study, as_json)
        rec = load_recommendation(study.store.root) or study.recommend(study.fit())
        try:
            with _progress(as_json) as bar:
                result = va.validate(study, rec, seeds, va.scale(study, fidelity, tokens, width, layers), extra,
                                     address, on_result=_progress_callback(bar, study, validation=True))
        finally:
            shutdown()
            study.store.compact()
    if as_json:
        _emit_json({"recommendation": rec.to_dict(), **result.to_dict()})
    else:
        out.print(_recommendation_table(rec, names))
        out.print(va.table(result))
    raise typer.Exit(EXIT_RUNS_FAILED if result.launched["failed"] else EXIT_OK)


@app.command("import")
def import_cmd(recipe: RecipeArg, file: Annotated[Path, typer.Argument(help="CSV or Parquet of runs done elsewhere")],
               mapping: Annotated[list[str] | None, typer.Option("--map", help="rename a column: SOURCE=TARGET "
                                                                  "(targets: w_<domain>, loss_<name>, objective, tokens, params, seed)")] = None,
               runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Bring runs done elsewhere into the recipe's study (all rows validated first; none or all stored)."""
    study = _open(recipe, runs_dir)
    with StudyLock(study.store.root, "import"):
        new, total = import_runs(study, file, parse_mapping(mapping or []))
    if as_json:
        _emit_json({"imported": new, "rows": total, "already_present": total - new})
    else:
        err.print(f"imported {new} new runs ({total - new} of {total} rows were already in the store)")


@app.command()
def export(recipe: RecipeArg,
           fmt: Annotated[str, typer.Option("--format", help="parquet, csv, or dataset (Parquet partitioned by study/round)")] = "parquet",
           out_path: Annotated[Path | None, typer.Option("--out", help="output file or directory")] = None,
           runs_dir: RunsDir = Path("runs")) -> None:
    """Write one row per run (schema version in the column `schema_version`)."""
    study = _open(recipe, runs_dir)
    target = out_path or study.store.root / ("export" if fmt == "dataset" else f"export.{fmt}")
    n = study.store.export(target, fmt)
    _warn_unreadable(study)
    err.print(f"wrote {n} runs to {target}")


@app.command()
def report(recipe: RecipeArg, out_path: Annotated[Path | None, typer.Option("--out", help="HTML file")] = None,
           runs_dir: RunsDir = Path("runs")) -> None:
    """A self-contained HTML report: history, surrogate fit, mixtures, per-domain losses, fidelities."""
    from mixsearch.report import write_report

    study = _open(recipe, runs_dir)
    path = write_report(study, out_path or study.store.root / "report.html")
    _warn_unreadable(study)
    err.print(f"wrote {path}")


@app.command("replay")
def replay_cmd(recipe: Annotated[Path | None, typer.Argument(help="replay this study's completed runs "
                                                                 "(default: a synthetic pool)")] = None,
               strategies: Annotated[str, typer.Option(help="comma-separated: random, regmix, gp-bo, mf-bo")] =
               "random,regmix,gp-bo,mf-bo",
               seeds: Annotated[int, typer.Option(min=1, help="repetitions (synthetic: a new pool each)")] = 5,
               budget: Annotated[float, typer.Option(min=0.01, help="cost per strategy, in target-run units")] = 40.0,
               domains: Annotated[int, typer.Option(min=2, help="synthetic: domains")] = 6,
               pool_size: Annotated[int, typer.Option("--pool", min=10, help="synthetic: mixtures in the pool")] = 400,
               tolerance: Annotated[float, typer.Option(help="'found' = within this fraction of the pool optimum")] = 0.01,
               out_path: Annotated[Path | None, typer.Option("--out", help="plot file (default: "
                                                                           "runs/<study or synthetic>/replay.png)")] = None,
               runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Benchmark search strategies by replaying them on a pool of completed runs: best found vs cost."""
    import warnings

    from mixsearch import replay as rp

    names = [s.strip() for s in strategies.split(",") if s.strip()]
    unknown = [n for n in names if n not in rp.STRATEGIES]
    if unknown or not names:
        raise UserError(f"unknown strategy '{unknown[0] if unknown else ''}' (use {', '.join(rp.STRATEGIES)})",
                        where="--strategies")
    study = _open(recipe, runs_dir) if recipe is not None else None
    out_path = out_path or Path(runs_dir) / (study.recipe.study if study else "synthetic") / "replay.png"
    if study is not None:
        if len(study.completed_at_target()) < MIN_RUNS_TO_FIT:
            raise UserError(f"needs at least {MIN_RUNS_TO_FIT} completed target-fidelity runs to replay",
                            where=f"study {study.recipe.study}")
        data = study.train_set()
        pools = [rp.pool_from_runs(data.X, data.fidelities, data.y)] * seeds
    else:
        pools = [rp.synthetic_pool(domains, pool_size, seed) for seed in range(seeds)]
    traces = []
    with _progress(as_json) as bar, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = bar.add_task("replay", total=seeds, info="")
        for seed, pool in enumerate(pools):
            traces.append(rp.replay(pool, names, budget, seed, tolerance))
            bar.update(task, advance=1)
    optima = [p.optimum for p in pools]
    table = rp.summarize(traces, optima, tolerance)
    rp.plot(traces, optima, out_path)
    if as_json:
        _emit_json({"summary": table.to_dict("records"), "plot": str(out_path)})
        return
    t = Table(title=f"replay: median over {seeds} seed(s), cost in target-run units")
    for col in table.columns:
        t.add_column(col, justify="left" if col == "strategy" else "right")
    for row in table.itertuples(index=False):
        t.add_row(*[v if isinstance(v, str) else f"{v:.3g}" for v in row])
    out.print(t)
    err.print(f"plot: {out_path}")


def main() -> None:
    """Entry point: user errors become one line on stderr and a documented exit code."""
    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(EXIT_INPUT)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
