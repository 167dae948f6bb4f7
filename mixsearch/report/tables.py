"""The page's tables: escaped HTML in a box that scrolls (wide tables never widen the page); the
runs table can be sorted (click a heading) and filtered (the box above it) by the page's script."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import pandas as pd

from mixsearch.store.schema import LOSS, METRIC, WEIGHT


def table(head: Sequence[str], rows: Sequence[Sequence[object]], key: str = "", sortable: bool = False) -> str:
    """A table in a scrolling box; cells are text, numbers are formatted with 4 significant decimals."""
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell(c))}</td>" for c in row) + "</tr>" for row in rows)
    attrs = f' id="table-{html.escape(key)}"' if key else ""
    attrs += ' class="sortable"' if sortable else ""
    tool = (f'<input class="filter" data-table="table-{html.escape(key)}" placeholder="filter rows (any column)">'
            if sortable else "")
    return f'{tool}<div class="scroll"><table{attrs}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def cell(value: object) -> str:
    """A table cell's text: floats rounded, missing values empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def useful_columns(runs: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """The runs table's columns: identity, the mixture, the objective, then every loss and metric
    and the cost columns that have any value (all-empty columns are left out)."""
    base = ["run_id", "status", "origin", "fidelity", "seed", "round"]
    cols = base + [WEIGHT + n for n in names] + ["objective", "predicted"]
    cols += sorted(c for c in runs.columns if c.startswith(("objective_", LOSS, METRIC)))
    cols += ["wall_time", "cpu_hours", "gpu_hours", "finished_at", "error"]
    return [c for c in dict.fromkeys(cols) if c in runs and runs[c].notna().any() and (runs[c].astype(str) != "").any()]


def runs_table(runs: pd.DataFrame, names: Sequence[str]) -> str:
    """Every run, newest first (sortable and filterable)."""
    cols = useful_columns(runs, names)
    order = runs.sort_values(["finished_at", "created_at"], ascending=False, na_position="first", kind="stable") \
        if "finished_at" in runs else runs
    rows = [[str(r[c])[:12] if c == "run_id" else r[c].isoformat(timespec="seconds") if c == "finished_at"
             and isinstance(r[c], pd.Timestamp) and not pd.isna(r[c]) else r[c] for c in cols]
            for _, r in order.iterrows()]
    return table(cols, rows, "runs", sortable=True)
