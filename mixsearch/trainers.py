"""Which trainer a study's runs use, and what a command trainer needs to know about them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mixsearch.data.sources import effective_source, source_files
from mixsearch.errors import UserError
from mixsearch.recipe import Recipe
from mixsearch.store import LOSS

if TYPE_CHECKING:
    from mixsearch.study import Study


def builtin_can_report(recipe: Recipe) -> None:
    """The built-in GPT reports only loss_<domain or eval set>: a UserError for any other metric objective."""
    names = {LOSS + n for n in [*recipe.domain_names, *(e.name for e in recipe.eval_sets)]}
    for obj in recipe.objective_list:
        if obj.kind == "metric" and obj.metric not in names:
            raise UserError(f"the built-in trainer reports only per-domain losses ({', '.join(sorted(names))}), "
                            f"not '{obj.metric}'; give proxy.trainer.command", where="objective.metric")


def _sources(recipe: Recipe) -> dict[str, dict]:
    """Per domain and eval set: its source format, absolute file paths, and the text field/column."""
    out = {}
    for d in [*recipe.domains, *recipe.eval_sets]:
        src = effective_source(recipe, d)
        fmt = "files" if src.files else "jsonl" if src.jsonl else "parquet"
        entry = {"format": fmt, "paths": [str(p.resolve()) for p in source_files(recipe, d)]}
        if fmt != "files":
            entry["field"] = src.field if fmt == "jsonl" else src.column
        out[d.name] = entry
    return out


def command_settings(study: Study) -> dict:
    """The recipe's command trainer settings as plain data for RunSpec.trainer."""
    r = study.recipe
    t = r.proxy.trainer
    assert t is not None
    return {"command": t.command, "timeout": t.timeout, "env": dict(t.env), "params": dict(t.params),
            "study": r.study, "logs": str((study.store.root / "logs").resolve()), "cwd": os.getcwd(),
            "sources": _sources(r)}
