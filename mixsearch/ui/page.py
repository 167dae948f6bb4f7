"""What a command shows for its data object: rich tables and lines, each bound for stdout or
stderr, built from the same document `--json` writes (so the two cannot drift)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console, RenderableType
from rich.text import Text

from mixsearch.ui import output


@dataclass
class Page:
    """Renderables in the order they are shown; plain strings are printed as they are (no markup)."""

    parts: list[tuple[bool, RenderableType, bool]] = field(default_factory=list)  # (to stderr, what, soft wrap)

    def out(self, what: RenderableType) -> None:
        self.parts.append((False, Text(what) if isinstance(what, str) else what, False))

    def err(self, what: RenderableType, soft_wrap: bool = False) -> None:
        """`soft_wrap`: a long line stays one line (a path or a command to copy)."""
        self.parts.append((True, Text(what) if isinstance(what, str) else what, soft_wrap))

    def extend(self, other: Page) -> None:
        self.parts += other.parts

    def print(self, stdout: Console | None = None, stderr: Console | None = None) -> None:
        """On the command's consoles (or the ones given)."""
        for to_err, what, soft_wrap in self.parts:
            console = (stderr or output.err) if to_err else (stdout or output.out)
            console.print(what, soft_wrap=soft_wrap)


def show(doc: dict, render: Callable[[dict], Page], as_json: bool) -> None:
    """The command's one data object: as JSON on stdout, or rendered as tables and lines."""
    if as_json:
        output.emit_json(doc)
    else:
        render(doc).print()
