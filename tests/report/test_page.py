"""The study's page as `report` writes it: sections in order, those that do not apply left out, the
validated mixture and a moved recommendation both visible, nothing fetched from the network, and
nothing written but the HTML file."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np

from mixsearch.report.html import write_report
from mixsearch.report.page import build, fingerprint
from mixsearch.search import answer
from mixsearch.search.modelling import fit, recommend
from tests.report.conftest import add_runs


def _titles(page: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", page)


def _files(root) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_a_fit_only_study_shows_what_applies_and_nothing_empty(page_study, tmp_path):
    study, path = page_study
    before = _files(study.store.root)
    page = write_report(study, tmp_path / "out" / "r.html", str(path)).read_text()
    assert _files(study.store.root) == before  # a reader writes nothing in the study
    assert _titles(page) == ["Recommendation", "Objective against each domain&#x27;s weight", "Search history",
                             "Surrogate", "Runs", "Recipe, data and versions"]  # one fidelity, one objective
    assert "fidelity nan" not in page and "Fidelities" not in page
    assert "set search.replicates" not in page  # imported runs: no seeds to add
    assert "seed noise not measured" in page
    history = json.loads(re.search(r'id="fig-history" data-fig="([^"]*)"', page).group(1).replace("&quot;", '"'))
    assert "xaxis2" not in history["layout"]  # no device-hours panel: imported runs counted none
    assert 'id="fig-path"' not in page  # one recommendation: no path over the study
    assert not re.search(r"<script[^>]*\bsrc=", page)  # the plotting library is inlined: no network
    assert re.search(r'<div class="scroll"><table id="table-runs" class="sortable">', page)


def test_the_page_shows_the_validated_mixture_and_a_moved_recommendation(page_study, tmp_path):
    study, path = page_study
    names = study.recipe.domain_names
    rec = answer.state(study.store.root).recommendation
    arms = [{"name": "recommendation", "mixture": rec.mixture, "mean": 3.0, "sd": 0.01,
             "values": {"1000": 2.99, "1001": 3.01}},
            {"name": "uniform", "mixture": dict(zip(names, [1 / 3] * 3)), "mean": 3.2, "sd": 0.01,
             "values": {"1000": 3.19, "1001": 3.21}}]
    doc = {"recommendation_id": rec.id, "recommendation": rec.to_dict(), "fidelity": "target", "seeds": [1000, 1001],
           "mixtures": arms, "comparisons": [{"name": "uniform", "diff": 0.2, "interval": [0.1, 0.3], "seeds": 2,
                                               "verdict": "not distinguishable", "wilcoxon_p": 0.5}]}
    (study.store.root / answer.VALIDATION).write_text(json.dumps(doc))
    same = recommend(study, fit(study, "loglinear"), stability=False)  # a corner too: the same mixture
    assert same.id != rec.id and same.distance(rec) < 0.01
    page = write_report(study, tmp_path / "r.html", str(path)).read_text()
    assert f"A later fit ({same.id}, on 24 runs) recommends the same mixture" in page
    assert "The recommendation moved" not in page
    later = replace(rec, mixture=dict(zip(names, [0.5, 0.3, 0.2])), runs=25, id="", created="").identified()
    answer.record(study.store.root, later)  # as a fit on one more run would

    page = write_report(study, tmp_path / "r.html", str(path)).read_text()
    first = page.split("<h2>")[1]
    assert first.startswith("Recommendation")
    assert "The recommendation moved" in first and later.id in first and rec.id in first
    assert first.index("(validated)") < first.index("A later fit&#x27;s recommendation (not validated)")
    validation = first[first.index("Validation at fidelity"):]
    cells = re.findall(r"<td>(.*?)</td>", validation.split("</table>")[0])
    assert cells[:4] == ["recommendation", *[f"{rec.mixture[n]:.4f}" for n in names]]  # the mixture it validated
    assert 'id="fig-gains"' in first and 'id="fig-path"' in first  # three recommendations recorded


def test_the_fingerprint_moves_when_a_run_lands_and_the_page_shows_it(page_study, tmp_path):
    study, _ = page_study
    mark = fingerprint(study)
    assert fingerprint(study) == mark
    ids = add_runs(study, tmp_path, np.array([[0.2, 0.3, 0.5]]), [3.5], "landed")
    assert fingerprint(study) != mark
    runs = next(s for s in build(study, "page.yaml") if s.key == "runs")
    assert ids[0][:12] in runs.html


def test_imported_runs_at_fewer_tokens_are_a_cheaper_fidelity_beside_the_target(page_study, tmp_path):
    study, path = page_study
    runs = study.completed()
    W = runs[[f"w_{n}" for n in study.recipe.domain_names]].to_numpy()
    cheap = study.recipe.proxy.train.tokens // 4
    add_runs(study, tmp_path, W, list(runs["objective"] + 0.5), "cheap", tokens=cheap)  # the same order
    page = write_report(study, tmp_path / "r.html", str(path)).read_text()
    assert "<h2>Fidelity agreement</h2>" in page and "0.25 of the target: Spearman 1.00" in page
