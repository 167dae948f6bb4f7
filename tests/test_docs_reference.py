"""The reference docs say what the code does: every recipe field is in docs/recipe.md with its
description (written from the schema by docs/gen_recipe.py), every store column in docs/store.md
with its type, every command has its line in docs/cli.md and README.md, and the keys docs/cli.md
lists for each `--json` document are the keys the command emits on a small study of imported runs
(import, fit, propose, status, logs, replay, data fetch, data prepare)."""

from __future__ import annotations

import html
import importlib.util
import re
import signal
import sys
import typing
from pathlib import Path

import pyarrow as pa
import pytest
import typer
from pydantic import BaseModel

from mixsearch.cli import app
from mixsearch.recipe.schema import Recipe
from mixsearch.store.schema import DYNAMIC, KNOWN

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ROW = re.compile(r"^\| `([^`]+)` \|(.*)\|\s*$", re.M)


def _gen():
    spec = importlib.util.spec_from_file_location("gen_recipe", DOCS / "gen_recipe.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclass looks its module up there
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def _cells(text: str) -> dict[str, list[str]]:
    """First-column code span of each table row -> its other cells (unescaped)."""
    return {m.group(1): [html.unescape(c.strip()).replace("\\|", "|") for c in re.split(r"(?<!\\)\|", m.group(2))]
            for m in ROW.finditer(text)}


def test_every_page_of_docs_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    unlinked = [p.name for p in DOCS.glob("*.md") if f"](docs/{p.name})" not in readme]
    assert not unlinked, f"README.md does not link {unlinked}"


# recipe ------------------------------------------------------------------------------------------

def _schema_fields() -> dict[str, str | None]:
    """Every recipe field by path (a model met again is listed where it first appears), with the
    schema's description."""
    found: dict[str, str | None] = {}
    seen: set[type] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        seen.add(model)
        for name, info in model.model_fields.items():
            path = f"{prefix}.{name}" if prefix else name
            found[path] = info.description
            origin = typing.get_origin(info.annotation)
            for sub in _models(info.annotation):
                if sub not in seen:
                    walk(sub, path + ("[]" if origin is list else ".<name>" if origin is dict else ""))

    walk(Recipe, "")
    return found


def _models(ann: object) -> list[type]:
    out = [m for arg in typing.get_args(ann) for m in _models(arg)]
    return out + [ann] if isinstance(ann, type) and issubclass(ann, BaseModel) else out


def test_the_readme_stage_table_names_the_packages_there_are():
    """The README's stage -> package table lists every package of mixsearch/, and only those."""
    text = (ROOT / "README.md").read_text()
    rows = [line for line in text.splitlines() if re.match(r"\| [a-z, ]+ \| `[a-z]+/`", line)]
    named = {name for line in rows for name in re.findall(r"`([a-z]+)/`", line.split("|")[2])}
    packages = {p.parent.name for p in (ROOT / "mixsearch").glob("*/__init__.py")}
    assert named == packages


def test_recipe_reference_is_written_from_the_current_schema():
    gen = _gen()
    assert gen.current((DOCS / "recipe.md").read_text()) == gen.render(), \
        "docs/recipe.md is out of date: run .venv/bin/python docs/gen_recipe.py"


def test_every_recipe_field_is_in_the_reference_with_its_description():
    rows = _cells((DOCS / "recipe.md").read_text())
    fields = _schema_fields()
    assert len(fields) > 100
    missing = [p for p in fields if p not in rows]
    assert not missing, f"recipe fields missing from docs/recipe.md: {missing}"
    undescribed = [p for p in fields if not rows[p][-1]]
    assert not undescribed, f"fields without a description in docs/recipe.md: {undescribed}"
    for path, description in fields.items():
        if description:
            assert " ".join(description.split()) in rows[path][-1], path
    assert not set(rows) - set(fields), "docs/recipe.md lists fields the schema does not have"


def test_notes_describe_only_fields_the_schema_leaves_undescribed():
    fields = _schema_fields()
    stale = [p for p in _gen().NOTES if p not in fields or fields[p]]
    assert not stale, f"docs/gen_recipe.py NOTES for unknown or schema-described fields: {stale}"


# store -------------------------------------------------------------------------------------------

def _type_name(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return f"timestamp ({'µs' if kind.unit == 'us' else kind.unit}, {kind.tz})"
    return "float64" if pa.types.is_float64(kind) else str(kind)


def test_store_columns_are_the_schema_columns_with_their_types():
    rows = _cells((DOCS / "store.md").read_text().split("## Schema", 1)[1].split("\n## ", 1)[0])
    documented = {c: cells[0] for c, cells in rows.items() if "<" not in c}
    assert documented == {c: _type_name(t) for c, t in KNOWN.items()}
    patterns = {c.split("<")[0] for c in rows if "<" in c}
    assert patterns == set(DYNAMIC)
    assert all(rows[c][0] == "float64" and rows[c][1] for c in rows if "<" in c)


# exit codes --------------------------------------------------------------------------------------

def test_exit_codes_are_the_ones_the_code_defines():
    from mixsearch import errors

    defined = {v for k, v in vars(errors).items() if k.startswith("EXIT_")} | {128 + signal.SIGINT, 128 + signal.SIGTERM}
    table = (DOCS / "cli.md").read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(c) for row in re.findall(r"^\| ([\d /]+) \|", table, re.M) for c in row.split("/")}
    assert documented == defined
    readme = (ROOT / "README.md").read_text().split("**Exit codes:**", 1)[1].split("\n\n", 1)[0]
    items = [re.match(r"\s*(\d+)(?:\s*/\s*(\d+))?\s", item) for item in readme.split(";")]
    assert {int(c) for m in items if m for c in m.groups() if c} == defined


# commands ----------------------------------------------------------------------------------------

def _commands() -> dict[str, object]:
    """Every leaf command path ('fit', 'data prepare') with its click command."""
    found: dict[str, object] = {}

    def walk(cmd: object, path: list[str]) -> None:
        subs = getattr(cmd, "commands", {})
        if not subs and path:
            found[" ".join(path)] = cmd
        for name, sub in subs.items():
            walk(sub, path + [name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()


@pytest.mark.parametrize("doc", ["docs/cli.md", "README.md"])
def test_every_command_has_its_line(doc):
    text = (ROOT / doc).read_text()
    lines = set(re.findall(r"^\| `mixsearch ([a-z ]+?)(?: [A-Z\[-].*?)?` \|", text, re.M))
    assert len(COMMANDS) > 10
    assert lines == set(COMMANDS), f"{doc}: missing {set(COMMANDS) - lines}, unknown {lines - set(COMMANDS)}"


def _json_sections() -> dict[str, dict[str, list[str]]]:
    """docs/cli.md's JSON documents: heading name (a command, or a shape in capitals) -> its rows."""
    text = (DOCS / "cli.md").read_text().split("## JSON documents", 1)[1].split("\n## ", 1)[0]
    out = {}
    for block in re.split(r"^#{3,4} ", text, flags=re.M)[1:]:
        title, _, body = block.partition("\n")
        for name in re.findall(r"`([^`]+)`", title) or [title.strip()]:
            out[name] = _cells(body)
    return out


SECTIONS = _json_sections()


def test_every_json_command_has_its_document():
    with_json = {p for p, c in COMMANDS.items() if any("--json" in p.opts for p in c.params)}
    documented = {n for n in SECTIONS if n[0].islower()}
    assert with_json == documented


def _matches(documented: str, emitted: str) -> bool:
    pattern = re.escape(documented).replace(re.escape("<T>"), r".+").replace(re.escape("<domain>"), r".+")
    return re.fullmatch(pattern, emitted) is not None


def _inline_keys(kind: str) -> list[str] | None:
    """The keys of an object type written inline, `{`a`, `b`}` or `list of {`a`: ...}` (None: not
    one, or an open one ending in …)."""
    start = kind.find("{")
    if start < 0 or "…" in kind:
        return None
    keys, depth, code = [], 0, None
    for ch in kind[start:]:
        depth += (ch == "{") - (ch == "}")
        if ch == "`":
            code = "" if code is None else (keys.append(code) if depth == 1 else None)
        elif code is not None:
            code += ch
        if depth == 0:
            break
    return keys or None


def _compare(name: str, keys: list[str], doc: dict, optional: set[str] = frozenset()) -> None:
    unlisted = [k for k in doc if not any(_matches(d, k) for d in keys)]
    absent = [d for d in keys if d not in optional and not any(_matches(d, k) for k in doc)]
    assert not unlisted and not absent, f"{name}: emitted but not in docs/cli.md {unlisted}; listed but not emitted {absent}"


def _check(name: str, doc: dict) -> None:
    """The document's keys are the ones listed (a key whose row says "absent when ..." may be
    missing), and so are those of each object whose type the row writes inline."""
    keys = SECTIONS[name]
    _compare(name, list(keys), doc, {d for d, cells in keys.items() if "absent when" in " ".join(cells)})
    for documented, cells in keys.items():
        inline = _inline_keys(cells[0])
        for key, value in doc.items():
            if inline and _matches(documented, key):
                value = value[0] if isinstance(value, list) and value else value
                if isinstance(value, dict):
                    _compare(f"{name}.{key}", inline, value)



@pytest.mark.slow  # runs the CLI as a user does, about eight commands
@pytest.mark.parametrize("command", ["import", "fit", "propose", "status", "logs", "replay", "data prepare"])
def test_json_document_keys_are_the_documented_ones(fit_only_documents, command):
    _check(command, fit_only_documents[command])


@pytest.mark.slow
def test_json_shapes_are_the_documented_ones(fit_only_documents):
    emitted = fit_only_documents
    status, propose, fit = emitted["status"], emitted["propose"], emitted["fit"]
    assert emitted["data fetch"] == {}
    assert fit["noise"] is not None and status["recommendation"]["stability"] is not None
    shapes = {"RECOMMENDATION": status["recommendation"], "STABILITY": status["recommendation"]["stability"],
              "FIT": propose["fit"], "SCORE": fit["scores"][0], "NOISE": fit["noise"],
              "PROPOSAL": propose["proposals"][0], "BEST": status["best"], "SPENT": status["spent"],
              "SUMMARY": emitted["replay"]["summary"][0],
              "PREPARED": next(iter(emitted["data prepare"]["domains"].values()))}
    for name, doc in shapes.items():
        _check(name, doc)


def test_the_key_check_catches_drift():
    with pytest.raises(AssertionError, match=r"emitted but not in docs/cli.md \['new_key'\]"):
        _check("SPENT", {"runs": 1, "cpu_hours": 0, "gpu_hours": 0, "tokens": 0, "device_hours": 0, "new_key": 1})
    with pytest.raises(AssertionError, match=r"listed but not emitted \['device_hours'\]"):
        _check("SPENT", {"runs": 1, "cpu_hours": 0, "gpu_hours": 0, "tokens": 0})
    _check("SUMMARY", {"strategy": "random", "median_cost_to_0.5pct": 1.0, "reached": 1.0,
                       "median_final_regret": 0.0, "cost_vs_random": 1.0})
    assert _inline_keys("list of {`run_id`, `error`}") == ["run_id", "error"]
    assert _inline_keys("{`cost_to_<T>pct`: {strategy: [float per seed]}}") == ["cost_to_<T>pct"]
    assert _inline_keys("{`pid`, `host`, …} \\| null") is None and _inline_keys("MIXTURE") is None
    with pytest.raises(AssertionError, match=r"ROUND.launched: emitted but not in docs/cli.md \['skipped'\]"):
        _check("ROUND", {"round": 0, "launched": {"done": 1, "failed": 0, "skipped": 1}, "fit": None, "proposals": []})


@pytest.mark.slow  # trains proxies on Ray
def test_json_documents_of_training_commands_are_the_documented_ones(trained_documents):
    run, validate = trained_documents["run"], trained_documents["validate"]
    _check("run", run)
    _check("ROUND", run["rounds"][0])
    _check("validate", validate)
    _check("ARM", validate["mixtures"][0])
    _check("COMPARISON", validate["comparisons"][0])
    assert validate["recommendation"]["validated"]
    _check("RECOMMENDATION", validate["recommendation"])
