"""A small study for the page's tests, built in about a second with no training: a synthetic table
of 24 runs imported into a fit-only study, fitted (linear) and recommended."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.importer import ImportOptions, import_table
from mixsearch.search.modelling import fit, recommend
from mixsearch.search.study import Study
from tests.conftest import write_recipe
from tests.search.test_fitonly import DOMAINS, fit_only_recipe, write_pool


def imported_study(tmp_path: Path, n: int = 24, fitted: bool = True, **sections) -> tuple[Study, Path]:
    """A fit-only study of `n` imported runs (fitted and recommended unless not `fitted`) and its
    recipe file; `sections`: more of the recipe (e.g. tracking)."""
    data = {**fit_only_recipe("page"), **sections}
    data["search"]["surrogate"] = "linear"
    path = write_recipe(tmp_path / "page.yaml", data)
    study = Study.open(parse_recipe(data, str(path)), tmp_path / "runs")
    write_pool(tmp_path, n)
    import_table(study, tmp_path / "ratios.csv", ImportOptions(metrics=tmp_path / "metrics.csv", id_column="run",
                                                               weights_prefix="train_", renormalize=0.01))
    if fitted:
        recommend(study, fit(study))
    return study, path


@pytest.fixture
def page_study(tmp_path) -> tuple[Study, Path]:
    return imported_study(tmp_path)


def add_runs(study: Study, tmp_path: Path, mixtures: np.ndarray, losses: list[float], tag: str,
             tokens: int | None = None) -> list[str]:
    """Import finished runs of the given mixtures and losses (trained on `tokens`, default the
    target's) into the study; their ids in the store."""
    import pandas as pd

    ids = [f"{tag}{i}" for i in range(len(losses))]
    pd.DataFrame({"run": ids, **{f"train_{d}": mixtures[:, j] for j, d in enumerate(DOMAINS)}, "loss_web": losses,
                  **({"tokens": tokens} if tokens else {})}).to_csv(tmp_path / f"{tag}.csv", index=False)
    before = set(study.store.runs()["run_id"])
    import_table(study, tmp_path / f"{tag}.csv", ImportOptions(id_column="run", weights_prefix="train_"))
    return sorted(set(study.store.runs()["run_id"]) - before)
