"""Fit-only studies of imported runs, the import options, and the stored fit that later commands reuse."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mixsearch.errors import UserError
from mixsearch.search.importer import ImportOptions, import_table
from mixsearch.recipe.schema import parse_recipe
from mixsearch.search.study import Study
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.cv import select
from mixsearch.search.modelling import fit, propose_next
from tests.conftest import cli, write_recipe

DOMAINS = ("web", "code", "books")


def fit_only_recipe(study: str = "imported", tokens: bool = True) -> dict:
    return {"study": study, "domains": [{"name": n, **({"tokens": t} if tokens else {})}
                                        for n, t in zip(DOMAINS, (6e9, 3e9, 1e9))],
            "objective": {"kind": "domain", "target": "web"},
            "search": {"candidates": 2000, "top_k": 8, "cv_folds": 3, "batch_size": 2}}


def write_pool(tmp_path, n: int = 24) -> tuple:
    """RegMix-style: ratios (rounded to 3 decimals, so some rows sum to 0.999) and metrics, joined by id."""
    rng = np.random.default_rng(0)
    W = np.round(rng.dirichlet(np.ones(3), size=n), 3)
    ids = [f"run{i}" for i in range(n)]
    ratios = pd.DataFrame({"run": ids, **{f"train_{d}": W[:, j] for j, d in enumerate(DOMAINS)}})
    loss = 3 + (W[:, 0] - 0.5) ** 2 + 0.1 * W[:, 2]
    metrics = pd.DataFrame({"run": ids[::-1] + ["orphan"], "loss_web": list(loss[::-1]) + [9.0]})
    ratios.to_csv(tmp_path / "ratios.csv", index=False)
    metrics.to_csv(tmp_path / "metrics.csv", index=False)
    return W, int((np.abs(W.sum(1) - 1) > 1e-9).sum())


@pytest.mark.slow
def test_fit_only_study_imports_fits_and_reuses_its_fit(tmp_path):
    study = Study.open(parse_recipe(fit_only_recipe(), "r.yaml"), tmp_path / "runs")
    assert study.recipe.fit_only
    share = np.sqrt([0.6, 0.3, 0.1])  # the prior: token share ** prior_power (0.5), from domains[].tokens
    assert np.allclose(study.space().prior, share / share.sum())
    W, off = write_pool(tmp_path)
    assert off > 0
    with pytest.raises(UserError, match="off the simplex"):
        import_table(study, tmp_path / "ratios.csv",
                     ImportOptions(metrics=tmp_path / "metrics.csv", id_column="run", weights_prefix="train_"))
    opts = ImportOptions(metrics=tmp_path / "metrics.csv", id_column="run", weights_prefix="train_", renormalize=0.01)
    summary = import_table(study, tmp_path / "ratios.csv", opts)
    assert (summary.new, summary.rows, summary.renormalized, summary.unmatched) == (24, 24, off, 1)
    done = study.completed()
    assert np.allclose(done[[f"w_{d}" for d in DOMAINS]].sum(axis=1), 1)

    first = fit(study, "linear")
    assert not first.reused and first.chosen.predicted is not None and len(first.chosen.predicted) == 24
    again = fit(study, "linear")
    assert again.reused and again.key == first.key
    assert np.array_equal(again.surrogate.predict(W), first.surrogate.predict(W))
    assert not fit(study, "linear", refit=True).reused
    assert not fit(study, "lightgbm").reused  # another choice is another fit
    prop = propose_next(study, fit(study, "lightgbm"), 2, "regmix")
    assert len(prop) == 2 and fit(study, "lightgbm").reused  # proposing finishes no run
    with pytest.raises(UserError, match="fit-only study"):
        study.seed_initial()


def test_recipe_needs_sources_everywhere_or_nowhere():
    mixed = fit_only_recipe(tokens=False)
    mixed["domains"][0]["source"] = {"files": ["x/*.txt"]}
    with pytest.raises(UserError, match="no source for code, books"):
        parse_recipe(mixed, "r.yaml")
    partial = fit_only_recipe(tokens=False)
    partial["domains"][0]["tokens"] = 5
    with pytest.raises(UserError, match="tokens for every domain or for none"):
        parse_recipe(partial, "r.yaml")
    assert np.allclose(Study.open(parse_recipe(fit_only_recipe(tokens=False), "r.yaml"), "runs").space().prior, 1 / 3)


def test_auto_skips_candidates_over_the_fit_budget():
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(4), size=40)
    best, scores = select(["linear", "gp"], TrainSet(X, X @ np.arange(4.0)), folds=4, seed=0, budget_s=1e-6)
    assert best == "linear"
    gp = next(s for s in scores if s.name == "gp")
    assert gp.skipped and "fit budget" in gp.skipped and np.isnan(gp.spearman)


def test_cli_fit_once_then_reuse_and_reimport_an_export(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", fit_only_recipe())
    write_pool(tmp_path)
    res = cli("import", str(recipe), "ratios.csv", "metrics.csv", "--id", "run", "--weights-prefix", "train_",
              "--renormalize", "0.01", "--json", cwd=tmp_path)
    assert json.loads(res.stdout)["imported"] == 24
    fit = json.loads(cli("fit", str(recipe), "--surrogate", "linear", "--json", cwd=tmp_path).stdout)
    assert fit["chosen"] == "linear" and not fit["reused"] and (tmp_path / "runs/imported/fit.png").exists()
    status = json.loads(cli("status", str(recipe), "--json", cwd=tmp_path).stdout)
    assert status["surrogate"] == {"chosen": "linear", "runs": 24, "current": True}
    prop = json.loads(cli("propose", str(recipe), "--surrogate", "linear", "--json", cwd=tmp_path).stdout)
    assert prop["fit"]["reused"] and len(prop["proposals"]) == 2

    cli("export", str(recipe), "--format", "csv", "--out", "all.csv", cwd=tmp_path)
    other = write_recipe(tmp_path / "o.yaml", fit_only_recipe("again"))
    back = json.loads(cli("import", str(other), "all.csv", "--json", cwd=tmp_path).stdout)
    assert (back["imported"], back["skipped_not_done"]) == (24, 2)  # the 2 proposals are not results
