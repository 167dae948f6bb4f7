"""Two small studies' command outputs, which the end-to-end, reference-docs and table tests
check: made once per test session (see `conftest.made_once`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import base_recipe, cli, imported_study, write_recipe


def _json(cwd: Path, *args: str) -> dict:
    return json.loads(cli(*args, "--json", cwd=cwd).stdout)


def fit_only(folder: Path, text_root: Path) -> dict:
    """A fit-only study of imported runs (replicated mixtures, so the fit measures a noise floor):
    its import, fit, propose, status, data fetch and logs documents; a synthetic replay's; and
    tokenizing real text (data prepare). `recipe` is the study's recipe path."""
    recipe = str(imported_study(folder, "docs"))
    docs = {"recipe": recipe,
            "import": _json(folder, "import", recipe, "runs.csv"),
            "fit": _json(folder, "fit", recipe, "--surrogate", "linear"),
            "propose": _json(folder, "propose", recipe, "--surrogate", "linear", "--method", "regmix"),
            "status": _json(folder, "status", recipe),
            "data fetch": _json(folder, "data", "fetch", recipe),
            "replay": _json(folder, "replay", "--strategies", "random,regmix", "--seeds", "2", "--budget", "4",
                            "--domains", "3", "--pool", "30")}
    docs["logs"] = _json(folder, "logs", recipe, docs["status"]["best"]["run_id"])
    text = write_recipe(folder / "text.yaml", base_recipe(text_root, folder / "cache"))
    docs["data prepare"] = _json(folder, "data", "prepare", str(text), "--workers", "1")
    return docs


def trained(folder: Path, text_root: Path) -> dict:
    """A study of tiny proxies on real text, as a user drives it with the embedded Ray: `data
    prepare`, `run` (6 initial runs and a round), `status`, `propose`, `fit`, `validate` with two
    seeds and a mixture of one's own, `status`, `export` to all.csv, and a second `run` that trains
    the open proposals. Each command's stderr (`<name> stderr`), a `--json` command's document
    under its name, and the study's parts as they were after the
    first `run` and after `validate` (folders `after run`, `after validate` in `folder`, where the
    study lives). `recipe` is the study's recipe path."""
    recipe = str(write_recipe(folder / "recipes" / "tiny.yaml", base_recipe(text_root, folder / "cache")))
    steps = {"data prepare": ("data", "prepare", recipe, "--json"),
             "run": ("run", recipe, "--json"),
             "status": ("status", recipe, "--json"),
             "propose": ("propose", recipe, "--n", "3", "--method", "argmin", "--json"),  # the run's fit, reused
             "fit": ("fit", recipe, "--surrogate", "linear", "--json"),
             "validate": ("validate", recipe, "--seeds", "2", "--mixture", "mine=0.2,0.5,0.3", "--json"),
             "status after validate": ("status", recipe, "--json"),
             "export": ("export", recipe, "--format", "csv", "--out", "all.csv"),
             "run again": ("run", recipe, "--rounds", "0", "--json")}
    parts = folder / "runs" / "tiny" / "parts"
    docs: dict = {"recipe": recipe, "folder": str(folder)}
    for name, args in steps.items():
        res = cli(*args, cwd=folder)
        docs[f"{name} stderr"] = res.stderr
        if "--json" in args:
            docs[name] = json.loads(res.stdout)
        if name in ("run", "validate"):
            shutil.copytree(parts, folder / f"after {name}")
    return docs
