"""Data and runs in and out: fetch and tokenize the recipe's text, import runs done elsewhere,
export the runs, print a run's logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mixsearch.cli.common import (AddressOpt, JsonOpt, RecipeArg, RunsDir, open_study, print_domain,
                                  warn_unreadable, warning_unreadable)
from mixsearch.recipe.schema import load_recipe
from mixsearch.ui.output import emit_json, err, out
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
    if as_json:
        emit_json({"data_hash": data.data_hash, "vocab_size": data.vocab_size,
                   "domains": {n: {"train_tokens": d.train_tokens, "val_tokens": d.val_tokens,
                                   "text_bytes": d.text_bytes, "undecodable_bytes": d.undecodable_bytes,
                                   "val_bytes": d.val_bytes}
                               for n, d in {**data.domains, **data.eval_sets}.items()},
                   "tasks": {n: {"examples": t.examples, "continuation_tokens": t.continuation_tokens,
                                 "continuation_bytes": t.continuation_bytes} for n, t in data.tasks.items()}})
    else:
        for n, t in data.tasks.items():
            err.print(f"  {n}: {t.examples:,} examples, {t.continuation_tokens:,} continuation tokens "
                      f"({t.continuation_bytes:,} bytes)")
        err.print(f"data hash {data.data_hash}, vocabulary {data.vocab_size}")


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
    from dataclasses import asdict

    from mixsearch.search.importer import ImportOptions, import_table, parse_mapping
    from mixsearch.store.lock import StudyLock

    study = open_study(recipe, runs_dir)
    opts = ImportOptions(parse_mapping(mapping or []), metrics, id_column, weights_prefix, renormalize)
    with warning_unreadable(study), StudyLock(study.store.root, "import"):
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


def logs(recipe: RecipeArg, run_id: Annotated[str, typer.Argument(help="a run id, or a unique prefix of one",
                                                                  show_default=False)],
         runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Print a run's stored stdout/stderr (command trainer) and its loss curve."""
    from mixsearch.search.runlogs import run_logs

    found = run_logs(open_study(recipe, runs_dir), run_id)
    if as_json:
        emit_json(vars(found))
        return
    out.print(f"run {found.run_id}: {found.status}" + (f" ({found.error})" if found.error else ""), highlight=False)
    for stream, text in found.logs.items():
        out.rule(stream)
        out.print(text, end="" if text.endswith("\n") else "\n", markup=False, highlight=False)
    if found.curve and not (isinstance(found.curve, list) and all(isinstance(p, dict) for p in found.curve)):
        err.print(f"curve: not a list of points, shown as stored: {json.dumps(found.curve)[:2000]}",
                  markup=False, highlight=False, soft_wrap=True)
    elif found.curve:
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
