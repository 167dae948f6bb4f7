"""The `mixsearch` command line: thin wiring of the study steps, with rich output or --json.

Heavy modules (the study, torch, Ray, surrogates, plotting) are imported inside the commands
that need them, so `--help`, `status` and errors start fast.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer
from rich.table import Table

from mixsearch import __version__, signals
from mixsearch.errors import EXIT_OK, EXIT_RUNS_FAILED, UserError
from mixsearch.recipe import Search, load_recipe, parse_recipe_text
from mixsearch.ui import documents, entry
from mixsearch.ui.output import emit_json, err, out
from mixsearch.ui.progress import RunProgress, bytes_progress, spinner, sweep_callback
from mixsearch.ui.tables import mixture_table, print_fit, recommendation_table, show_answer, show_best

if TYPE_CHECKING:
    from mixsearch.study import Study

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Search LLM data mixtures with proxy models, surrogates and proposals.")
data_app = typer.Typer(no_args_is_help=True, help="Fetch and tokenize the recipe's text.")
app.add_typer(data_app, name="data")

PROPOSERS = get_args(Search.model_fields["proposer"].annotation)

RecipeArg = Annotated[Path, typer.Argument(help="recipe YAML file", show_default=False)]
RunsDir = Annotated[Path, typer.Option("--runs-dir", envvar="MIXSEARCH_RUNS_DIR", help="where studies live")]
JsonOpt = Annotated[bool, typer.Option("--json", help="one JSON document on stdout (progress stays on stderr)")]
AddressOpt = Annotated[str | None, typer.Option("--address", help="join a Ray cluster: auto, host:port, ray://...")]

STARTER = Path(__file__).parent / "starter.yaml"


def _open(recipe: Path, runs_dir: Path) -> Study:
    r = load_recipe(recipe)  # before the study's imports, so a bad recipe fails fast
    from mixsearch.study import Study

    return Study.open(r, runs_dir)


def _prepare(study: Study, quiet: bool) -> None:
    with err.status("tokenizing domains (cached by content hash)…", spinner="dots") if not quiet else nullcontext():
        study.data(on_domain=None if quiet else lambda n, d: err.print(
            f"  {n}: {d.train_tokens:,} train / {d.val_tokens:,} val tokens"
            + (f", {d.undecodable_bytes:,} bytes not UTF-8" if d.undecodable_bytes else "")))


def _warn_unreadable(study: Study) -> None:
    for path, why in study.store.unreadable.items():
        print(f"warning: {path}: unreadable Parquet part, left in place; its rows are not counted ({why})",
              file=sys.stderr)


@contextmanager
def _warning_unreadable(study: Study) -> Iterator[None]:
    """Warn about unreadable parts when the block ends, also when it fails (e.g. too few runs)."""
    try:
        yield
    finally:
        _warn_unreadable(study)


def _version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", help="print the version and exit", is_eager=True,
                                                callback=_version)] = False) -> None:
    """Search LLM data mixtures with proxy models, surrogates and proposals."""


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
    err.print(f"wrote {path}; next: mixsearch data fetch {path} && mixsearch data prepare {path} "
              f"&& mixsearch run {path}", markup=False, highlight=False, soft_wrap=True)


@data_app.command("fetch")
def data_fetch(recipe: RecipeArg, as_json: JsonOpt = False) -> None:
    """Download the recipe's packages (without installing them) and extract plain text."""
    from mixsearch.data.fetch import fetch_all

    r = load_recipe(recipe)
    if not any(d.fetch for d in [*r.domains, *r.eval_sets]):
        err.print(f"nothing to fetch: no domain or eval set of {recipe} has a `fetch` section",
                  markup=False, highlight=False, soft_wrap=True)
        if as_json:
            emit_json({})
        return
    done = fetch_all(r, on_done=lambda n, m: err.print(
        f"  {n}: {m['documents']} documents, {m['bytes'] / 1e6:.2f} MB from {', '.join(m['archives'])}"))
    if as_json:
        emit_json(done)


