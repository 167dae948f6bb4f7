"""A phased study: runs imported with `w_<phase>_<domain>` columns, fitted and recommended as one
mixture per phase, the best static mixture as a validation baseline, and what a trainer is told."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mixsearch.errors import UserError
from mixsearch.execute.command import run_config
from mixsearch.layout import Layout
from mixsearch.proxy.spec import RunSpec
from mixsearch.recipe.schema import parse_recipe
from mixsearch.replay.synthetic import MixingLaw
from mixsearch.search.importer import ImportOptions, import_table
from mixsearch.search.modelling import fit, propose_next, recommend
from mixsearch.search.named_mixtures import BEST_STATIC, static_baseline
from mixsearch.search.study import Study

RECIPE = {"study": "phased", "domains": [{"name": n, "tokens": t} for n, t in (("web", 6e9), ("code", 3e9),
                                                                                 ("math", 1e9))],
          "phases": [{"name": "main", "share": 0.75}, {"name": "anneal", "share": 0.25}],
          "objective": {"kind": "mean"}, "search": {"candidates": 2000, "top_k": 8, "cv_folds": 3, "batch_size": 2}}


def pool(n: int = 30) -> pd.DataFrame:
    """Schedules whose loss falls with math in the anneal phase (a mixing law over the 6 weights)."""
    rng = np.random.default_rng(0)
    W = np.hstack([rng.dirichlet(np.ones(3), n), rng.dirichlet(np.ones(3), n)])
    law = MixingLaw(np.array([2.0]), np.array([1.0]), np.array([[-0.5, -0.3, 0.2, -0.2, -0.1, -1.5]]))
    cols = [f"w_{p}_{d}" for p in ("main", "anneal") for d in ("web", "code", "math")]
    return pd.DataFrame({**dict(zip(cols, W.T)), "objective": law(W)})


def imported(tmp_path, table: pd.DataFrame, recipe: dict = RECIPE) -> Study:
    study = Study.open(parse_recipe(recipe, "r.yaml"), tmp_path / "runs")
    table.to_csv(tmp_path / "t.csv", index=False)
    import_table(study, tmp_path / "t.csv", ImportOptions())
    return study


def test_a_phased_study_fits_recommends_and_proposes_one_mixture_per_phase(tmp_path):
    study = imported(tmp_path, pool())
    runs = study.store.runs()
    assert [c for c in runs.columns if c.startswith("w_")] == [f"w_{p}_{d}" for p in ("main", "anneal")
                                                              for d in ("web", "code", "math")]
    fitted = fit(study, "mixing_law")
    rec = recommend(study, fitted, stability=False)
    layout = Layout.of(study.recipe)
    w = np.array([rec.mixture[n] for n in study.recipe.mixture_names])
    phases = layout.split(w)[0]
    assert np.allclose(phases.sum(1), 1.0, atol=1e-6)
    assert phases[1, 2] > 0.9  # math in the anneal phase
    static = static_baseline(study)[BEST_STATIC]
    assert np.allclose(static[:3], static[3:]) and np.isclose(static[:3].sum(), 1.0)
    proposed = propose_next(study, fitted, 2, "optimize")
    assert len(proposed) == 2 and {"w_anneal_math", "w_main_web"} <= set(proposed.columns)
    sums = proposed[[f"w_anneal_{d}" for d in ("web", "code", "math")]].sum(axis=1)
    assert np.allclose(sums, 1.0)
    with pytest.raises(UserError, match="bimix models one mixture per run"):
        fit(study, "bimix")


def test_imported_schedules_must_sum_to_one_in_every_phase(tmp_path):
    table = pool(6)
    table.loc[2, "w_anneal_code"] += 0.5
    with pytest.raises(UserError, match=r"row 4: mixture is off the simplex \(weights sum to 1\.5"):
        imported(tmp_path, table)
    with pytest.raises(UserError, match="no weight column for domain 'main_web'"):
        imported(tmp_path, pool(6).drop(columns=["w_main_web"]))


def test_a_trainer_is_told_the_schedule_and_each_domain_share_of_the_run(tmp_path):
    study = Study.open(parse_recipe(RECIPE, "r.yaml"), tmp_path / "runs")
    row = {"w_main_web": 0.6, "w_main_code": 0.4, "w_main_math": 0.0,
           "w_anneal_web": 0.2, "w_anneal_code": 0.0, "w_anneal_math": 0.8}
    mixture, phases = study.run_mixture(row)
    assert mixture == pytest.approx({"web": 0.5, "code": 0.3, "math": 0.2})
    assert phases == [{"name": "main", "share": 0.75, "mixture": {"web": 0.6, "code": 0.4, "math": 0.0}},
                      {"name": "anneal", "share": 0.25, "mixture": {"web": 0.2, "code": 0.0, "math": 0.8}}]
    spec = RunSpec("r1", mixture, 0, {}, {"tokens": 100}, phases=phases)
    config = run_config(spec, {})
    assert config["phases"] == phases and set(config["domains"]) == {"web", "code", "math"}
    assert "phases" not in run_config(RunSpec("r2", {"web": 1.0}, 0, {}, {"tokens": 100}), {})
    shares = {**RECIPE, "phases": [{"name": "main", "share": 0.5}, {"name": "anneal", "share": 0.5}]}
    other = Study.open(parse_recipe(shares, "r.yaml"), tmp_path / "runs2")
    fid = study.target
    assert study.run_id(row, fid) != other.run_id(row, fid)  # the shares are part of what a run is
