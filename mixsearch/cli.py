"""The `mixsearch` command line: thin wiring of the study steps, with rich output or --json."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mixsearch import __version__
from mixsearch.errors import UserError
from mixsearch.recipe import load_recipe, parse_recipe_text
from mixsearch.store import LOSS, WEIGHT
from mixsearch.study import FitResult, Study, shutdown

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
    with err.status("tokenizing domains (cached by content hash)…", spinner="dots") if not quiet else _Null():
        study.data(on_domain=None if quiet else lambda n, d: err.print(
            f"  {n}: {d.train_tokens:,} train / {d.val_tokens:,} val tokens"))


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def _progress(total: int, as_json: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err,
                    disable=as_json or total == 0)


def _launch(study: Study, address: str | None, as_json: bool) -> dict[str, int]:
    todo = len(study.unfinished())
    with _progress(todo, as_json) as bar:
        task = bar.add_task("proxy runs", total=todo, info="")

        def on_result(row: dict) -> None:
            obj = row.get("objective", math.nan)
            info = f"last: {row['status']} objective={obj:.4f}" if row["status"] == "done" else \
                f"last: failed ({row.get('error')})"
            bar.update(task, advance=1, info=info)

        return study.launch(address, on_result)


def _fit_table(fit: FitResult) -> Table:
    table = Table(title=f"surrogates, {fit.scores[0].folds}-fold CV on {fit.n_runs} runs")
    for col in ("surrogate", "spearman", "MAE", "fit s", ""):
        table.add_column(col, justify="right" if col not in ("surrogate", "") else "left")
    for s in fit.scores:
        table.add_row(s.name, f"{s.spearman:.3f}", f"{s.mae:.4f}", f"{s.fit_seconds:.2f}",
                      "[green]chosen" if s.name == fit.name else "")
    return table


def _mixture_table(rows: list[dict], names: list[str], title: str, value: str) -> Table:
    table = Table(title=title)
    table.add_column("run_id")
    for n in names:
        table.add_column(n, justify="right")
    table.add_column(value, justify="right")
    for row in rows:
        v = row.get(value, math.nan)
        table.add_row(row["run_id"][:10], *[f"{row[WEIGHT + n]:.3f}" for n in names],
                      "-" if v is None or not math.isfinite(v) else f"{v:.4f}")
    return table


def _fit_json(fit: FitResult) -> dict:
    return {"chosen": fit.name, "runs": fit.n_runs, "scores": [s.to_dict() for s in fit.scores]}


def _proposal_json(rows: list[dict], names: list[str]) -> list[dict]:
    return [{"run_id": r["run_id"], "predicted": r["predicted"], "mixture": {n: r[WEIGHT + n] for n in names}}
            for r in rows]


def _best_json(best: dict | None, names: list[str]) -> dict | None:
    if best is None:
        return None
    losses = {k[len(LOSS):]: v for k, v in best.items() if k.startswith(LOSS)}
    return {"run_id": best["run_id"], "objective": best["objective"],
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


@app.command()
def run(recipe: RecipeArg, rounds: Annotated[int | None, typer.Option(help="proposal rounds to run (default: recipe)")] = None,
        address: AddressOpt = None, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Initial runs → fit → propose; each further round trains the proposals, refits and proposes again."""
    study = _open(recipe, runs_dir)
    r = study.recipe
    rounds = r.search.rounds if rounds is None else rounds
    if rounds < 0:
        raise UserError("must be >= 0", where="--rounds")
    _prepare(study, as_json)
    summary: dict[str, Any] = {"study": r.study, "initial_added": study.seed_initial(), "rounds": []}
    try:
        for round_ in range(rounds + 1):
            launched = _launch(study, address, as_json)
            fit = study.fit()
            proposals = study.propose(fit).to_dict("records")
            summary["rounds"].append({"round": round_, "launched": launched, "fit": _fit_json(fit),
                                      "proposals": _proposal_json(proposals, r.domain_names)})
            if not as_json:
                out.print(_fit_table(fit))
                out.print(_mixture_table(proposals, r.domain_names, f"proposed mixtures (round {round_ + 1})",
                                         "predicted"))
    finally:
        shutdown()
        study.store.compact()
    best = study.best()
    summary["best"] = _best_json(best, r.domain_names)
    if as_json:
        _emit_json(summary)
    elif best:
        out.print(_mixture_table([best], r.domain_names, "best completed run", "objective"))


@app.command()
def status(recipe: RecipeArg, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Runs by status, failures with their errors, and the best mixture so far."""
    study = _open(recipe, runs_dir)
    names = study.recipe.domain_names
    view = study.store.runs()
    counts = view["status"].value_counts().to_dict() if len(view) else {}
    failed = view[view["status"] == "failed"][["run_id", "error"]].to_dict("records") if len(view) else []
    best = study.best()
    if as_json:
        _emit_json({"study": study.recipe.study, "runs": len(view), "by_status": counts,
                    "failed": failed, "best": _best_json(best, names)})
        return
    table = Table(title=f"study {study.recipe.study}: {len(view)} runs")
    table.add_column("status")
    table.add_column("runs", justify="right")
    for k, v in sorted(counts.items()):
        table.add_row(k, str(v))
    out.print(table)
    for f in failed:
        out.print(f"[red]failed[/red] {f['run_id'][:10]}: {f['error']}")
    if best:
        out.print(_mixture_table([best], names, "best completed run", "objective"))


@app.command()
def fit(recipe: RecipeArg, surrogate: Annotated[str | None, typer.Option(help="auto, linear or lightgbm")] = None,
        runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Cross-validate surrogates on the completed runs and report Spearman / MAE."""
    study = _open(recipe, runs_dir)
    result = study.fit(surrogate)
    if as_json:
        _emit_json(_fit_json(result))
    else:
        out.print(_fit_table(result))


@app.command()
def propose(recipe: RecipeArg, n: Annotated[int | None, typer.Option("--n", min=1, help="batch size")] = None,
            method: Annotated[str | None, typer.Option(help="regmix or argmin")] = None,
            surrogate: Annotated[str | None, typer.Option(help="auto, linear or lightgbm")] = None,
            runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Fit the surrogate and store the next batch of mixtures as 'proposed' runs."""
    if method not in (None, "regmix", "argmin"):
        raise UserError(f"unknown method '{method}' (use regmix or argmin)", where="--method")
    study = _open(recipe, runs_dir)
    _prepare(study, True)
    result = study.fit(surrogate)
    rows = study.propose(result, n, method).to_dict("records")
    names = study.recipe.domain_names
    if as_json:
        _emit_json({"fit": _fit_json(result), "proposals": _proposal_json(rows, names)})
    else:
        out.print(_mixture_table(rows, names, "proposed mixtures", "predicted"))


@app.command()
def export(recipe: RecipeArg, fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
           out_path: Annotated[Path | None, typer.Option("--out", help="output file")] = None,
           runs_dir: RunsDir = Path("runs")) -> None:
    """Write one row per run to a single Parquet or CSV file."""
    study = _open(recipe, runs_dir)
    target = out_path or study.store.root / f"export.{fmt}"
    n = study.store.export(target, fmt)
    err.print(f"wrote {n} runs to {target}")


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
