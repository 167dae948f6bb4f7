"""`mixsearch dashboard`: the study's page, live, on a local web server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mixsearch.cli.common import RecipeArg, RunsDir, open_study
from mixsearch.errors import UserError
from mixsearch.ui.output import err


def dashboard(recipe: RecipeArg,
              port: Annotated[int, typer.Option("--port", min=0, max=65535, help="port (0: any free one)")] = 8765,
              host: Annotated[str, typer.Option("--host", help="address to bind; the default serves this machine "
                                                "only (reach it over SSH)")] = "127.0.0.1",
              runs_dir: RunsDir = Path("runs")) -> None:
    """A live web page of the study: the report's sections, refreshed as runs land. It only reads
    the study; stop it with Ctrl-C."""
    from mixsearch.report.dashboard import how_to_reach, serve

    study = open_study(recipe, runs_dir)
    try:
        server = serve(study, str(recipe), host, port)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", where="--port") from None
    for line in how_to_reach(host, server.server_address[1]):
        err.print(line, soft_wrap=True, highlight=False)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
