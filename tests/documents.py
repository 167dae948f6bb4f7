"""The `--json` documents of two small studies, which the reference-docs and the table tests both
check: made once per test session (see `conftest.made_once`)."""

from __future__ import annotations

import json
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
    """`run` (4 tiny proxies on real text, embedded Ray, no search rounds) and `validate` with two
    seeds. `recipe` is the study's recipe path."""
    data = base_recipe(text_root, folder / "cache")
    data["search"]["initial_runs"] = 4
    recipe = str(write_recipe(folder / "r.yaml", data))
    return {"recipe": recipe, "run": _json(folder, "run", recipe, "--rounds", "0"),
            "validate": _json(folder, "validate", recipe, "--seeds", "2")}
