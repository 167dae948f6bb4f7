"""The `mixsearch` command line: thin wiring of the study steps, with rich output or --json.

The commands live in loop.py (init, run, sweep, status), model.py (fit, propose, validate,
report), data_io.py (data fetch/prepare, import, logs, export), dashboard.py and replay.py; this module
registers them in the order `--help` lists them. Heavy modules (the study, torch, Ray,
surrogates, plotting) are imported inside the commands that need them, so `--help`, `status`
and errors start fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mixsearch import __version__, signals
from mixsearch.cli import dashboard, data_io, loop, model, replay
from mixsearch.ui import entry

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Search LLM data mixtures with proxy models, surrogates and proposals.")
data_app = typer.Typer(no_args_is_help=True, help="Fetch and tokenize the recipe's text.")
app.add_typer(data_app, name="data")


def _version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", help="print the version and exit", is_eager=True,
                                                callback=_version)] = False) -> None:
    """Search LLM data mixtures with proxy models, surrogates and proposals."""


data_app.command("fetch")(data_io.data_fetch)
data_app.command("prepare")(data_io.data_prepare)
app.command()(loop.init)
app.command()(loop.run)
app.command("sweep")(loop.sweep_cmd)
app.command()(loop.status)
app.command()(model.fit)
app.command()(model.propose)
app.command("validate")(model.validate_cmd)
app.command("import")(data_io.import_cmd)
app.command()(data_io.logs)
app.command()(data_io.export)
app.command()(model.report)
app.command()(dashboard.dashboard)
app.command("replay")(replay.replay_cmd)


def main(argv: list[str] | None = None) -> None:
    """Entry point: errors become one line on stderr and a documented exit code (see ui/entry.py)."""
    signals.install()
    sys.exit(entry.run(app, sys.argv[1:] if argv is None else argv))
