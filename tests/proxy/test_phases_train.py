"""The built-in trainer follows a run's schedule: until the phase boundary it trains exactly what a
static run of the first phase's mixture trains (one stream under the seed), then switches."""

from __future__ import annotations

import pytest

from mixsearch.data.prepare import prepare
from mixsearch.proxy.spec import RunSpec
from mixsearch.proxy.train import train_proxy
from mixsearch.recipe.schema import parse_recipe


def test_a_schedule_trains_its_first_phase_like_a_static_run_then_switches(recipe_dict):
    recipe = parse_recipe(recipe_dict, "t.yaml")
    data = prepare(recipe).to_dict()
    train = recipe.proxy.train.model_copy(update={"tokens": 8192, "eval_every": 16}).model_dump()  # 32 steps
    model = recipe.proxy.model.model_dump()
    docs, code = {"code": 0.0, "docs": 1.0, "news": 0.0}, {"code": 1.0, "docs": 0.0, "news": 0.0}
    phases = [{"name": "main", "share": 0.5, "mixture": docs}, {"name": "anneal", "share": 0.5, "mixture": code}]
    static = train_proxy(RunSpec("s", docs, 5, model, train).to_dict(), data)
    phased = train_proxy(RunSpec("p", {"code": 0.5, "docs": 0.5, "news": 0.0}, 5, model, train,
                                 phases=phases).to_dict(), data)
    assert static["status"] == phased["status"] == "done" and phased["steps"] == 32
    at_boundary = static["curve"][0], phased["curve"][0]
    assert at_boundary[0]["step"] == at_boundary[1]["step"] == 16
    for name in ("code", "docs", "news"):
        assert at_boundary[1][name] == pytest.approx(at_boundary[0][name], rel=1e-6)
    assert phased["losses"]["code"] < static["losses"]["code"] - 0.05  # the second phase trained on code
