"""A command's table and its --json document are one data object rendered twice: every number
and run id a table shows is a value of the document, and `status` prints exactly the tables its
JSON document renders to."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from rich.table import Table

from mixsearch.ui import views
from mixsearch.ui.page import Page
from mixsearch.ui.views import Context
from tests.conftest import IMPORTED_DOMAINS, cli, imported_study, write_recipe

DOMAINS = IMPORTED_DOMAINS
NUMBER = re.compile(r"(?<![\d.\w])[+-]?\d+(?:\.\d+)?")


def _leaves(doc: object) -> tuple[list[float], list[str]]:
    """Every number (and the size of every list and map) and every string in a document."""
    numbers: list[float] = []
    strings: list[str] = []

    def walk(o: object) -> None:
        if isinstance(o, bool) or o is None:
            return
        if isinstance(o, (int, float)):
            numbers.append(float(o))
        elif isinstance(o, str):
            strings.append(o)
        elif isinstance(o, (dict, list)):
            numbers.append(float(len(o)))
            for v in (o.values() if isinstance(o, dict) else o):
                walk(v)
            strings.extend(o if isinstance(o, dict) else [])

    walk(doc)
    return numbers, strings


def _cells(page: Page) -> list[str]:
    return [cell for _, what, _ in page.parts if isinstance(what, Table)
            for column in what.columns for cell in column.cells]


def assert_cells_are_values(page: Page, doc: dict) -> int:
    """Each table cell is a string of the document (a run id may be cut to 10 characters), or its
    numbers are the document's numbers at the precision shown. Returns the cells checked."""
    numbers, strings = _leaves(doc)
    cells = [re.sub(r"\[/?[a-z ]+\]", "", c) for c in _cells(page)]  # rich markup ("[green]chosen")
    assert cells, "the page shows no table"
    quoted = sorted((s for s in strings if len(s) >= 4), key=len, reverse=True)
    for cell in cells:
        if any(s.startswith(cell) and len(cell) >= 10 or s == cell for s in strings):
            continue
        for s in quoted:  # a document's text within the cell ("skipped: <why>")
            cell = cell.replace(s, "")
        for token in NUMBER.findall(cell):
            places = len(token.partition(".")[2])
            close = 0.5 * 10 ** -places + 1e-12
            assert any(abs(float(token) - v) <= close for v in numbers), f"{token!r} in {cell!r} is not in the document"
    return len(cells)


def _text(page: Page) -> tuple[str, str]:
    stdout, stderr = Console(record=True, width=200), Console(record=True, width=200)
    page.print(stdout, stderr)
    return stdout.export_text(), stderr.export_text()


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, Path]:
    """A fit-only study of imported runs (twelve mixtures, four of them with three seeds), fitted."""
    tmp = tmp_path_factory.mktemp("views")
    recipe = imported_study(tmp, "views")
    return tmp, recipe


def _json(tmp: Path, *args: str) -> dict:
    return json.loads(cli(*args, "--json", cwd=tmp).stdout)


@pytest.mark.slow  # runs the CLI as a user does, about eight commands
def test_every_table_cell_is_a_value_of_the_json_document(fit_only_documents):
    emitted = fit_only_documents
    ctx = Context(emitted["recipe"], trains=False, labels=("web",))
    renders = {"import": views.import_page, "fit": lambda d: views.fit_command_page(d, ctx),
               "propose": lambda d: views.propose_page(d, ctx), "status": lambda d: views.status_page(d, ctx),
               "replay": views.replay_page, "logs": views.logs_page, "data prepare": views.prepare_page}
    checked = {}
    for name, render in renders.items():
        doc = emitted[name]
        page = render(doc)
        _text(page)  # renders
        if any(isinstance(what, Table) for _, what, _ in page.parts):
            checked[name] = assert_cells_are_values(page, doc)
    assert set(checked) == {"fit", "propose", "status", "replay"}, checked
    assert checked["status"] >= 2 * len(DOMAINS)  # the recommendation's and the best run's mixtures at least


