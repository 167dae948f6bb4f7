"""A study: the recipe, its prepared data and its run store, and the steps of the search loop."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mixsearch import mixtures, schedule
from mixsearch.data.prepare import PreparedData, prepare
from mixsearch.errors import UserError
from mixsearch.hashing import stable_hash
from mixsearch.mixtures import Space
from mixsearch.propose import propose
from mixsearch.proxy.train import RunSpec, train_proxy
from mixsearch.recipe import Objective, Recipe
from mixsearch.store import LOSS, WEIGHT, Store, now, weights_matrix
from mixsearch.surrogate.base import Surrogate, known_surrogates, make_surrogate
from mixsearch.surrogate.cv import CVScore, select

MIN_RUNS_TO_FIT = 4
UNFINISHED = ("pending", "proposed")


def objective_value(obj: Objective, losses: dict[str, float], domains: list[str]) -> float:
    """The recipe's objective from a run's per-domain (and eval set) losses."""
    if obj.kind in ("domain", "eval"):
        return losses[obj.target]
    weights = obj.weights or {d: 1.0 for d in domains}
    total = sum(weights.values())
    return sum(w * losses[d] for d, w in weights.items()) / total


def proxy_params(recipe: Recipe, vocab_size: int) -> int:
    import torch

    from mixsearch.proxy.model import GPT

    with torch.device("meta"):
        return GPT(recipe.proxy.model, vocab_size).num_params()


@dataclass
class FitResult:
    name: str
    scores: list[CVScore]
    surrogate: Surrogate
    n_runs: int


@dataclass
class Study:
    recipe: Recipe
    store: Store
    _data: PreparedData | None = field(default=None, repr=False)

    @classmethod
    def open(cls, recipe: Recipe, runs_dir: str | Path) -> "Study":
        return cls(recipe, Store(runs_dir, recipe.study))

    def data(self, on_domain=None) -> PreparedData:
        if self._data is None:
            self._data = prepare(self.recipe, on_domain)
        return self._data

    def space(self) -> Space:
        data = self.data()
        return mixtures.build_space(self.recipe, {n: d.train_tokens for n, d in data.domains.items()})

    # ---- runs -------------------------------------------------------------------------------
    def run_id(self, mixture: dict[str, float]) -> str:
        r = self.recipe
        return stable_hash({"mixture": {k: round(v, 6) for k, v in mixture.items()},
                            "model": r.proxy.model.model_dump(), "train": r.proxy.train.model_dump(),
                            "seed": r.seed, "data": self.data().data_hash})

    def new_rows(self, W: np.ndarray, status: str, round_: int, origin: str,
                 predicted: np.ndarray | None = None) -> list[dict]:
        r, data = self.recipe, self.data()
        params = proxy_params(r, data.vocab_size)
        rows = []
        for i, w in enumerate(W):
            mixture = dict(zip(r.domain_names, map(float, w)))
            rows.append({
                "run_id": self.run_id(mixture), "study": r.study, "status": status, "round": round_,
                "origin": origin, "seed": r.seed, "data_hash": data.data_hash, "params": params,
                "tokens": r.proxy.train.tokens, "model": json.dumps(r.proxy.model.model_dump()),
                "predicted": float(predicted[i]) if predicted is not None else math.nan,
                "created_at": now(), **{WEIGHT + k: v for k, v in mixture.items()},
            })
        return rows

    def add(self, rows: list[dict]) -> int:
        """Store rows for runs the study does not have yet; returns how many were new."""
        known = set(self.store.runs().get("run_id", pd.Series(dtype=str)))
        fresh = [row for row in rows if row["run_id"] not in known]
        fresh = list({row["run_id"]: row for row in fresh}.values())
        self.store.append(fresh)
        return len(fresh)

    def seed_initial(self) -> int:
        """Sample the recipe's initial mixtures (deterministic in the seed); store the new ones."""
        r = self.recipe
        W = mixtures.sample(self.space(), r.search.initial_runs, r.search.sampling,
                            np.random.default_rng(r.seed))
        return self.add(self.new_rows(W, "pending", 0, f"initial:{r.search.sampling.method}"))

    def unfinished(self) -> pd.DataFrame:
        view = self.store.runs()
        return view[view["status"].isin(UNFINISHED)] if len(view) else view

    def launch(self, address: str | None = None, on_result: Callable[[dict], None] | None = None,
               fn: Callable[[dict, dict], dict] = train_proxy, max_runs: int | None = None,
               should_stop: Callable[[], bool] | None = None) -> dict[str, int]:
        """Train the open (pending/proposed) runs on Ray, oldest round first, at most `max_runs`;
        each result is stored as it arrives. should_stop() is asked after each result."""
        todo = self.unfinished()
        if not todo.empty:
            todo = todo.sort_values(["round", "seq"], kind="stable")
        if max_runs is not None:
            todo = todo.head(max_runs)
        counts = {"done": 0, "failed": 0}
        if todo.empty:
            return counts
        r, data = self.recipe, self.data()
        res = r.proxy.resources
        base = {row["run_id"]: row for row in todo.to_dict("records")}
        specs = [RunSpec(run_id=row["run_id"], mixture={n: float(row[WEIGHT + n]) for n in r.domain_names},
                         seed=int(row["seed"]), model=r.proxy.model.model_dump(),
                         train=r.proxy.train.model_dump(), threads=max(1, int(res.num_cpus)))
                 for row in base.values()]

        def record(spec: RunSpec, result: dict) -> None:
            row = self._result_row(base[spec.run_id], result)
            self.store.append([row])
            counts[row["status"]] += 1
            if on_result:
                on_result(row)

        schedule.connect(address)
        schedule.execute(specs, data, res, record, fn=fn, should_stop=should_stop)
        return counts

    def _result_row(self, base: dict, result: dict) -> dict:
        losses = result.get("losses") or {}
        row = {k: v for k, v in base.items() if not k.startswith(LOSS) and k not in ("seq", "updated_at")}
        status, error = result.get("status", "failed"), result.get("error")
        res = self.recipe.proxy.resources
        wall = float(result.get("wall_time") or 0.0)
        objective = math.nan
        if status == "done":
            try:
                objective = objective_value(self.recipe.objective, losses, self.recipe.domain_names)
            except KeyError as exc:
                status, error = "failed", f"no loss for objective target {exc}"
        row.update({
            "status": status, "error": error, "objective": objective,
            "train_loss": result.get("train_loss", math.nan), "wall_time": wall,
            "tokens_trained": int(result.get("tokens") or 0), "num_cpus": res.num_cpus, "num_gpus": res.num_gpus,
            "cpu_hours": wall * res.num_cpus / 3600, "gpu_hours": wall * res.num_gpus / 3600,
            "tokens_per_s": result.get("tokens_per_s") or math.nan, "host": result.get("host"),
            "device": result.get("device"), "curve": json.dumps(result.get("curve") or []),
            "finished_at": now(), **{LOSS + k: float(v) for k, v in losses.items()},
        })
        return row

    # ---- surrogate and proposals ------------------------------------------------------------
    def completed(self) -> pd.DataFrame:
        view = self.store.runs()
        if view.empty:
            return view
        done = view[view["status"] == "done"]
        return done[np.isfinite(done["objective"].astype(float))]

    def fit(self, surrogate: str | None = None) -> FitResult:
        """Cross-validate the candidate surrogates on completed runs; fit the best on all of them."""
        r = self.recipe
        done = self.completed()
        if len(done) < MIN_RUNS_TO_FIT:
            raise UserError(f"needs at least {MIN_RUNS_TO_FIT} completed runs to fit a surrogate, "
                            f"has {len(done)} (run `mixsearch run` first)", where=f"study {r.study}")
        choice = surrogate or r.search.surrogate
        names = known_surrogates() if choice == "auto" else [choice]
        if choice != "auto" and choice not in known_surrogates():
            raise UserError(f"unknown surrogate '{choice}' (known: auto, {', '.join(known_surrogates())})",
                            where="--surrogate")
        X, y = weights_matrix(done, r.domain_names), done["objective"].to_numpy(float)
        best, scores = select(names, X, y, r.search.cv_folds, r.seed)
        return FitResult(best, scores, make_surrogate(best, r.seed).fit(X, y), len(done))

    def propose(self, fitted: FitResult, n: int | None = None, method: str | None = None) -> pd.DataFrame:
        """Propose the next batch from a fitted surrogate; store it as 'proposed' rows."""
        r = self.recipe
        view = self.store.runs()
        n = n or r.search.batch_size
        past = weights_matrix(view, r.domain_names) if len(view) else None
        round_ = int(view["round"].max()) + 1 if len(view) else 1
        W, pred = propose(fitted.surrogate, self.space(), n, r.search, r.seed + round_, past, method)
        origin = f"propose:{method or r.search.proposer}/{fitted.name}"
        rows = self.new_rows(W, "proposed", round_, origin, pred)
        self.add(rows)
        return pd.DataFrame(rows)

    def best(self) -> dict | None:
        done = self.completed()
        if done.empty:
            return None
        return done.loc[done["objective"].astype(float).idxmin()].to_dict()


def shutdown() -> None:
    schedule.shutdown()
