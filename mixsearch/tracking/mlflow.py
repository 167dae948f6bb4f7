"""Logging runs to MLflow (a tracking server or a local store) with its client; imported only when
the recipe names MLflow. Requests fail fast instead of retrying: an unreachable server is retried
by a later command, never waited on."""

from __future__ import annotations

import os
import time

from mixsearch.recipe.tracking import MLflow
from mixsearch.tracking.record import RunRecord

STUDY_TAG, RUN_TAG = "mixsearch.study", "mixsearch.run_id"
PAGE = 1000


class MLflowSink:
    """One experiment of one tracking URI."""

    def __init__(self, cfg: MLflow, study: str) -> None:
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=cfg.uri)
        self.study = study
        name = cfg.experiment or study
        exp = self.client.get_experiment_by_name(name)
        self.experiment = exp.experiment_id if exp is not None else self.client.create_experiment(name)
        self.key = f"{cfg.uri}#{name}"

    def logged(self) -> set[str]:
        """The ids of this study's runs the experiment already has (found by their tags)."""
        found: set[str] = set()
        token = None
        while True:
            page = self.client.search_runs([self.experiment], f"tags.`{STUDY_TAG}` = '{self.study}'",
                                           max_results=PAGE, page_token=token)
            found |= {r.data.tags.get(RUN_TAG, "") for r in page}
            token = page.token
            if not token:
                return found

    def log(self, rec: RunRecord) -> None:
        from mlflow.entities import Metric, Param, RunTag

        run = self.client.create_run(self.experiment, run_name=rec.run_id[:12],
                                     tags={**rec.tags, "mlflow.runName": rec.run_id[:12]})
        stamp = int(time.time() * 1000)
        self.client.log_batch(run.info.run_id, metrics=[Metric(k, v, stamp, 0) for k, v in rec.metrics.items()],
                              params=[Param(k, str(v)) for k, v in rec.params.items()],
                              tags=[RunTag(k, v) for k, v in rec.tags.items()])
        self.client.set_terminated(run.info.run_id)
