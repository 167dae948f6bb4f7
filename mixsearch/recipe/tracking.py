"""The recipe's `tracking` section: experiment trackers each finished run is logged to (optional
extras: `pip install mixsearch[mlflow]`, `mixsearch[wandb]`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mixsearch.recipe.base import Strict


class MLflow(Strict):
    """Log each finished run to MLflow: params mixture, fidelity, seed, trainer; metrics every loss
    and metric and the objective; tags study, run id, origin."""

    uri: str = Field(min_length=1, description="tracking URI: http://host:5000 or a local "
                                                "store, sqlite:///path/mlflow.db")
    experiment: str | None = Field(None, min_length=1, description="experiment name (default: the study's "
                                                                   "name; created when missing)")


class WandB(Strict):
    """Log each finished run to Weights & Biases as one W&B run (config: mixture, fidelity, seed,
    trainer; summary: every loss and metric and the objective; tags: study and origin)."""

    project: str = Field(min_length=1, description="W&B project")
    entity: str | None = Field(None, description="W&B entity (team or user; default: the logged-in user's)")
    mode: Literal["online", "offline"] = Field("online", description="offline: runs are written under "
                                               "runs/<study>/wandb (or $WANDB_DIR) for `wandb sync`")


class Tracking(Strict):
    """Experiment trackers that receive each finished run once, after the command that trained it
    (a tracker that cannot be reached is a warning; its runs are logged by a later command)."""

    mlflow: MLflow | None = Field(None, description="MLflow tracking server or local store")
    wandb: WandB | None = Field(None, description="Weights & Biases project")
