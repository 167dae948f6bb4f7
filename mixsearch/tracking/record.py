"""What a tracker receives of a finished run: params, metrics and tags, from its store row."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mixsearch.recipe.schema import Recipe
from mixsearch.store.schema import OBJECTIVE, losses_of, metrics_of, mixture_of


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    params: dict[str, str | float | int]  # mixture (w_<domain>), fidelity, seed, trainer
    metrics: dict[str, float]  # objective(s), loss_<name>, metric_<name>
    tags: dict[str, str]  # study, run id, origin


def _finite(values: dict[str, object], prefix: str) -> dict[str, float]:
    out = {}
    for k, v in values.items():
        try:
            x = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if math.isfinite(x):
            out[prefix + k] = x
    return out


def run_record(row: dict, recipe: Recipe) -> RunRecord:
    """A finished run as params, metrics and tags (missing or non-finite numbers are left out)."""
    trainer = "command" if recipe.proxy.trainer else "builtin"
    if isinstance(row.get("trainer_hash"), str) and row["trainer_hash"]:
        trainer += f":{row['trainer_hash']}"
    params: dict[str, str | float | int] = {f"w_{n}": w for n, w in mixture_of(row, recipe.domain_names).items()}
    fidelity = row.get("fidelity")
    params["fidelity"] = fidelity if isinstance(fidelity, str) and fidelity else "target"
    params["seed"] = int(row["seed"]) if row.get("seed") is not None and math.isfinite(float(row["seed"])) else -1
    params["trainer"] = trainer
    metrics = _finite({"objective": row.get("objective")}, "")
    metrics |= _finite({k[len(OBJECTIVE):]: v for k, v in row.items() if k.startswith(OBJECTIVE)}, OBJECTIVE)
    metrics |= _finite(losses_of(row), "loss_") | _finite(metrics_of(row), "metric_")
    tags = {"mixsearch.study": recipe.study, "mixsearch.run_id": str(row["run_id"]),
            "mixsearch.origin": str(row.get("origin") or "")}
    return RunRecord(str(row["run_id"]), params, metrics, tags)
