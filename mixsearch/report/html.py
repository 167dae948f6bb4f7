"""The page as HTML: the style, the plotting library, the sections and the script that plots their
figures (and, on the dashboard, fetches new sections as runs land). `report` writes it as one
self-contained file; nothing else is written."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path

from mixsearch.report.page import Section, build, title
from mixsearch.search.study import Study


def sections_json(sections: list[Section], mark: str) -> str:
    """What the dashboard's page fetches: its sections and the fingerprint they were built at."""
    return json.dumps({"fingerprint": mark, "sections": [asdict(s) for s in sections]})


def _asset(name: str) -> str:
    return resources.files("mixsearch.report").joinpath(name).read_text(encoding="utf-8")


def render(title: str, sections: list[Section], plotly_js: str, live: str = "") -> str:
    """The whole page: its title, style, the plotting library (a <script> with its source, or a tag naming
    where the server has it), the sections, and the page's script. `live`: the fingerprint the
    dashboard polls against ("" for a static report)."""
    body = "\n".join(f'<section id="{html.escape(s.key)}"><h2>{html.escape(s.title)}</h2>{s.html}</section>'
                     for s in sections)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<link rel='icon' href='data:,'><style>{_asset('page.css')}</style>{plotly_js}</head>"
            f"<body data-live='{html.escape(live)}'><main><h1>{html.escape(title)}</h1>{body}</main>"
            f"<script>{_asset('page.js')}</script></body></html>")


def inline_plotly() -> str:
    """The plotting library's source in a <script>, so the page needs no network."""
    from plotly.offline import get_plotlyjs

    return f"<script>{get_plotlyjs()}</script>"


def write_report(study: Study, path: Path, recipe: str = "RECIPE") -> Path:
    """Write the study's page as one self-contained HTML file, atomically. It reads the stored fit
    of the current runs (none: no surrogate lines) and the recorded answer; it fits nothing."""
    from mixsearch.paths import writable_dir, write_atomic

    writable_dir(path.parent)
    return write_atomic(path, render(title(study), build(study, recipe), inline_plotly()))