@data_app.command("prepare")
def data_prepare(recipe: RecipeArg, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False,
                 address: AddressOpt = None,
                 workers: Annotated[int | None, typer.Option(min=1, help="local tokenizer processes "
                                                                          "(default: every core)")] = None) -> None:
    """Tokenize every domain once (streamed, in parallel shards) into cached memory-mapped token shards;
    with --address, the shards are tokenized as Ray tasks across the cluster."""
    from mixsearch import schedule
    from mixsearch.data.prepare import PrepareOptions

    study = _open(recipe, runs_dir)
    if address:
        schedule.connect(address)
    try:
        with bytes_progress(as_json) as bar:
            tasks: dict[str, Any] = {}

            def on_progress(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=total)
                bar.update(tasks[name], completed=done)

            data = study.data(None if as_json else lambda n, d: err.print(
                f"  {n}: {d.train_tokens:,} train / {d.val_tokens:,} val tokens"
                + (f", {d.undecodable_bytes:,} bytes not UTF-8" if d.undecodable_bytes else "")),
                PrepareOptions(workers=workers, use_ray=bool(address), on_progress=on_progress))
    finally:
        if address:
            schedule.shutdown()
    if as_json:
        emit_json({"data_hash": data.data_hash, "vocab_size": data.vocab_size,
                   "domains": {n: {"train_tokens": d.train_tokens, "val_tokens": d.val_tokens,
                                   "text_bytes": d.text_bytes, "undecodable_bytes": d.undecodable_bytes}
                               for n, d in {**data.domains, **data.eval_sets}.items()}})
    else:
        err.print(f"data hash {data.data_hash}, vocabulary {data.vocab_size}")


def _sweep(recipe: Path, rounds: int, address: str | None, runs_dir: Path, as_json: bool,
           budget_hours: float | None, max_runs: int | None, command: str) -> int:
    """Shared by `run` and `sweep`: lock the study, do the rounds, report; returns the exit code."""
    from mixsearch.budget import Budget
    from mixsearch.lock import StudyLock
    from mixsearch.study import shutdown
    from mixsearch.sweep import RoundReport, sweep

    study = _open(recipe, runs_dir)
    r = study.recipe
    if max_runs is not None and max_runs < 1:
        raise UserError("must be >= 1", where="--max-runs")
    budget = Budget(hours=budget_hours if budget_hours is not None else r.budget.hours,
                    tokens=r.budget.tokens, gpus=r.proxy.resources.num_gpus > 0)

    def on_round(rep: RoundReport) -> None:
        if not as_json and rep.fit is not None:
            out.print(recommendation_table(rep.recommendation, r.domain_names))
            print_fit(rep.fit)
            out.print(mixture_table(rep.proposals, r.domain_names,
                                    f"proposed mixtures (after round {rep.round})", "predicted"))

    with StudyLock(study.store.root, command):
        _prepare(study, as_json)
        try:
            with RunProgress() as progress:
                result = sweep(study, rounds, budget, max_runs, address,
                               sweep_callback(progress, lambda: len(study.unfinished())), on_round, progress.phase)
        finally:
            shutdown()
            study.store.compact()
    _warn_unreadable(study)
    best = study.best()
    from mixsearch.recommend import load as load_recommendation

    rec = result.recommendation or load_recommendation(study.store.root)
    code = EXIT_RUNS_FAILED if result.failed else EXIT_OK
    if as_json:
        emit_json({
            "recommendation": rec.to_dict() if rec else None,
            "study": r.study, "initial_added": result.initial_added, "stopped_by": result.stopped_by,
            "rounds": [{"round": rep.round, "launched": rep.launched,
                        "fit": documents.fit_json(rep.fit) if rep.fit else None, "proposals": documents.proposal_json(rep.proposals, r.domain_names)} for rep in result.rounds],
            "failed": result.failed, "spent": result.spent.to_dict(),
            "budget": {"hours": budget.hours, "tokens": budget.tokens},
            "best": documents.best_json(best, r.domain_names, rec), "exit_code": code})
    else:
        show_answer(rec, best, r.domain_names)
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
    4 finished, but some runs failed after their retries; 130/143 interrupted (SIGINT/SIGTERM)."""
    raise typer.Exit(_sweep(recipe, rounds, address, runs_dir, as_json, budget_hours, max_runs, "sweep"))


@app.command()
def status(recipe: RecipeArg, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Runs by status, failures with their errors, budget used, and the best mixture so far."""
    study = _open(recipe, runs_dir)
    from mixsearch.budget import spent
    from mixsearch.lock import StudyLock

    r = study.recipe
    view = study.store.runs()
    counts = {k: int(v) for k, v in view["status"].value_counts().items()}
    failures = view[view["status"] == "failed"][["run_id", "error"]].to_dict("records")
    used = spent(view)
    best = study.best()
    from mixsearch.recommend import load as load_recommendation

    rec = load_recommendation(study.store.root)
    lock = StudyLock(study.store.root).holder()
    _warn_unreadable(study)
    pareto = documents.pareto_json(study) if len(r.objective_list) > 1 else None
    fitted = _stored_fit(study)
    if as_json:
        emit_json({"recommendation": rec.to_dict() if rec else None, "study": r.study, "runs": len(view), "by_status": counts, "failed": len(failures),
                   "failures": failures, "pareto": pareto, "surrogate": fitted, "spent": used.to_dict(), "budget": r.budget.model_dump(),
                   "locked_by": lock, "unreadable_parts": {str(p): why for p, why in study.store.unreadable.items()},
                   "best": documents.best_json(best, r.domain_names, rec)})
        return
    if rec:
        out.print(recommendation_table(rec, r.domain_names))
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
    if fitted:
        out.print(f"surrogate: {fitted['chosen']} fitted on {fitted['runs']} runs "
                  f"({'current' if fitted['current'] else 'stale: runs finished since; fit/propose refit it'})")
    for f in failures:
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
        show_best(best, rec, r.domain_names)


