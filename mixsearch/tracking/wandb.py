"""Logging runs to Weights & Biases, one W&B run per finished run; imported only when the recipe
names W&B. The W&B run id is derived from the study and run id, so a run synced twice is the same
W&B run."""

from __future__ import annotations

import os
import re
from pathlib import Path

from mixsearch.hashing import stable_hash
from mixsearch.recipe.tracking import WandB
from mixsearch.tracking.record import RunRecord

INIT_TIMEOUT_S = 30  # an online W&B that does not answer: give up, a later command retries


def wandb_id(study: str, run_id: str) -> str:
    """A W&B run id (letters, digits, - and _; unique per project) for the study's run."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', study)[:40]}-{stable_hash([study, run_id])[:16]}"


class WandbSink:
    """One W&B project; offline runs go to $WANDB_DIR or the study's directory."""

    def __init__(self, cfg: WandB, study: str, root: Path) -> None:
        import wandb

        self.wandb, self.cfg, self.study = wandb, cfg, study
        self.dir = os.environ.get("WANDB_DIR") or str(root)
        self.key = f"{cfg.entity or ''}/{cfg.project}#{cfg.mode}"

    def logged(self) -> set[str]:
        """Runs already in W&B are known from the ledger alone (offline W&B cannot be asked)."""
        return set()

    def log(self, rec: RunRecord) -> None:
        wandb = self.wandb
        settings = wandb.Settings(init_timeout=INIT_TIMEOUT_S, silent=True, console="off")
        run = wandb.init(project=self.cfg.project, entity=self.cfg.entity, mode=self.cfg.mode,
                         id=wandb_id(self.study, rec.run_id), name=rec.run_id[:12], group=self.study,
                         job_type=rec.tags["mixsearch.origin"].split(":")[0] or None, dir=self.dir,
                         config={**rec.params, **rec.tags}, reinit="create_new", resume="allow",
                         tags=[f"study:{self.study}", f"origin:{rec.tags['mixsearch.origin']}"[:64]],
                         settings=settings)
        try:
            run.log(rec.metrics)
        finally:
            run.finish()
