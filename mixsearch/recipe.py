"""Recipe: the YAML file that describes a study, validated with pydantic."""

from __future__ import annotations

from pathlib import Path
import shlex
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mixsearch.errors import UserError

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"


class Strict(BaseModel):
    """Base model: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid")


class Source(Strict):
    """Where a domain's text lives: exactly one of files, jsonl, parquet, or tokens (pre-tokenized)."""

    files: list[str] | None = Field(None, description="glob patterns of text files")
    jsonl: str | None = Field(None, description="path or glob of JSONL files")
    field: str = Field("text", description="JSONL field holding the text")
    parquet: str | None = Field(None, description="path or glob of Parquet files")
    column: str = Field("text", description="Parquet column holding the text")
    tokens: str | None = Field(None, description="path or glob of pre-tokenized flat .bin arrays or .npy files")
    dtype: Literal["uint16", "uint32"] = Field("uint16", description="tokens: element type of the .bin files")

    @model_validator(mode="before")
    @classmethod
    def _files_as_list(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("files"), str):
            data = {**data, "files": [data["files"]]}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> "Source":
        given = [k for k in ("files", "jsonl", "parquet", "tokens") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of files, jsonl, parquet, tokens")
        return self


class Fetch(Strict):
    """Download a package without installing it and extract plain text from it."""

    pip: str | None = Field(None, description="pip requirement, e.g. sympy==1.14.0")
    apt: list[str] | None = Field(None, description="Debian package names")
    include: list[str] = Field(description="glob patterns of archive members to keep")
    exclude: list[str] = []
    format: Literal["text", "chitchat"] = "text"
    max_bytes: int = Field(3_000_000, gt=0, description="cap on extracted text per domain")

    @model_validator(mode="before")
    @classmethod
    def _apt_as_list(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("apt"), str):
            data = {**data, "apt": [data["apt"]]}
        return data

    @model_validator(mode="after")
    def _one_package_kind(self) -> "Fetch":
        if bool(self.pip) == bool(self.apt):
            raise ValueError("give exactly one of pip, apt")
        return self


class Domain(Strict):
    """A named body of text: a training domain or a held-out evaluation set."""

    name: str = Field(pattern=NAME_PATTERN)
    source: Source | None = None
    fetch: Fetch | None = None
    tokens: int | None = Field(None, gt=0, description="fit-only studies (no source): the domain's token "
                                                        "count, for the sampling prior and epoch caps")

    @property
    def has_text(self) -> bool:
        return self.source is not None or self.fetch is not None

    @model_validator(mode="after")
    def _tokens_without_text(self) -> "Domain":
        if self.tokens is not None and self.has_text:
            raise ValueError("tokens is for domains without a source (fit-only studies); "
                             "a source's token count is measured")
        return self


class Tokenizer(Strict):
    kind: Literal["byte", "bpe", "file"] = "byte"
    vocab_size: int = Field(2048, ge=300, le=65535, description="BPE only")
    train_bytes: int = Field(4_000_000, gt=0, description="BPE only: text sampled to train it")
    path: str | None = Field(None, description="file: a Hugging Face tokenizers JSON file (tokenizer.json)")
    eos: str | None = Field(None, description="file: the document separator token; default: the first of "
                                              "<|endoftext|>, <|end_of_text|>, </s>, <|eot|>, <eos>, <|im_end|>, "
                                              "[SEP] it has, else none")

    @model_validator(mode="after")
    def _path_for_file(self) -> "Tokenizer":
        if (self.kind == "file") != (self.path is not None):
            raise ValueError("kind=file goes with a path (and a path with kind=file)")
        return self


class Data(Strict):
    raw_dir: str = "data/raw"
    cache_dir: str = ".cache/mixsearch"
    val_fraction: float = Field(0.1, gt=0, lt=0.5)
    max_tokens_per_domain: int | None = Field(None, gt=0)
    max_decode_errors: float = Field(0.001, ge=0, le=1, description="largest fraction of a domain's bytes "
                                                                     "that may be invalid UTF-8")


class Model(Strict):
    layers: int = Field(2, ge=1)
    width: int = Field(128, ge=8)
    heads: int = Field(4, ge=1)
    context: int = Field(128, ge=8)
    mlp: int | None = Field(None, ge=8, description="MLP hidden size, default 4 x width")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "Model":
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        return self


class Train(Strict):
    tokens: int = Field(200_000, gt=0, description="training tokens per run")
    batch_size: int = Field(16, ge=1)
    lr: float = Field(2e-3, gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    warmup_steps: int = Field(20, ge=0)
    schedule: Literal["cosine", "constant"] = "cosine"
    weight_decay: float = Field(0.1, ge=0)
    beta1: float = Field(0.9, gt=0, lt=1)
    beta2: float = Field(0.95, gt=0, lt=1)
    grad_clip: float = Field(1.0, gt=0)
    eval_tokens: int = Field(16_384, gt=0, description="validation tokens per domain")
    eval_every: int | None = Field(None, gt=0, description="steps between interim evals")
    compile: bool | Literal["auto"] = Field(
        False, description="torch.compile the training step, once per worker and shape (auto: on CUDA for long runs)")


class Resources(Strict):
    num_cpus: float = Field(1.0, gt=0)
    num_gpus: float = Field(0.0, ge=0, description="fraction of a GPU per task, e.g. 0.25")
    runs_per_gpu: int | Literal["auto"] | None = Field(
        None, description="pack tasks on a GPU: num_gpus = 1/runs_per_gpu (auto: from memory)")
    ensemble: int | Literal["auto"] = Field(
        1, description="train this many runs of one fidelity as one batched model per task (auto: from memory)")
    retries: int = Field(2, ge=0, description="retries of a task that raised or whose worker died")

    @model_validator(mode="after")
    def _positive(self) -> "Resources":
        for name in ("runs_per_gpu", "ensemble"):
            value = getattr(self, name)
            if isinstance(value, int) and value < 1:
                raise ValueError(f"{name} must be >= 1 or auto")
        return self


class Fidelity(Strict):
    """One proxy size / token budget; fields left out take the proxy's model and train values."""

    name: str = Field(pattern=NAME_PATTERN)
    tokens: int | None = Field(None, gt=0)
    layers: int | None = Field(None, ge=1)
    width: int | None = Field(None, ge=8)
    heads: int | None = Field(None, ge=1)
    mlp: int | None = Field(None, ge=8)
    cost: float | None = Field(None, gt=0, description="relative cost; default params x tokens")


class Trainer(Strict):
    """Your own training program as the proxy run (instead of the built-in GPT)."""

    command: str = Field(description="run per run, no shell: {config} {out} {run_id} {python} are filled in")
    timeout: float = Field(3600, gt=0, description="seconds before the command's process group is killed")
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


class Objective(Strict):
    """What the search optimises: a loss-based kind, or any metric the trainer reports."""

    kind: Literal["domain", "mean", "eval", "metric"] = "mean"
    target: str | None = Field(None, description="domain (kind=domain) or eval set (kind=eval)")
    weights: dict[str, float] | None = Field(None, description="kind=mean: weights per domain")
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
        name = self.metric if self.kind == "metric" else (f"{self.kind}:{self.target}" if self.target else self.kind)
        return f"{name} (max)" if self.direction == "maximize" else name

    @model_validator(mode="after")
    def _target_given(self) -> "Objective":
        if self.kind in ("domain", "eval") and not self.target:
            raise ValueError(f"kind={self.kind} needs a target")
        if (self.kind == "metric") != (self.metric is not None):
            raise ValueError("kind=metric goes with a metric name (and a metric with kind=metric)")
        return self


class Bounds(Strict):
    min: float = Field(0.0, ge=0, le=1)
    max: float = Field(1.0, ge=0, le=1)
    max_epochs: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "Bounds":
        if self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max}")
        return self


class Constraints(Strict):
    max_epochs: float | None = Field(None, gt=0, description="default epoch cap for every domain")
    final_tokens: int | None = Field(None, gt=0, description="tokens of the final training run: epoch caps "
                                                            "hold at this budget too")
    domains: dict[str, Bounds] = {}


class Sampling(Strict):
    method: Literal["dirichlet", "uniform", "sobol"] = "dirichlet"
    prior_power: float = Field(0.5, ge=0)
    concentration_min: float = Field(0.1, gt=0)
    concentration_max: float = Field(5.0, gt=0)
    concentration_steps: int = Field(15, ge=1)
    max_prior_multiple: float | None = Field(15.0, gt=0)
    min_weight: float = Field(2e-4, ge=0, lt=0.1, description="smaller weights become 0")


class Replicates(Strict):
    """Mixtures of the first round trained with several seeds, to measure seed noise."""

    mixtures: int = Field(4, ge=1, description="uniform, natural, then initial samples")
    seeds: int = Field(3, ge=2)


class Search(Strict):
    initial_runs: int = Field(16, ge=4, description="at least 4: a surrogate needs them")
    batch_size: int = Field(4, ge=1, description="proposals per round")
    rounds: int = Field(1, ge=0)
    surrogate: Literal["auto", "linear", "loglinear", "lightgbm", "mixing_law", "bimix", "gp", "mfgp"] = "auto"
    proposer: Literal["regmix", "argmin", "optimize", "bo", "mfbo", "mfar", "tpe", "cmaes", "qmc", "motpe", "nsga2"] = "regmix"
    initial_fidelities: list[str] | None = Field(None, description="fidelities of the initial runs; default: the target")
    mf_acquisition: Literal["gibbon", "mes", "kg"] = Field(
        "gibbon", description="mfbo: GIBBON, max-value entropy, or knowledge gradient (minutes per batch on 2 cores)")
    candidates: int = Field(100_000, ge=100)
    top_k: int = Field(128, ge=1)
    cv_folds: int = Field(5, ge=2)
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
    tokens: int | None = Field(None, gt=0, description="training tokens over all runs")


class Recipe(Strict):
    study: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    seed: int = 0
    domains: list[Domain] = Field(min_length=2)
    eval_sets: list[Domain] = []
    tokenizer: Tokenizer = Tokenizer()
    data: Data = Data()
    proxy: Proxy = Proxy()
    objective: Objective = Objective()
    objectives: list[Objective] = Field([], description="two or more: a multi-objective (Pareto) search; "
                                                         "the first is also `objective`")
    constraints: Constraints = Constraints()
    search: Search = Search()
    budget: BudgetSpec = BudgetSpec()

    @property
    def domain_names(self) -> list[str]:
        return [d.name for d in self.domains]

    @property
    def fit_only(self) -> bool:
        """No domain has text: a study of imported runs; nothing is tokenized or trained."""
        return not any(d.has_text for d in self.domains + self.eval_sets)

    @property
    def objective_list(self) -> list[Objective]:
        """What the search minimises: one objective, or several for a Pareto search."""
        return self.objectives or [self.objective]

    @model_validator(mode="after")
    def _consistent(self) -> "Recipe":
        names = self.domain_names + [e.name for e in self.eval_sets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate domain/eval_set names: {', '.join(dupes)}")
        domains = set(self.domain_names)
        evals = {e.name for e in self.eval_sets}
        textless = [d.name for d in self.domains + self.eval_sets if not d.has_text]
        if textless and not self.fit_only:
            raise ValueError(f"no source for {', '.join(textless)}: give every domain and eval set a source "
                             "(or a fetch), or none for a fit-only study of imported runs")
        counted = [d.name for d in self.domains if d.tokens is not None]
        if counted and len(counted) < len(self.domains):
            raise ValueError("give tokens for every domain or for none (none: a uniform prior)")
        if len(self.objectives) == 1:
            raise ValueError("objectives needs two or more entries (use objective for one)")
        for field_name, obj in [("objective", self.objective)] + [(f"objectives[{i}]", o)
                                                                  for i, o in enumerate(self.objectives)]:
            if obj.kind == "domain" and obj.target not in domains:
                raise ValueError(f"{field_name}.target '{obj.target}' is not a domain")
            if obj.kind == "eval" and obj.target not in evals:
                raise ValueError(f"{field_name}.target '{obj.target}' is not an eval_set")
            for name in (obj.weights or {}):
                if name not in domains:
                    raise ValueError(f"{field_name}.weights names unknown domain '{name}'")
        fids = [f[0] for f in self.proxy.fidelity_configs()]
        for name in self.search.initial_fidelities or []:
            if name not in fids:
                raise ValueError(f"search.initial_fidelities names unknown fidelity '{name}'")
        for name in self.constraints.domains:
            if name not in domains:
                raise ValueError(f"constraints.domains names unknown domain '{name}'")
        lo = sum(self.constraints.domains.get(n, Bounds()).min for n in domains)
        hi = sum(self.constraints.domains.get(n, Bounds()).max for n in domains)
        if lo > 1 + 1e-9 or hi < 1 - 1e-9:
            raise ValueError(f"constraints allow no mixture: mins sum to {lo:g}, maxes to {hi:g}")
        return self


def _loc(loc: tuple[object, ...], data: object) -> str:
    """Render a pydantic error location, using domain names instead of list indices."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            item = node[key]
            name = item.get("name") if isinstance(item, dict) else None
            parts.append(f"[{name}]" if name else f"[{key}]")
            node = item
        else:
            parts.append(("." if parts else "") + str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "recipe"


def parse_recipe(data: object, where: str) -> Recipe:
    """Validate a recipe mapping; raise UserError with one line per bad field."""
    if not isinstance(data, dict):
        raise UserError("expected a mapping at the top level", where=where)
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(k for k in err["loc"] if not (isinstance(k, str) and k.startswith("function-")))
            lines.append(f"{_loc(loc, data)}: {' '.join(err['msg'].removeprefix('Value error, ').split())}")
        raise UserError("\n".join(dict.fromkeys(lines)), where=where) from None


def parse_recipe_text(text: str, where: str) -> Recipe:
    """Parse and validate recipe YAML text; `where` names it in errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"invalid YAML{at}", where=where) from None
    return parse_recipe(data, where)


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("no such recipe file", where=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read: {exc}", where=str(path)) from None
    return parse_recipe_text(text, str(path))