def _stored_fit(study: Study) -> dict | None:
    """The stored fit's summary, and whether it saw exactly the study's completed runs."""
    from mixsearch.surrogate import fitstore

    stored = fitstore.summary(study.store.root)
    if stored is None:
        return None
    done = study.completed()
    current = stored.get("runs_key") == fitstore.runs_key([str(i) for i in done.get("run_id", [])])
    return {"chosen": stored.get("chosen"), "runs": stored.get("runs"), "current": current}



RefitOpt = Annotated[bool, typer.Option("--refit", help="fit anew even if the stored fit saw the same runs")]


@app.command()
def fit(recipe: RecipeArg, surrogate: Annotated[str | None, typer.Option(help="auto or a surrogate name")] = None,
        refit: RefitOpt = False, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Cross-validate surrogates on the completed runs, report Spearman / MAE / fit time,
    and save the chosen one's predicted-vs-actual plot (the fit is stored and reused)."""
    from mixsearch.report import predicted_vs_actual, save_png

    study = _open(recipe, runs_dir)
    with _warning_unreadable(study), spinner("cross-validating surrogates"):
        result = study.fit(surrogate, refit)
        rec = study.recommend(result)
        fig, _ = predicted_vs_actual(study, result)
        plot = save_png(fig, study.store.root / "fit.png")
    if as_json:
        emit_json({"recommendation": rec.to_dict(), **documents.fit_json(result), "plot": str(plot)})
    else:
        out.print(recommendation_table(rec, study.recipe.domain_names))
        print_fit(result)
        err.print(f"predicted vs actual: {plot}")


@app.command()
def propose(recipe: RecipeArg, n: Annotated[int | None, typer.Option("--n", min=1, help="batch size")] = None,
            method: Annotated[str | None, typer.Option(help=f"proposer: {', '.join(PROPOSERS)} (default: recipe)")] = None,
            surrogate: Annotated[str | None, typer.Option(help="auto or a surrogate name")] = None,
            refit: RefitOpt = False, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Fit the surrogate (or reuse the stored fit) and store the next batch of mixtures as 'proposed' runs."""
    from mixsearch.lock import StudyLock

    if method not in (None, *PROPOSERS):
        raise UserError(f"unknown method '{method}' (use {', '.join(PROPOSERS)})", where="--method")
    study = _open(recipe, runs_dir)
    _prepare(study, True)
    with (_warning_unreadable(study), StudyLock(study.store.root, "propose"),
          spinner("fitting the surrogate and proposing")):
        result = study.fit(surrogate, refit)
        rec = study.recommend(result)
        frame = study.propose(result, n, method)
        rows = frame.to_dict("records")
    names = study.recipe.domain_names
    if as_json:
        emit_json({"recommendation": rec.to_dict(), "fit": documents.fit_json(result),
                   "proposals": documents.proposal_json(rows, names),
                   "mf_recommendation": frame.attrs.get("recommendation")})
    else:
        out.print(recommendation_table(rec, names))
        out.print(mixture_table(rows, names, "proposed mixtures", "predicted"))
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
    from mixsearch.lock import StudyLock
    from mixsearch.recommend import load as load_recommendation
    from mixsearch.study import shutdown

    study = _open(recipe, runs_dir)
    names = study.recipe.domain_names
    extra = dict(va.parse_mixture(m, names) for m in mixture or [])
    extra.update(va.read_mixtures(mixtures, names) if mixtures else {})
    with StudyLock(study.store.root, "validate"):
        _prepare(study, as_json)
        rec = load_recommendation(study.store.root) or study.recommend(study.fit())
        try:
            with RunProgress("validation runs") as progress:
                progress.grow(len(study.unfinished(validation=True)))
                result = va.validate(study, rec, seeds, va.scale(study, fidelity, tokens, width, layers), extra,
                                     address, on_result=sweep_callback(progress, lambda: len(study.unfinished(True))))
        finally:
            shutdown()
            study.store.compact()
    if as_json:
        emit_json({"recommendation": rec.to_dict(), **result.to_dict()})
    else:
        out.print(recommendation_table(rec, names))
        out.print(va.table(result))
    raise typer.Exit(EXIT_RUNS_FAILED if result.launched["failed"] else EXIT_OK)


@app.command("import")
def import_cmd(recipe: RecipeArg, file: Annotated[Path, typer.Argument(help="CSV or Parquet of runs done elsewhere "
                                                                  "(or their mixture ratios, with METRICS)")],
               metrics: Annotated[Path | None, typer.Argument(help="metrics file joined with FILE on --id")] = None,
               mapping: Annotated[list[str] | None, typer.Option("--map", help="rename a column: SOURCE=TARGET "
                                                                  "(targets: w_<domain>, loss_<name>, metric_<name>, objective, tokens, params, seed)")] = None,
               id_column: Annotated[str | None, typer.Option("--id", help="column both files share")] = None,
               weights_prefix: Annotated[str | None, typer.Option(help="columns PREFIX<domain> are weights")] = None,
               renormalize: Annotated[float | None, typer.Option(min=0, help="rescale weights summing to 1 within this")] = None,
               runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Bring runs done elsewhere into the recipe's study (all rows validated first; none or all stored)."""
    from dataclasses import asdict

    from mixsearch.importer import ImportOptions, import_table, parse_mapping
    from mixsearch.lock import StudyLock

    study = _open(recipe, runs_dir)
    opts = ImportOptions(parse_mapping(mapping or []), metrics, id_column, weights_prefix, renormalize)
    with _warning_unreadable(study), StudyLock(study.store.root, "import"):
        s = import_table(study, file, opts)
    if as_json:
        emit_json({"imported": s.new, "rows": s.rows, "already_present": s.rows - s.new,
                   **{k: v for k, v in asdict(s).items() if k not in ("new", "rows")}})
    else:
        err.print(f"imported {s.new} new runs ({s.rows - s.new} of {s.rows} rows were already in the store)")
        for count, what in ((s.renormalized, "rows renormalized to sum to one"),
                            (s.skipped_not_done, "rows skipped: not done"),
                            (s.unmatched, "rows without a partner in the other file")):
            if count:
                err.print(f"{count} {what}")


@app.command()
def logs(recipe: RecipeArg, run_id: Annotated[str, typer.Argument(help="a run id, or a unique prefix of one",
                                                                  show_default=False)],
         runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Print a run's stored stdout/stderr (command trainer) and its loss curve."""
    from mixsearch.runlogs import run_logs

    found = run_logs(_open(recipe, runs_dir), run_id)
    if as_json:
        emit_json(vars(found))
        return
    out.print(f"run {found.run_id}: {found.status}" + (f" ({found.error})" if found.error else ""), highlight=False)
    for stream, text in found.logs.items():
        out.rule(stream)
        out.print(text, end="" if text.endswith("\n") else "\n", markup=False, highlight=False)
    if found.curve:
        keys = list(dict.fromkeys(k for point in found.curve for k in point))
        table = Table(title="curve")
        for k in keys:
            table.add_column(k, justify="right")
        for point in found.curve:
            table.add_row(*[f"{point[k]:.4g}" if isinstance(point.get(k), float) else str(point.get(k, "-"))
                            for k in keys])
        out.print(table)
    if not found.logs and not found.curve:
        err.print("no logs or curve stored for this run (the built-in trainer records a curve with "
                  "proxy.train.eval_every)")


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
               strategies: Annotated[str, typer.Option(help="comma-separated: random, regmix, gp-bo, mf-bo, mf-ar")] =
               "random,regmix,gp-bo,mf-bo,mf-ar",
               seeds: Annotated[int, typer.Option(min=1, help="repetitions (synthetic: a new pool each)")] = 5,
               budget: Annotated[float, typer.Option(min=0.01, help="cost per strategy, in target-run units")] = 40.0,
               domains: Annotated[int, typer.Option(min=2, help="synthetic: domains")] = 6,
               pool_size: Annotated[int, typer.Option("--pool", min=10, help="synthetic: mixtures in the pool")] = 400,
               family: Annotated[str, typer.Option(help="synthetic: standard, or weak (poorly correlated cheap "
                                                        "fidelities, a flat optimum plateau)")] = "standard",
               tolerance: Annotated[float, typer.Option(help="'found' = within this fraction of the pool optimum")] = 0.01,
               out_path: Annotated[Path | None, typer.Option("--out", help="plot file (default: "
                                                                           "runs/<study or synthetic>/replay.png)")] = None,
               runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Benchmark search strategies by replaying them on a pool of completed runs: best found vs cost."""
    import warnings

    from mixsearch import replay as rp
    from mixsearch.modelling import MIN_RUNS_TO_FIT

    names = [s.strip() for s in strategies.split(",") if s.strip()]
    unknown = [n for n in names if n not in rp.STRATEGIES]
    if unknown or not names:
        raise UserError(f"unknown strategy '{unknown[0] if unknown else ''}' (use {', '.join(rp.STRATEGIES)})",
                        where="--strategies")
    study = _open(recipe, runs_dir) if recipe is not None else None
    out_path = out_path or Path(runs_dir) / (study.recipe.study if study else "synthetic") / "replay.png"
    if study is not None:
        with _warning_unreadable(study):
            done = study.completed_at_target()
        if len(done) < MIN_RUNS_TO_FIT:
            raise UserError(f"needs at least {MIN_RUNS_TO_FIT} completed target-fidelity runs to replay",
                            where=f"study {study.recipe.study}")
        data = study.train_set()
        pools = [rp.pool_from_runs(data.X, data.fidelities, data.y)] * seeds
    else:
        if family not in rp.FAMILIES:
            raise UserError(f"unknown family '{family}' (use {', '.join(rp.FAMILIES)})", where="--family")
        pools = [rp.synthetic_pool(domains, pool_size, seed, family=family) for seed in range(seeds)]
    traces = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        total, start = seeds * len(names), time.monotonic()
        for seed, pool in enumerate(pools):
            traces.append([])
            for name in names:  # one step per strategy and seed, with an ETA from the steps so far
                step = len(traces[-1]) + seed * len(names)
                eta = "" if not step else f", eta {(time.monotonic() - start) / step * (total - step):.0f} s"
                with spinner(f"replay {step + 1}/{total}: seed {seed} {name}{eta}"):
                    traces[-1] += rp.replay(pool, [name], budget, seed, tolerance)
    optima = [p.optimum for p in pools]
    table = rp.summarize(traces, optima, tolerance)
    rp.plot(traces, optima, out_path)
    if as_json:
        emit_json({"summary": table.to_dict("records"), "plot": str(out_path),
                   "curves": rp.regret_curves(traces, optima).to_dict("records")})
        return
    t = Table(title=f"replay: median over {seeds} seed(s), cost in target-run units")
    for col in table.columns:
        t.add_column(col, justify="left" if col == "strategy" else "right")
    for row in table.itertuples(index=False):
        t.add_row(*[v if isinstance(v, str) else f"{v:.3g}" for v in row])
    out.print(t)
    err.print(f"plot: {out_path}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: errors become one line on stderr and a documented exit code (see ui/entry.py)."""
    signals.install()
    sys.exit(entry.run(app, sys.argv[1:] if argv is None else argv))
