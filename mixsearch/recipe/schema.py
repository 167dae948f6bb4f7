"""Recipe: the YAML file that describes a study, validated with pydantic; its sections live in
data.py, proxy.py, search.py and tracking.py beside this module."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from mixsearch.errors import UserError
from mixsearch.recipe.base import Int, Strict
from mixsearch.recipe.data import Data, Domain, EvalSet, Tokenizer
from mixsearch.recipe.proxy import Proxy
from mixsearch.recipe.search import Bounds, BudgetSpec, Constraints, Objective, Search
from mixsearch.recipe.tracking import Tracking


class Recipe(Strict):
    study: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    seed: Int = Field(0, ge=0, le=2**32 - 1)
    domains: list[Domain] = Field(min_length=2)
    eval_sets: list[EvalSet] = []
    tokenizer: Tokenizer = Tokenizer()
    data: Data = Data()
    proxy: Proxy = Proxy()
    objective: Objective = Objective()
    objectives: list[Objective] = Field([], description="two or more: a multi-objective (Pareto) search; "
                                                         "the first is also `objective`")
    constraints: Constraints = Constraints()
    search: Search = Search()
    budget: BudgetSpec = BudgetSpec()
    tracking: Tracking = Tracking()

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
            for name in obj.over or []:
                if name not in domains | evals:
                    raise ValueError(f"{field_name}.over names '{name}', neither a domain nor an eval_set")
            for name in (obj.weights or {}):
                if name not in (set(obj.over) if obj.over else domains | evals):
                    raise ValueError(f"{field_name}.weights names '{name}', "
                                     + ("not one of over" if obj.over else "neither a domain nor an eval_set"))
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
