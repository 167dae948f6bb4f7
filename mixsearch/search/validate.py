"""`mixsearch validate`: train the recommendation beside uniform, natural, the best observed run's
mixture and any given mixtures, each with the same seeds, and say whether the recommendation
measurably beats them (verdict.py: paired differences over seeds, 95% t-interval and an exact
signed-rank test). With `max_seeds` (`--seeds auto`) seeds are added one paired round at a time
(every mixture gets the next seed) until the verdict against uniform is decided or the maximum is
reached. The validation records which recommendation (by id) it measured.

At two or more scales (`--fidelity`/`--tokens` repeated) every mixture is trained at each, and
transfer.py measures whether the arms' ranking and the recommendation's gain over uniform hold at
the largest. Rows are ordinary runs with `origin=validate:<name>` and their scale as `fidelity`,
so finished ones are reused (a run id is a hash of mixture, scale, seed and data). Runs at a
fidelity of the plan are also training data for later fits (more seeds of the same mixtures);
runs at an off-plan scale (`--tokens`, `--width`, `--layers`) never enter fits. The search's
"best observed run" never counts them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from mixsearch.errors import UserError
from mixsearch.search.fidelity import FidelityConfig, model_params
from mixsearch.hashing import stable_hash
from mixsearch.mixtures import DECIMALS
from mixsearch.paths import write_atomic
from mixsearch.search.answer import VALIDATION
from mixsearch.search.recommendation import Recommendation
from mixsearch.store.schema import mixture_of
from mixsearch.search.study import VALIDATE, Study
from mixsearch.search.transfer import Transfer, transfer
from mixsearch.search.verdict import Comparison, compare
from mixsearch.search.launch import launch

RECOMMENDATION = "recommendation"
SEED_OFFSET = 1000  # validation seeds differ from the search's: the best run is not re-counted (winner's curse)
MAX_SEEDS = 12  # `--seeds auto` stops here at the latest


@dataclass
class Arm:
    name: str
    mixture: dict[str, float]
    values: dict[int, float] = field(default_factory=dict)  # seed -> objective of the finished runs

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.values.values()))) if self.values else math.nan

    @property
    def sd(self) -> float:
        return float(np.std(list(self.values.values()), ddof=1)) if len(self.values) > 1 else math.nan


@dataclass
class Validation:
    fidelity: str
    seeds: list[int]
    arms: list[Arm]
    comparisons: list[Comparison]
    launched: dict[str, int]
    recommendation: Recommendation  # the recommendation validated (its id names it)
    stopped_by: str = "seeds"  # "seeds" (--seeds N) | "decided" | "max-seeds" (--seeds auto)
    scale: dict = field(default_factory=dict)  # the fidelity's tokens, params, layers, width, cost value
    scales: list[Validation] = field(default_factory=list)  # at several scales: each, smallest first
    transfer: Transfer | None = None  # at several scales: do ranking and gain hold at the largest

    def measured(self) -> dict:
        """What was measured at this scale."""
        return {"fidelity": self.fidelity, "scale": self.scale, "seeds": self.seeds, "seeds_used": len(self.seeds),
                "stopped_by": self.stopped_by, "launched": self.launched,
                "mixtures": [{"name": a.name, "mixture": a.mixture, "mean": a.mean, "sd": a.sd,
                              "values": {str(k): v for k, v in a.values.items()}} for a in self.arms],
                "comparisons": [c.to_dict() for c in self.comparisons]}

    def to_dict(self) -> dict:
        """The largest scale's measurement at the top level; `scales` and `transfer` when there are several."""
        rec = self.recommendation
        out = {"recommendation_id": rec.id, "recommendation": rec.to_dict(), **self.measured(),
               "predicted": rec.predicted, "interval": list(rec.interval)}
        if self.transfer is not None:
            out.update(scales=[v.measured() for v in self.scales], transfer=self.transfer.to_dict())
        return out


