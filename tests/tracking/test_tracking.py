"""Finished runs in the researchers' trackers, against the real libraries: MLflow's local file
store (sqlite) and W&B in offline mode. Each run is logged once across re-runs (also when the record of
what was logged is lost, for MLflow), and an unreachable tracker is one warning, retried later."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest

from mixsearch.recipe.schema import parse_recipe
from mixsearch.tracking.sync import LEDGER, sync
from tests.report.conftest import add_runs, imported_study


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory) -> str:
    """One local MLflow store for the module (creating its tables takes seconds); tests use their own experiments."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def _mlflow_runs(uri: str, experiment: str):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=1000)


def test_runs_are_logged_to_mlflow_once_with_params_metrics_and_tags(tmp_path, mlflow_uri):
    uri = mlflow_uri
    study, _ = imported_study(tmp_path, n=6, fitted=False, tracking={"mlflow": {"uri": uri, "experiment": "mix"}})
    assert sync(study.recipe, study.store) == {"mlflow": 6}
    runs = _mlflow_runs(uri, "mix")
    assert len(runs) == 6
    view = study.store.runs().set_index("run_id")
    for run in runs:
        rid = run.data.tags["mixsearch.run_id"]
        row = view.loc[rid]
        assert run.data.tags["mixsearch.study"] == "page" and run.data.tags["mixsearch.origin"] == row["origin"]
        assert {k: float(run.data.params[f"w_{k}"]) for k in ("web", "code", "books")} == pytest.approx(
            {k: row[f"w_{k}"] for k in ("web", "code", "books")})
        assert {"fidelity", "seed", "trainer"} <= set(run.data.params)
        assert run.data.metrics["objective"] == pytest.approx(row["objective"])
        assert run.data.metrics["loss_web"] == pytest.approx(row["loss_web"])
        assert run.info.status == "FINISHED"

    assert sync(study.recipe, study.store) == {"mlflow": 0}  # a re-run logs nothing again
    (study.store.root / LEDGER).unlink()  # the record lost: MLflow's tags still say what it has
    assert sync(study.recipe, study.store) == {"mlflow": 0}
    add_runs(study, tmp_path, np.array([[0.2, 0.3, 0.5]]), [3.4], "later")
    assert sync(study.recipe, study.store) == {"mlflow": 1}
    assert len(_mlflow_runs(uri, "mix")) == 7


def test_runs_are_logged_to_wandb_offline_once(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    (tmp_path / "wb").mkdir()
    study, _ = imported_study(tmp_path, n=3, fitted=False, tracking={"wandb": {"project": "mix", "mode": "offline"}})
    assert sync(study.recipe, study.store) == {"wandb": 3}
    offline = sorted((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    assert len(offline) == 3 and all(list(d.glob("run-page-*.wandb")) for d in offline)
    assert sync(study.recipe, study.store) == {"wandb": 0}
    assert len(list((tmp_path / "wb" / "wandb").glob("offline-run-*"))) == 3
    ledger = json.loads((study.store.root / LEDGER).read_text())
    assert sorted(ledger["wandb"]["/mix#offline"]) == sorted(study.store.runs()["run_id"])


def test_an_unreachable_tracker_warns_once_and_is_retried_by_the_next_command(tmp_path, capsys, mlflow_uri):
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    study, _ = imported_study(tmp_path, n=4, fitted=False,
                              tracking={"mlflow": {"uri": f"http://127.0.0.1:{port}", "experiment": "mix"}})
    assert sync(study.recipe, study.store) == {"mlflow": 0}
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: tracking.mlflow: could not log runs (")
    assert err[0].endswith("4 run(s) are left for the next command")
    uri = mlflow_uri  # the tracker is back (here: a local store)
    data = study.recipe.model_dump(mode="json", exclude_none=True)
    data["tracking"]["mlflow"]["uri"] = uri
    data["tracking"]["mlflow"]["experiment"] = "retried"
    assert sync(parse_recipe(data, "page.yaml"), study.store) == {"mlflow": 4}
    assert len(_mlflow_runs(uri, "retried")) == 4