def test_the_check_catches_a_value_the_document_does_not_hold():
    doc = {"recommendation": None, "current_recommendation": None,
           "proposals": [{"run_id": "a" * 32, "fidelity": "target", "predicted": 3.25, "mixture": {"web": 1.0}}],
           "mf_recommendation": None, "reason": None}
    assert assert_cells_are_values(views.propose_page(doc, Context()), doc) == 4  # run, fidelity, weight, predicted
    drifted = Table()
    drifted.add_column("predicted")
    drifted.add_row("3.2600")  # a table computing its own value
    page = Page()
    page.out(drifted)
    with pytest.raises(AssertionError, match="'3.2600' in '3.2600' is not in the document"):
        assert_cells_are_values(page, doc)


@pytest.mark.slow
def test_status_prints_the_tables_its_json_document_renders_to(study):
    tmp, recipe = study
    cli("import", str(recipe), "runs.csv", cwd=tmp)
    cli("fit", str(recipe), "--surrogate", "linear", cwd=tmp)
    doc = _json(tmp, "status", str(recipe))
    shown = cli("status", str(recipe), cwd=tmp)
    stdout, _ = _text(views.status_page(doc, Context(str(recipe), trains=False, labels=("web",))))
    assert shown.stdout == stdout
    assert "recommended mixture (not validated)" in stdout and "best observed run" in stdout


@pytest.mark.slow
def test_a_fit_only_study_is_not_told_to_set_replicates(tmp_path):
    """Imported runs cannot be replicated: status and fit say the seed noise is not measured,
    without the hint to set search.replicates, which only a study that trains can follow."""
    recipe = write_recipe(tmp_path / "r.yaml", {
        "study": "imported", "domains": [{"name": n, "tokens": 1e9} for n in DOMAINS],
        "objective": {"kind": "domain", "target": "web"}, "search": {"candidates": 500, "cv_folds": 3}})
    W = np.random.default_rng(1).dirichlet(np.ones(3), size=12)  # every mixture once: no noise floor
    pd.DataFrame({**{f"w_{d}": W[:, j] for j, d in enumerate(DOMAINS)},
                  "loss_web": 3 + (W[:, 0] - 0.4) ** 2}).to_csv(tmp_path / "runs.csv", index=False)
    cli("import", str(recipe), "runs.csv", cwd=tmp_path)
    fitted = cli("fit", str(recipe), "--surrogate", "linear", cwd=tmp_path)
    shown = cli("status", str(recipe), cwd=tmp_path)
    assert "noise floor: not measured" in fitted.stdout and "seed noise not measured" in shown.stdout
    assert "search.replicates" not in fitted.stdout + shown.stdout


def test_a_study_that_trains_is_told_how_to_measure_seed_noise():
    best = {"run_id": "b" * 32, "objective": 3.1, "noise_sd": None, "mixture": {"web": 0.5, "code": 0.5},
            "losses": {}, "metrics": {}}
    fit = {"chosen": "linear", "runs": 8, "reused": False, "noise": None, "warnings": [],
           "scores": [{"name": "linear", "spearman": 0.5, "mae": 0.01, "fit_seconds": 0.1, "folds": 3,
                       "skipped": None, "candidates": 1, "beats_chance": True}]}
    for trains in (True, False):
        page = views.best_page(best, Context(trains=trains))
        page.extend(views.fit_page(fit, Context(trains=trains)))
        stdout, _ = _text(page)
        assert ("seed noise not measured: set search.replicates" in stdout) is trains
        assert ("noise floor: not measured (set search.replicates)" in stdout) is trains


@pytest.mark.slow  # trains proxies on Ray
def test_run_and_validate_tables_show_their_documents_values(trained_documents):
    ctx = Context(trained_documents["recipe"])
    ran = trained_documents["run"]
    assert_cells_are_values(views.sweep_page(ran, ctx), ran)
    for rnd in ran["rounds"]:
        doc = {**ran, **rnd}
        assert_cells_are_values(views.round_page(doc, ctx), doc)
    validated = trained_documents["validate"]
    assert assert_cells_are_values(views.validate_page(validated, ctx), validated) >= 6 * 4  # four mixtures at least
