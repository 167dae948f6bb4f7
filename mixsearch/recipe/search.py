"""The recipe's search side: objectives, mixture constraints, sampling, the search and its budget."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mixsearch.recipe.base import BIG, Int, Strict, WeightRange

MAX_RUNS = 100_000  # runs of one round or of a study's search settings
MAX_CANDIDATES = 10**7


class Objective(Strict):
    """What the search optimises: a loss-based kind, or any metric the trainer reports."""

    kind: Literal["domain", "mean", "eval", "metric"] = "mean"
    target: str | None = Field(None, description="domain (kind=domain) or eval set (kind=eval)")
    over: list[str] | None = Field(None, min_length=1, description="kind=mean: the domains and eval sets (text or "
                                                                   "task) averaged; default: every domain")
    weights: dict[str, float] | None = Field(None, description="kind=mean: a weight per name (those of `over`, "
                                                               "1 when left out), normalised to sum to one")
    metric: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:/-]+$",
                               description="kind=metric: a metric name the trainer reports (or an imported column)")
    direction: Literal["minimize", "maximize"] = "minimize"

    @model_validator(mode="before")
    @classmethod
    def _metric_implies_kind(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("metric") is not None and "kind" not in data:
            data = {**data, "kind": "metric"}
        return data

    @property
    def sign(self) -> float:
        """+1 to minimise, -1 to maximise: internal values are sign x the user's value."""
        return -1.0 if self.direction == "maximize" else 1.0

    @property
    def label(self) -> str:
        name = self.metric if self.kind == "metric" else (f"{self.kind}:{self.target}" if self.target else
                                                          f"mean:{'+'.join(self.over)}" if self.over else self.kind)
        return f"{name} (max)" if self.direction == "maximize" else name

    @model_validator(mode="after")
    def _target_given(self) -> "Objective":
        if self.kind in ("domain", "eval") and not self.target:
            raise ValueError(f"kind={self.kind} needs a target")
        if self.kind != "mean" and (self.over or self.weights):
            raise ValueError("over and weights go with kind=mean")
        if any(w < 0 for w in (self.weights or {}).values()) or (self.weights and not sum(self.weights.values()) > 0):
            raise ValueError("weights must be >= 0 with a positive sum")
        if (self.kind == "metric") != (self.metric is not None):
            raise ValueError("kind=metric goes with a metric name (and a metric with kind=metric)")
        return self


class Bounds(WeightRange):
    """A domain's weight bounds in every mixture, and its epoch cap."""

    max_epochs: float | None = Field(None, gt=0)


class Constraints(Strict):
    max_epochs: float | None = Field(None, gt=0, description="default epoch cap for every domain")
    final_tokens: Int | None = Field(None, gt=0, le=BIG, description="tokens of the final training run: epoch caps "
                                                            "hold at this budget too")
    domains: dict[str, Bounds] = {}


class Sampling(Strict):
    method: Literal["dirichlet", "uniform", "sobol"] = "dirichlet"
    prior_power: float = Field(0.5, ge=0)
    concentration_min: float = Field(0.1, gt=0)
    concentration_max: float = Field(5.0, gt=0)
    concentration_steps: Int = Field(15, ge=1, le=1_000)
    max_prior_multiple: float | None = Field(15.0, gt=0)
    min_weight: float = Field(2e-4, ge=0, lt=0.1, description="smaller weights become 0")


class Replicates(Strict):
    """Mixtures of the first round trained with several seeds, to measure seed noise."""

    mixtures: Int = Field(4, ge=1, le=1_000, description="uniform, natural, then initial samples")
    seeds: Int = Field(3, ge=2, le=1_000)


class Search(Strict):
    initial_runs: Int = Field(16, ge=4, le=MAX_RUNS, description="at least 4: a surrogate needs them")
    batch_size: Int = Field(4, ge=1, le=MAX_RUNS, description="proposals per round")
    rounds: Int = Field(1, ge=0, le=MAX_RUNS)
    surrogate: Literal["auto", "linear", "loglinear", "lightgbm", "mixing_law", "bimix", "gp", "mfgp"] = "auto"
    proposer: Literal["regmix", "argmin", "optimize", "bo", "mfbo", "mfar", "tpe", "cmaes", "qmc", "motpe", "nsga2"] = "regmix"
    initial_fidelities: list[str] | None = Field(None, description="fidelities of the initial runs; default: the target")
    mf_acquisition: Literal["gibbon", "mes", "kg"] = Field(
        "gibbon", description="mfbo: GIBBON, max-value entropy, or knowledge gradient (minutes per batch on 2 cores)")
    candidates: Int = Field(100_000, ge=100, le=MAX_CANDIDATES)
    top_k: Int = Field(128, ge=1, le=MAX_CANDIDATES)
    cv_folds: Int = Field(5, ge=2, le=1_000)
    fit_budget_s: float | None = Field(None, gt=0, description="auto: skip a surrogate whose cross-validation "
                                                                  "and fit would take longer (seconds)")
    sampling: Sampling = Sampling()
    replicates: Replicates | None = Field(None, description="measure seed noise in the first round")
    min_distance: float = Field(0.05, ge=0, le=2, description="least L1 distance between proposals of a batch "
                                                             "and from open (regression proposers: and completed) runs")
    kl_to_natural: float = Field(0.0, ge=0, description="penalty x KL(mixture || natural) added to the "
                                                       "predicted objective when choosing mixtures")


class BudgetSpec(Strict):
    """Study-wide limits; a sweep stops launching runs once one is reached."""

    hours: float | None = Field(None, gt=0, description="device-hours: GPU-hours if runs use GPUs, else CPU-hours")
    tokens: Int | None = Field(None, gt=0, le=10**18, description="training tokens over all runs")
