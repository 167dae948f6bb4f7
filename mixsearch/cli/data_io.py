"""Data and runs in and out: fetch and tokenize the recipe's text, import runs done elsewhere,
export the runs, print a run's logs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mixsearch.cli.common import (AddressOpt, JsonOpt, RecipeArg, RunsDir, open_study, print_domain,
                                  warn_unreadable, warning_unreadable)
from mixsearch.recipe.schema import load_recipe
from mixsearch.ui import documents, views
from mixsearch.ui.output import emit_json, err
from mixsearch.ui.page import show
from mixsearch.ui.progress import bytes_progress


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


def data_prepare(recipe: RecipeArg, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False,
                 address: AddressOpt = None,
                 workers: Annotated[int | None, typer.Option(min=1, help="local tokenizer processes "
                                                                          "(default: every core)")] = None) -> None:
    """Tokenize every domain once (streamed, in parallel shards) into cached memory-mapped token shards;
    with --address, the shards are tokenized as Ray tasks across the cluster."""
    from mixsearch.execute import schedule
    from mixsearch.data.prepare import PrepareOptions

    study = open_study(recipe, runs_dir)
    if address:
        schedule.connect(address)
    try:
        with bytes_progress(as_json) as bar:
            tasks: dict[str, Any] = {}

            def on_progress(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=total)
                bar.update(tasks[name], completed=done)

            data = study.data(None if as_json else print_domain,
                              PrepareOptions(workers=workers, use_ray=bool(address), on_progress=on_progress))
    finally:
        if address:
            schedule.shutdown()
    show(documents.prepare_document(data), views.prepare_page, as_json)


def import_cmd(recipe: RecipeArg, file: Annotated[Path, typer.Argument(help="CSV or Parquet of runs done elsewhere "
                                                                  "(or their mixture ratios, with METRICS)")],
               metrics: Annotated[Path | None, typer.Argument(help="metrics file joined with FILE on --id")] = None,
               mapping: Annotated[list[str] | None, typer.Option("--map", help="rename a column: SOURCE=TARGET "
                                                                  "(targets: w_<domain>, loss_<name>, metric_<name>, objective, tokens, params, seed); "
                                                                  "fidelity:NAME=PLAN_NAME renames a fidelity")] = None,
               id_column: Annotated[str | None, typer.Option("--id", help="column both files share")] = None,
               weights_prefix: Annotated[str | None, typer.Option(help="columns PREFIX<domain> are weights")] = None,
               renormalize: Annotated[float | None, typer.Option(min=0, help="rescale weights summing to 1 within this")] = None,
               runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Bring runs done elsewhere into the recipe's study (all rows validated first; none or all stored)."""
    from mixsearch.search.importer import ImportOptions, import_table, parse_mapping
    from mixsearch.store.lock import StudyLock

    study = open_study(recipe, runs_dir)
    opts = ImportOptions(parse_mapping(mapping or []), metrics, id_column, weights_prefix, renormalize)
    with warning_unreadable(study), StudyLock(study.store.root, "import"):
        s = import_table(study, file, opts)
    show(documents.import_document(s), views.import_page, as_json)


def logs(recipe: RecipeArg, run_id: Annotated[str, typer.Argument(help="a run id, or a unique prefix of one",
                                                                  show_default=False)],
         runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Print a run's stored stdout/stderr (command trainer) and its loss curve."""
    from mixsearch.search.runlogs import run_logs

    show(vars(run_logs(open_study(recipe, runs_dir), run_id)), views.logs_page, as_json)


def export(recipe: RecipeArg,
           fmt: Annotated[str, typer.Option("--format", help="parquet, csv, or dataset (Parquet partitioned by study/round)")] = "parquet",
           out_path: Annotated[Path | None, typer.Option("--out", help="output file or directory")] = None,
           runs_dir: RunsDir = Path("runs")) -> None:
    """Write one row per run (schema version in the column `schema_version`)."""
    study = open_study(recipe, runs_dir)
    target = out_path or study.store.root / ("export" if fmt == "dataset" else f"export.{fmt}")
    n = study.store.export(target, fmt)
    warn_unreadable(study)
    err.print(f"wrote {n} runs to {target}")
