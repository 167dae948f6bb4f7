"""Scale transfer: validating at two or more scales records every mixture at each and says whether
the ranking of the mixtures and the recommendation's gain over uniform hold at the largest."""

from __future__ import annotations

import json
import re
import sys
import zlib

import numpy as np
import pytest
from rich.console import Console

from mixsearch.recipe.schema import parse_recipe
from mixsearch.search import validate as va
from mixsearch.search.launch import launch
from mixsearch.search.modelling import fit, recommend
from mixsearch.search.study import Study
from mixsearch.search.transfer import FLIPS, HOLDS, NO_SEEDS, TOO_FEW, UNCLEAR, agreement
from mixsearch.ui.tables import transfer_table
from tests.conftest import TRAINERS, cli, write_recipe

SWITCH = 6000  # training tokens from which the large optimum holds
SMALL = {"code": 0.6, "docs": 0.3, "news": 0.1}
LARGE = {"code": 0.1, "docs": 0.3, "news": 0.6}


def _arms(means: dict[str, float], seeds: int, sd: float, seed: int) -> dict[str, dict[int, float]]:
    rng = np.random.default_rng(seed)
    return {a: {s: m + rng.normal(0, sd) for s in range(seeds)} for a, m in means.items()}


def test_agreement_of_rankings():
    small = _arms({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}, 5, 0.01, 0)
    same = agreement(small, _arms({"a": 0.5, "b": 0.7, "c": 0.9, "d": 1.5}, 5, 0.01, 1), ("s", "l"))
    assert same.spearman == 1 and same.interval == (1, 1) and same.verdict == HOLDS and same.seeds == 5
    flipped = agreement(small, _arms({"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}, 5, 0.01, 1), ("s", "l"))
    assert flipped.spearman == -1 and flipped.verdict == FLIPS
    noisy = agreement(small, _arms({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}, 5, 0.5, 1), ("s", "l"))
    lo, hi = noisy.interval
    assert noisy.verdict == UNCLEAR and lo < 0 < hi and lo <= noisy.spearman <= hi
    two = agreement({"a": {0: 1.0}, "b": {0: 2.0}}, {"a": {0: 1.0}, "b": {0: 2.0}}, ("s", "l"))
    assert two.verdict == TOO_FEW and np.isnan(two.spearman)
    apart = agreement(small, {a: {s + 10: v for s, v in vs.items()} for a, vs in small.items()}, ("s", "l"))
    assert apart.verdict == NO_SEEDS and apart.seeds == 0


def test_overrides_that_give_a_planned_fidelity_are_that_fidelity(recipe_dict, tmp_path):
    recipe_dict["proxy"]["fidelities"] = [{"name": "small", "tokens": 1024}, {"name": "full"}]
    study = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "runs")
    assert va.scale(study, tokens=4096) is study.fidelities["full"]  # the target's budget: its runs, its name
    assert va.scale(study, "full", tokens=1024) is study.fidelities["small"]
    other = va.scale(study, tokens=2048)
    assert other.name.startswith("validate-") and other.train.tokens == 2048 and other.value == 0.5


def scaled_trainer(names: list[str], noise_sd: float):
    """A 'proxy run' whose best mixture is SMALL below SWITCH training tokens and LARGE from it on."""

    def run(spec: dict, data: dict) -> dict:
        optimum = SMALL if spec["train"]["tokens"] < SWITCH else LARGE
        key = [round(spec["mixture"][n], 6) for n in names] + [spec["seed"]]
        noise = np.random.default_rng(zlib.crc32(repr(key).encode())).normal(0, noise_sd)
        loss = 2 + sum((spec["mixture"][n] - optimum[n]) ** 2 for n in names) + float(noise)
        return {"status": "done", "losses": {n: loss for n in names}, "wall_time": 0.01, "tokens": 1}

    return run


@pytest.mark.slow
def test_a_ranking_that_flips_between_scales_is_reported(recipe_dict, tmp_path, ray_local):
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    recipe_dict["objective"] = {"kind": "mean"}
    recipe_dict["search"].update(initial_runs=8, candidates=3000)
    study = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "runs")
    names = study.recipe.domain_names
    trainer = scaled_trainer(names, 0.002)
    study.seed_initial()
    launch(study, fn=trainer)
    rec = recommend(study, fit(study))  # searched at 4096 tokens: toward SMALL
    extra = {"small": np.array([SMALL[n] for n in names]), "large": np.array([LARGE[n] for n in names])}
    scales = [va.scale(study, tokens=4 * SWITCH), va.scale(study)]  # any order: validated smallest first
    result = va.validate(study, rec, seeds=6, fid=scales, extra=extra, fn=trainer)

    assert [v.fidelity for v in result.scales] == ["target", scales[0].name] and result.fidelity == scales[0].name
    assert result.launched["done"] == sum(v.launched["done"] for v in result.scales) > 0
    view = study.store.runs()
    stored = view[view["origin"].str.startswith("validate:")]
    assert set(stored["fidelity"]) == {"target", scales[0].name}  # each arm at each scale, its scale stored
    per_scale = stored.groupby("fidelity").size()
    assert per_scale["target"] == per_scale[scales[0].name] == 6 * len({tuple(w) for w in
                                                                        va.arms(study, rec, extra).values()})
    t = result.transfer
    assert t.larger == scales[0].name and t.order["target"][0] in ("small", "recommendation")
    assert t.order[t.larger][0] == "large" and t.order[t.larger][-1] in ("small", "recommendation")
    (agree,) = t.agreements
    assert agree.smaller == "target" and agree.verdict == FLIPS and agree.interval[1] < 0 and agree.seeds == 6
    assert "natural" not in t.order["target"]  # natural is uniform here (equal token counts): ranked once
    assert t.gains["target"]["verdict"] == "recommendation better"
    assert t.gains[t.larger]["verdict"] == "recommendation worse" and t.gain_holds is False

    doc = json.loads((study.store.root / "validation.json").read_text())
    assert [s["fidelity"] for s in doc["scales"]] == ["target", scales[0].name]
    assert doc["scales"][1]["scale"]["tokens"] == 4 * SWITCH and doc["transfer"]["gain_holds"] is False
    assert doc["transfer"]["agreements"][0]["verdict"] == FLIPS and doc["fidelity"] == scales[0].name
    console = Console(record=True, width=250)
    console.print(transfer_table(t.to_dict()))
    text = console.export_text()
    assert "ranking flips" in text and "the gain over uniform is reversed there" in text


@pytest.mark.slow
def test_validate_at_two_token_budgets_with_a_command_trainer(recipe_dict, tmp_path):
    recipe_dict["proxy"]["trainer"] = {
        "command": f"{sys.executable} {TRAINERS / 'scaled.py'} --config {{config}} --out {{out}}", "timeout": 60,
        "params": {"small": SMALL, "large": LARGE, "switch": SWITCH, "noise": 0.001}}
    recipe_dict["objective"] = {"kind": "mean"}
    recipe_dict["search"].update(initial_runs=6, rounds=0, candidates=2000, surrogate="linear")  # the cheapest fit
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    cli("run", str(recipe), "--json", cwd=tmp_path)
    args = ["validate", str(recipe), "--tokens", "2000", "--tokens", str(2 * SWITCH), "--seeds", "3",
            "--mixture", "small=0.6,0.3,0.1", "--mixture", "large=0.1,0.3,0.6"]
    doc = json.loads(cli(*args, "--json", cwd=tmp_path).stdout)
    assert [s["scale"]["tokens"] for s in doc["scales"]] == [2000, 2 * SWITCH]
    assert doc["scale"]["tokens"] == 2 * SWITCH and doc["launched"]["failed"] == 0
    (agree,) = doc["transfer"]["agreements"]
    assert agree["verdict"] == FLIPS and agree["spearman"] < 0 and agree["seeds"] == 3
    assert doc["transfer"]["order"][doc["transfer"]["larger"]][0] == "large"
    table = cli(*args, cwd=tmp_path).stdout  # every run is reused: nothing trains again
    assert "scale transfer to validate-" in table and "ranking flips" in table
    cli("report", str(recipe), "--out", "r.html", cwd=tmp_path)  # the page shows the transfer too
    page = (tmp_path / "r.html").read_text()
    assert "Scale transfer (largest: validate-" in page and "ranking flips" in page and 'id="fig-ranks"' in page
    assert re.search(r"gain over uniform at the largest scale (holds|does not hold|is not distinguishable)", page)
