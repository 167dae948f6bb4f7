"""Which trainer a study's runs use: the built-in GPT's entry points for workers, and what a command
trainer needs to know about its runs."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from mixsearch.data.sources import effective_source, source_files
from mixsearch.errors import UserError
from mixsearch.hashing import file_hash
from mixsearch.recipe.schema import Recipe
from mixsearch.recipe.proxy import Trainer
from mixsearch.store.schema import LOSS


def builtin_run(spec: dict, data: dict) -> dict:
    """The built-in GPT trains one run (`mixsearch.proxy.train.train_proxy`). A driver sends this
    function to its workers by name without importing torch; torch loads only where it runs."""
    from mixsearch.proxy.train import train_proxy

    return train_proxy(spec, data)


def builtin_ensemble(specs: list[dict], data: dict) -> list[dict]:
    """The built-in GPT trains several runs as one batched model (`train_ensemble`), as `builtin_run`."""
    from mixsearch.proxy.train import train_ensemble

    return train_ensemble(specs, data)


def builtin_can_report(recipe: Recipe) -> None:
    """The built-in GPT reports only loss_<domain or eval set>: a UserError for any other metric objective."""
    names = {LOSS + n for n in [*recipe.domain_names, *(e.name for e in recipe.eval_sets)]}
    for obj in recipe.objective_list:
        if obj.kind == "metric" and obj.metric not in names:
            raise UserError(f"the built-in trainer reports only per-domain losses ({', '.join(sorted(names))}), "
                            f"not '{obj.metric}'; give proxy.trainer.command", where="objective.metric")


def _sources(recipe: Recipe) -> dict[str, dict]:
    """Per domain and eval set: its source format, absolute file paths, and the text field/column (a
    task: its context and continuation fields)."""
    out = {}
    for d in [*recipe.domains, *recipe.eval_sets]:
        src = effective_source(recipe, d)
        fmt = "files" if src.files else "jsonl" if src.jsonl else "parquet"
        entry = {"format": fmt, "paths": [str(p.resolve()) for p in source_files(recipe, d)]}
        if getattr(d, "kind", "text") == "task":  # JSONL of a context and a continuation per line
            entry.update(kind="task", context_field=d.context_field, continuation_field=d.continuation_field)
        elif fmt != "files":
            entry["field"] = src.field if fmt == "jsonl" else src.column
        out[d.name] = entry
    return out


def command_settings(r: Recipe, logs: Path) -> dict:
    """The recipe's command trainer settings as plain data for RunSpec.trainer (`logs`: the
    study's log directory)."""
    t = r.proxy.trainer
    assert t is not None
    return {"command": t.command, "timeout": t.timeout, "env": dict(t.env), "params": dict(t.params),
            "study": r.study, "logs": str(logs.resolve()), "cwd": os.getcwd(), "sources": _sources(r)}


def trainer_identity(trainer: Trainer, cwd: Path | None = None) -> dict:
    """What makes a command trainer's results its own, for run ids: the command, params, env and
    data mode, and the content of every file the command's words name (a word, or the value of a
    word `--opt=value`; relative to `cwd`, where the command runs), so an edited script is another
    trainer. The Python interpreter running mixsearch is the environment, not the trainer: not
    hashed (nor the timeout, which changes no result)."""
    cwd = cwd or Path.cwd()
    python = Path(sys.executable).resolve()
    files = {}
    for word in shlex.split(trainer.command):
        for name in dict.fromkeys([word, word.partition("=")[2]]):
            path = cwd / Path(name).expanduser() if name else None
            if path is not None and path.is_file() and path.resolve() != python:
                files[name] = file_hash(path)
    return {"command": trainer.command, "params": trainer.params, "env": trainer.env, "data": trainer.data,
            "files": files}
