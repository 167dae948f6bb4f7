"""The package's import graph: data flows one way through the stages, and no module takes another's
private names. Every import counts, at the top of a module or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import mixsearch

ROOT = Path(mixsearch.__file__).parent
# The stages in the order the data flows; a module imports only from its own stage or an earlier one.
STAGES = [
    ("errors", "hashing", "paths", "signals", "raynode"),
    ("recipe",),
    ("mixtures",),
    ("data",),
    ("store",),
    ("proxy",),
    ("execute",),
    ("tracking",),
    ("surrogate",),
    ("propose",),
    ("search",),
    ("report",),
    ("replay",),
    ("ui",),
    ("cli", "__main__", "__init__"),
]
RANK = {name: i for i, names in enumerate(STAGES) for name in names}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(module: str) -> list[tuple[str, str | None]]:
    """(imported module, name taken from it or None) for every import of mixsearch in `module`."""
    out = []
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.split(".")[0] == "mixsearch"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "mixsearch":
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.append((sub, None) if sub in MODULES else (node.module, a.name))
    return out


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


EDGES = {m: _imports(m) for m in MODULES}


def test_every_module_belongs_to_a_stage():
    assert sorted({_stage(m) for m in MODULES} - set(RANK)) == []


def test_no_stage_imports_a_later_one():
    later = [f"{m} -> {t}" for m, out in EDGES.items() for t, _ in out if RANK[_stage(t)] > RANK[_stage(m)]]
    assert later == []


def test_no_module_takes_another_modules_private_names():
    private = [f"{m} -> {t}.{name}" for m, out in EDGES.items() for t, name in out
               if name and name.startswith("_") and not name.startswith("__") and t != m]
    assert private == []


def test_the_import_graph_has_no_cycles():
    graph = {m: sorted({t for t, _ in out if t in MODULES and t != m}) for m, out in EDGES.items()}
    done: set[str] = set()
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        if m in path:
            cycles.append(" -> ".join(path[path.index(m):] + [m]))
            return
        if m in done:
            return
        for t in graph[m]:
            visit(t, [*path, m])
        done.add(m)

    for m in graph:
        visit(m, [])
    assert cycles == []