def scale(study: Study, fidelity: str | None = None, tokens: int | None = None, width: int | None = None,
          layers: int | None = None) -> FidelityConfig:
    """The fidelity validation runs train at: the target, a named fidelity of the plan, or an
    off-plan scale from overrides (registered with the study as `validate-<hash>`); overrides that
    give a fidelity of the plan exactly are that fidelity (its runs and name)."""
    if fidelity is not None and fidelity not in study.fidelities:
        raise UserError(f"unknown fidelity '{fidelity}' (the plan has {', '.join(study.fidelities)})",
                        where="--fidelity")
    base = study.fidelities[fidelity] if fidelity else study.target
    if tokens is None and width is None and layers is None:
        return base
    model = base.model.model_copy(update={k: v for k, v in (("width", width), ("layers", layers)) if v is not None})
    if model.width % model.heads:
        raise UserError(f"width {model.width} is not divisible by heads {model.heads}", where="--width")
    train = base.train.model_copy(update={"tokens": tokens} if tokens else {})
    planned = next((f for f in study.fidelities.values() if f.model == model and f.train == train), None)
    if planned is not None:
        return planned
    params = model_params(model, study.data().vocab_size)
    target = study.target
    value = params * train.tokens / (target.params * target.train.tokens)
    name = "validate-" + stable_hash({"model": model.model_dump(), "train": train.model_dump()})[:8]
    study.scales[name] = FidelityConfig(name, model, train, params, value)
    return study.scales[name]


