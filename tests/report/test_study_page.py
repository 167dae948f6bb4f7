"""The page of a study that trained its runs (a known mixing law stands in for training): the
history colours runs by origin with cheaper fidelities apart and counts device-hours, fidelity
agreement is shown, and a fit made stale by later runs stays visible as the last fit."""

from __future__ import annotations

import html
import json
import re
import sys

import pytest

from mixsearch.recipe.schema import parse_recipe
from mixsearch.report.html import write_report
from mixsearch.search import validate as va
from mixsearch.search.launch import launch
from mixsearch.search.modelling import fit, propose_next, recommend
from mixsearch.search.study import Study
from tests.search.test_recommend import FakeTrainer

pytestmark = pytest.mark.slow


def _figure(page: str, key: str) -> dict:
    spec = re.search(rf'id="fig-{key}" data-fig="([^"]*)"', page).group(1)
    return json.loads(html.unescape(spec))


def test_a_trained_study_shows_origins_fidelities_and_its_last_fit(recipe_dict, tmp_path, ray_local):
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules["tests.search.test_recommend"])
    recipe_dict["proxy"]["fidelities"] = [{"name": "small", "tokens": 2048}, {"name": "target", "tokens": 4096}]
    recipe_dict["search"].update(initial_runs=8, initial_fidelities=["small", "target"], surrogate="linear",
                                 replicates={"mixtures": 2, "seeds": 2}, candidates=1500)
    study = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "runs")
    trainer = FakeTrainer(study.recipe.domain_names, 0.002)
    study.seed_initial()
    launch(study, fn=trainer)
    fitted = fit(study)
    rec = recommend(study, fitted, stability=False)
    propose_next(study, fitted, 2)
    launch(study, fn=trainer)
    va.validate(study, rec, seeds=2, fn=trainer)  # runs finish after the fit: it is stale now

    page = write_report(study, tmp_path / "r.html", "t.yaml").read_text()
    assert re.findall(r"<h2>(.*?)</h2>", page) == [
        "Recommendation", "Objective against each domain&#x27;s weight", "Search history", "Surrogate",
        "Fidelity agreement", "Runs", "Recipe, data and versions"]
    history = _figure(page, "history")
    names = {t["name"] for t in history["data"]}
    assert names >= {"initial", "replicate", "proposed", "validation", "lower fidelity"}
    assert "xaxis2" in history["layout"]  # trained runs counted device-hours: the second panel
    assert "set search.replicates" not in page  # replicates measured the noise
    agreement = _figure(page, "fidelities")
    rho = float(re.match(r"small: Spearman (\S+)$", agreement["layout"]["annotations"][0]["text"]).group(1))
    assert rho > 0.9  # both fidelities follow the same law
    surrogate = page[page.index("<h2>Surrogate</h2>"):page.index("<h2>Fidelity agreement</h2>")]
    assert f"this is the last fit, of {fitted.n_runs} runs" in surrogate and 'id="fig-fit"' in surrogate
