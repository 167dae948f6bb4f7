"""Every example in README.md, benchmarks/README.md and docs/*.md runs against the code: each ```yaml
block validates with the recipe loader, each documented `mixsearch <command>` exists with the options
it shows, each inline `--option` is an option of a command (or of a benchmark script), each `make`
target exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
import yaml

from mixsearch.cli import app
from mixsearch.recipe.schema import Recipe, parse_recipe

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
# a fragment documents one or more recipe sections; it is merged into the least recipe that needs no files
BASE = {"study": "docs", "domains": [{"name": "a"}, {"name": "b"}]}


def _blocks(kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """(where, text) of every fenced block of these languages."""
    out = []
    for doc in DOCS:
        text = doc.read_text()
        for m in FENCE.finditer(text):
            if m.group(1) in kinds:
                out.append((f"{doc.name}:{text[:m.start()].count(chr(10)) + 1}", m.group(2)))
    return out


def _inline() -> list[tuple[str, str]]:
    """(where, code) of every inline code span outside fenced blocks."""
    out = []
    for doc in DOCS:
        text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), doc.read_text())
        for m in re.finditer(r"`([^`\n]+)`", text):
            out.append((f"{doc.name}:{text[:m.start()].count(chr(10)) + 1}", m.group(1)))
    return out


def _commands() -> dict[str, object]:
    """Every command path ('fit', 'data prepare') with its click command."""
    found: dict[str, object] = {}

    def walk(cmd: object, path: list[str]) -> None:
        found[" ".join(path)] = cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, path + [name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()


def _options(cmd: object) -> set[str]:
    return {o for p in cmd.params for o in p.opts + p.secondary_opts if o.startswith("-")} | {"--help"}


def _documented_commands() -> list[tuple[str, str]]:
    """(where, 'mixsearch ...') of every command line: inline spans, and lines of shell blocks
    (up to a pipe, redirection or `&&`); spans such as `import RECIPE ...` count too."""
    out = [(w, c) for w, c in _inline() if c.startswith("mixsearch ")]
    first_words = "|".join(re.escape(c) for c in COMMANDS if c)
    out += [(w, "mixsearch " + c) for w, c in _inline() if re.match(rf"(?:{first_words}) RECIPE\b", c)]
    for where, block in _blocks(("bash", "sh", "shell", "cron", "console")):
        for line in block.splitlines():
            if (i := line.find("mixsearch ")) >= 0 and not line.lstrip().startswith("#"):
                out.append((where, re.split(r"\s(?:\||>>?|&&|;|2>&1)\s?", line[i:])[0]))
    return out


def _check_command(line: str) -> None:
    """The command path exists and the options shown are its own."""
    words = line.replace("\\|", "|").replace("[", " ").replace("]", " ").split()[1:]
    pipes = [i for i, w in enumerate(words)  # `| head` is a shell pipe; `NAME | --tokens T`, alternatives
             if w == "|" and not (i + 1 < len(words) and words[i + 1].startswith("-"))]
    words = words[:pipes[0]] if pipes else words  # a shell pipe after the command
    path: list[str] = []
    while words and " ".join(path + [words[0]]) in COMMANDS:
        path.append(words.pop(0))
    cmd = COMMANDS[" ".join(path)]
    assert path or all(w.startswith("-") for w in words), f"no command '{words[0]}'"
    options = _options(cmd)
    for word in words:
        for opt in re.findall(r"--[\w-]+", word.split("=")[0]) if word.startswith("-") else []:
            assert opt in options, f"`mixsearch {' '.join(path)}` has no option {opt}"


def _example_recipe(text: str) -> dict:
    data = yaml.safe_load(text)
    assert isinstance(data, dict), "a recipe example is a mapping"
    if "study" in data and "domains" in data:
        return data
    unknown = set(data) - set(Recipe.model_fields)
    assert not unknown, f"not recipe sections: {', '.join(sorted(unknown))}"
    return {**BASE, **data}


YAML = _blocks(("yaml", "yml"))
COMMAND_LINES = _documented_commands()


def test_the_docs_have_examples():
    assert YAML and len(COMMAND_LINES) > 10


@pytest.mark.parametrize(("where", "text"), YAML, ids=[w for w, _ in YAML])
def test_yaml_examples_are_valid_recipes(where, text):
    parse_recipe(_example_recipe(text), where)


@pytest.mark.parametrize(("where", "line"), COMMAND_LINES, ids=[f"{w} {c}" for w, c in COMMAND_LINES])
def test_documented_commands_exist_with_their_options(where, line):
    _check_command(line)


def test_inline_options_belong_to_a_command_or_a_benchmark():
    ours = set().union(*(_options(c) for c in COMMANDS.values()))
    scripts = "\n".join(p.read_text() for p in (ROOT / "benchmarks").glob("*.py"))
    missing = [f"{where}: {opt}" for where, code in _inline() if code.startswith("--")
               for opt in re.findall(r"--[\w-]+", code) if opt not in ours and f'"{opt}"' not in scripts]
    assert not missing, missing


def test_make_targets_in_examples_exist():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    used = [(w, m) for w, block in _blocks(("bash", "sh", "shell")) for m in re.findall(r"^\s*make (\w+)", block, re.M)]
    used += [(w, m) for w, code in _inline() for m in re.findall(r"^make (\w+)", code)]
    assert used and all(m in targets for _, m in used), [u for u in used if u[1] not in targets]


def test_the_checks_catch_drift():
    with pytest.raises(AssertionError, match="no option --frobnicate"):
        _check_command("mixsearch fit RECIPE [--frobnicate]")
    with pytest.raises(AssertionError, match="no command 'frobnicate'"):
        _check_command("mixsearch frobnicate RECIPE")
    with pytest.raises(AssertionError, match="not recipe sections: serch"):
        _example_recipe("serch: {rounds: 2}")
    with pytest.raises(AssertionError, match="no option --depth"):
        _check_command("mixsearch validate RECIPE [--fidelity NAME \\| --tokens T --depth L]")
    _check_command("mixsearch data prepare RECIPE [--workers N] [--address ADDR]")
    _check_command("mixsearch status RECIPE \\| head --lines 3")
    parse_recipe(_example_recipe("search: {rounds: 2}"), "fragment")