def arms(study: Study, rec: Recommendation, extra: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The mixtures to train: the recommendation, uniform, natural, the best observed run, extras."""
    names = study.recipe.domain_names
    space = study.space()
    out = {RECOMMENDATION: np.array([rec.mixture[n] for n in names]),
           "uniform": space.uniform, "natural": space.natural_or_prior}
    best = study.best()
    if best is not None:
        out["best-run"] = np.array(list(mixture_of(best, names).values()))
    for label, w in extra.items():
        if label in out:
            raise UserError(f"'{label}' is a built-in name; choose another", where="--mixture")
        out[label] = w
    return _snapped({k: np.round(v, 6) for k, v in out.items()})


def _snapped(mixtures: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each mixture within the store's precision (10^-DECIMALS per domain) of an earlier one
    becomes exactly that one, so it trains once (a run id hashes the mixture) and is compared as
    what it is: e.g. natural is uniform when the domains hold about the same number of tokens."""
    out: dict[str, np.ndarray] = {}
    for label, w in mixtures.items():
        out[label] = next((v for v in out.values() if np.abs(v - w).max() <= 10**-DECIMALS), w)
    return out


def validate(study: Study, rec: Recommendation, seeds: int = 3,
             fid: FidelityConfig | list[FidelityConfig] | None = None,
             extra: dict[str, np.ndarray] | None = None, address: str | None = None,
             fn: Callable[[dict, dict], dict] | None = None,
             on_result: Callable[[dict], None] | None = None,
             on_start: Callable[[int], None] | None = None, max_seeds: int | None = None,
             on_round: Callable[[str, Comparison], None] | None = None) -> Validation:
    """Store the validation runs (reusing finished ones), train the missing ones (on_start: told
    how many in all so far), compare. With `max_seeds`, start with `seeds` and add one seed per
    round (on_round: told the scale and its comparison with uniform) until that verdict is decided or
    `max_seeds` are used. `fid` may list two or more scales: each is validated (smallest first)
    and the result, the largest's, carries them all and their transfer."""
    fids = list({f.name: f for f in (fid if isinstance(fid, list) else [fid or study.target])}.values())
    fids.sort(key=lambda f: f.value)
    mixtures = arms(study, rec, extra or {})
    sign = -1.0 if getattr(study.recipe.objective, "direction", "minimize") == "maximize" else 1.0
    measured, opened = [], 0
    for f in fids:
        v, opened = _measure(study, rec, mixtures, seeds, f, sign, address, fn, on_result, on_start, max_seeds,
                             on_round, opened)
        measured.append(v)
    result = measured[-1]
    if len(measured) > 1:
        same = {a: next(b for b, w in mixtures.items() if w is mixtures[a]) for a in mixtures}
        moved = transfer([(v.fidelity, {a.name: a.values for a in v.arms}, v.comparisons) for v in measured], sign,
                         {a: b for a, b in same.items() if a != b})
        launched = {k: sum(v.launched[k] for v in measured) for k in result.launched}
        result = replace(result, launched=launched, scales=measured, transfer=moved)
    write_atomic(study.store.root / VALIDATION, json.dumps(result.to_dict(), indent=1, default=float))
    return result


def _measure(study: Study, rec: Recommendation, mixtures: dict[str, np.ndarray], seeds: int, fid: FidelityConfig,
             sign: float, address: str | None, fn: Callable[[dict, dict], dict] | None,
             on_result: Callable[[dict], None] | None, on_start: Callable[[int], None] | None,
             max_seeds: int | None, on_round: Callable[[str, Comparison], None] | None,
             opened: int) -> tuple[Validation, int]:
    """Validate every mixture at one scale; returns the validation and the runs opened so far."""
    launched = {"done": 0, "failed": 0}
    n, stopped_by = seeds, "seeds"
    while True:
        seed_list = [study.recipe.seed + SEED_OFFSET + k for k in range(n)]
        rows, got, opened = _train(study, mixtures, seed_list, fid, address, fn, on_result, on_start, opened)
        launched = {k: launched[k] + got.get(k, 0) for k in launched}
        out = _arms(study, mixtures, rows)
        comps = [compare(a.name, out[0].values, a.values, sign) for a in out[1:]]
        if max_seeds is None:
            break
        uniform = next(c for c in comps if c.name == "uniform")
        if on_round:
            on_round(fid.name, uniform)
        if uniform.decided or n >= max_seeds:
            stopped_by = "decided" if uniform.decided else "max-seeds"
            break
        n += 1
    size = {"tokens": fid.train.tokens, "params": fid.params, "layers": fid.model.layers,
            "width": fid.model.width, "value": fid.value}
    return Validation(fid.name, seed_list, out, comps, launched, rec, stopped_by, size), opened


def _train(study: Study, mixtures: dict[str, np.ndarray], seed_list: list[int], fid: FidelityConfig,
           address: str | None, fn: Callable[[dict, dict], dict] | None, on_result: Callable[[dict], None] | None,
           on_start: Callable[[int], None] | None, opened: int) -> tuple[list[dict], dict[str, int], int]:
    """Add the runs of every mixture at every seed (finished ones are kept) and train the open ones;
    returns the rows, what was launched, and the runs opened so far (`opened` before)."""
    view = study.store.runs()
    round_ = int(view["round"].max()) if len(view) else 0
    k = len(seed_list)
    rows = [row for label, w in mixtures.items()
            for row in study.new_rows(np.repeat(w[None], k, 0), "pending", round_, VALIDATE + label,
                                      fidelity=[fid.name] * k, seeds=seed_list)]
    study.add(rows)
    ids = {row["run_id"] for row in rows}
    opened += int(study.unfinished(validation=True)["run_id"].isin(ids).sum())
    if on_start:
        on_start(opened)
    return rows, launch(study, address, on_result, fn=fn, only=ids), opened


def _arms(study: Study, mixtures: dict[str, np.ndarray], rows: list[dict]) -> list[Arm]:
    """Each mixture with the objective of its finished runs, by seed."""
    done = study.store.runs().set_index("run_id")
    names = study.recipe.domain_names
    out = []
    for label, w in mixtures.items():
        arm = Arm(label, dict(zip(names, map(float, w))))
        for row in rows:
            if row["origin"] == VALIDATE + label and row["run_id"] in done.index:
                state = done.loc[row["run_id"]]
                if state["status"] == "done" and np.isfinite(float(state["objective"])):
                    arm.values[int(row["seed"])] = float(state["objective"])
        out.append(arm)
    return out
