"""The recipe's proxy side: model and training settings, resources, fidelities, a command trainer."""

from __future__ import annotations

import shlex
from typing import Any, Literal

from pydantic import Field, model_validator

from mixsearch.recipe.base import BIG, NAME_MAX, NAME_PATTERN, Int, Strict


MAX_LAYERS = 1_000  # model sizes far beyond any proxy, yet whose parameter counts fit in int64
MAX_WIDTH = 100_000
MAX_CONTEXT = 10_000_000
MAX_STEPS = 10**9
MAX_DEVICES = 4_096
MAX_TIMEOUT_S = 365 * 86_400


class Model(Strict):
    layers: Int = Field(2, ge=1, le=MAX_LAYERS)
    width: Int = Field(128, ge=8, le=MAX_WIDTH)
    heads: Int = Field(4, ge=1, le=MAX_WIDTH)
    context: Int = Field(128, ge=8, le=MAX_CONTEXT)
    mlp: Int | None = Field(None, ge=8, le=4 * MAX_WIDTH, description="MLP hidden size, default 4 x width")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "Model":
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        return self


class Train(Strict):
    tokens: Int = Field(200_000, gt=0, le=BIG, description="training tokens per run")
    batch_size: Int = Field(16, ge=1, le=MAX_STEPS)
    lr: float = Field(2e-3, gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    warmup_steps: Int = Field(20, ge=0, le=MAX_STEPS)
    schedule: Literal["cosine", "constant"] = "cosine"
    weight_decay: float = Field(0.1, ge=0)
    beta1: float = Field(0.9, gt=0, lt=1)
    beta2: float = Field(0.95, gt=0, lt=1)
    grad_clip: float = Field(1.0, gt=0)
    eval_tokens: Int = Field(16_384, gt=0, le=BIG, description="validation tokens per domain")
    report_units: Literal["nats", "bpb"] = Field(
        "nats", description="units of every loss: nats per token, or bits per byte (comparable across tokenizers); "
                            "task eval sets are always in bits per byte")
    eval_every: Int | None = Field(None, gt=0, le=MAX_STEPS, description="steps between interim evals")
    compile: bool | Literal["auto"] = Field(
        False, description="torch.compile the training step, once per worker and shape (auto: on CUDA for long runs)")


class Resources(Strict):
    num_cpus: float = Field(1.0, gt=0, le=MAX_DEVICES)
    num_gpus: float = Field(0.0, ge=0, le=MAX_DEVICES, description="fraction of a GPU per task, e.g. 0.25")
    runs_per_gpu: Int | Literal["auto"] | None = Field(
        None, description="pack tasks on a GPU: num_gpus = 1/runs_per_gpu (auto: from memory)")
    ensemble: Int | Literal["auto"] = Field(
        1, description="train this many runs of one fidelity as one batched model per task (auto: from memory)")
    retries: Int = Field(2, ge=0, le=100, description="retries of a task that raised or whose worker died")
    runtime_env: dict[str, Any] = Field(
        {}, description="Ray runtime_env of the workers that train runs, e.g. {pip: [...], env_vars: {...}} "
                        "(docs/cluster.md); empty: each node's own environment")

    @model_validator(mode="after")
    def _positive(self) -> "Resources":
        for name in ("runs_per_gpu", "ensemble"):
            value = getattr(self, name)
            if isinstance(value, int) and not 1 <= value <= MAX_DEVICES:
                raise ValueError(f"{name} must be auto or from 1 to {MAX_DEVICES}")
        return self


class Fidelity(Strict):
    """One proxy size / token budget; fields left out take the proxy's model and train values."""

    name: str = Field(pattern=NAME_PATTERN, max_length=NAME_MAX)
    tokens: Int | None = Field(None, gt=0, le=BIG)
    layers: Int | None = Field(None, ge=1, le=MAX_LAYERS)
    width: Int | None = Field(None, ge=8, le=MAX_WIDTH)
    heads: Int | None = Field(None, ge=1, le=MAX_WIDTH)
    mlp: Int | None = Field(None, ge=8, le=4 * MAX_WIDTH)
    cost: float | None = Field(None, gt=0, description="relative cost; default params x tokens")


class Trainer(Strict):
    """Your own training program as the proxy run (instead of the built-in GPT)."""

    command: str = Field(description="run per run, no shell: {config} {out} {run_id} {python} are filled in")
    timeout: float = Field(3600, gt=0, le=MAX_TIMEOUT_S,
                           description="seconds before the command's process group is killed")
    env: dict[str, str] = Field({}, description="extra environment variables for the command")
    params: dict[str, Any] = Field({}, description="passed through to the command in its config JSON")
    data: Literal["tokens", "raw"] = Field(
        "tokens", description="tokens: mixsearch tokenizes and passes token files; raw: source paths only")

    @model_validator(mode="after")
    def _command_parses(self) -> "Trainer":
        try:
            argv = shlex.split(self.command)
        except ValueError as exc:
            raise ValueError(f"command: {exc}") from None
        if not argv:
            raise ValueError("command is empty")
        return self


class Proxy(Strict):
    trainer: Trainer | None = Field(None, description="an external command trainer; default: the built-in GPT")
    model: Model = Model()
    train: Train = Train()
    resources: Resources = Resources()
    fidelities: list[Fidelity] = Field([], description="proxy sizes/budgets; the last is the target")

    def fidelity_configs(self) -> list[tuple[str, Model, Train, float | None]]:
        """(name, model, train, cost) per fidelity, cheapest first; the last is the target."""
        if not self.fidelities:
            return [("target", self.model, self.train, None)]
        out = []
        for f in self.fidelities:
            arch = {k: v for k in ("layers", "width", "heads", "mlp") if (v := getattr(f, k)) is not None}
            model = Model.model_validate({**self.model.model_dump(), **arch})
            train = self.train.model_copy(update={"tokens": f.tokens or self.train.tokens})
            out.append((f.name, model, train, f.cost))
        return out

    @model_validator(mode="after")
    def _fidelities_valid(self) -> "Proxy":
        names = [f.name for f in self.fidelities]
        if len(set(names)) != len(names):
            raise ValueError("fidelity names must be unique")
        for f in self.fidelities:
            heads, width = f.heads or self.model.heads, f.width or self.model.width
            if width % heads:
                raise ValueError(f"fidelity {f.name}: width {width} is not divisible by heads {heads}")
        return self
