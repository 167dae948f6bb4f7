"""A study: the recipe, its prepared data and its run store, and the steps of the search loop."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixsearch.errors import UserError
from mixsearch.hashing import stable_hash
from mixsearch.recipe import Model, Objective, Recipe, Train
from mixsearch.store import LOSS, METRIC, WEIGHT, Store, now, weights_matrix
from mixsearch.store_schema import recipe_columns

if TYPE_CHECKING:  # the heavy steps (torch, scipy, Ray, surrogates) are imported where they run
    from mixsearch.data.prepare import PrepareOptions, PreparedData
    from mixsearch.mixtures import Space
    from mixsearch.noise import NoiseFloor
    from mixsearch.proxy.train import RunSpec
    from mixsearch.recommend import Recommendation
    from mixsearch.surrogate.base import Surrogate, TrainSet
    from mixsearch.surrogate.cv import CVScore

MIN_RUNS_TO_FIT = 4
MAX_RUNS_PER_GPU = 8
OBJ = "objective_"  # objective_<i>: each objective of a multi-objective study
UNFINISHED = ("pending", "proposed")
VALIDATE = "validate:"  # origin prefix of runs trained by `mixsearch validate`


def objective_weights(obj: Objective, domains: list[str]) -> dict[str, float]:
    """The losses the objective is a weighted sum of, with weights summing to one (none for a metric)."""
    if obj.kind == "metric":
        return {}
    if obj.kind in ("domain", "eval"):
        return {obj.target: 1.0}
    weights = obj.weights or {d: 1.0 for d in domains}
    total = sum(weights.values())
    return {d: w / total for d, w in weights.items()}


def objective_value(obj: Objective, losses: dict[str, float], domains: list[str],
                    metrics: dict[str, float] | None = None) -> float:
    """The recipe's objective, in the user's sign, from a run's per-domain (and eval set) losses
    or, for kind=metric, its metrics (a loss counts as the metric loss_<name>); KeyError names
    what is missing (loss_<name> or the metric)."""
    if obj.kind == "metric":
        found = {**{LOSS + k: v for k, v in losses.items()}, **(metrics or {})}
        if obj.metric not in found:
            raise KeyError(obj.metric)
        return float(found[obj.metric])
    weights = objective_weights(obj, domains)
    missing = [d for d in weights if d not in losses]
    if missing:
        raise KeyError(LOSS + missing[0])
    return sum(w * losses[d] for d, w in weights.items())


def model_params(model: Model, vocab_size: int) -> int:
    """GPT(model, vocab_size).num_params() without building it: tied token embedding and head,
    position embedding, per block two LayerNorms, bias-free qkv/out projections and MLP, a final
    LayerNorm."""
    w, hidden = model.width, model.mlp or 4 * model.width
    block = 2 * 2 * w + 4 * w * w + 2 * w * hidden
    return vocab_size * w + model.context * w + model.layers * block + 2 * w


@dataclass(frozen=True)
class FidelityConfig:
    """One fidelity of the plan: what a run at it trains, and its cost relative to the target."""

    name: str
    model: Model
    train: Train
    params: int
    value: float  # cost / target cost, in (0, 1]; the target is 1


@dataclass
class FitResult:
    """A fitted surrogate with the cross-validation that chose it (stored and reused; add fields
    with defaults so that older stored results still load)."""

    name: str
    scores: list[CVScore]
    surrogate: Surrogate
    n_runs: int
    data: TrainSet
    key: str = ""  # what the fit saw (runs and settings); see surrogate/fitstore.py
    reused: bool = False  # loaded from runs/<study>/fit/ rather than fitted now
    noise: NoiseFloor | None = None  # seed noise, from replicates
    warnings: list[str] = field(default_factory=list)

    @property
    def chosen(self) -> CVScore:
        return next(s for s in self.scores if s.name == self.name)


@dataclass
class Study:
    recipe: Recipe
    store: Store
    _data: PreparedData | None = field(default=None, repr=False)
    scales: dict[str, FidelityConfig] = field(default_factory=dict)  # off-plan scales `validate` trains at

    @classmethod
    def open(cls, recipe: Recipe, runs_dir: str | Path) -> "Study":
        losses = recipe.domain_names + [e.name for e in recipe.eval_sets]
        columns = recipe_columns(recipe.domain_names, losses, len(recipe.objective_list))
        return cls(recipe, Store(runs_dir, recipe.study, columns))

    def data(self, on_domain=None, options: PrepareOptions | None = None) -> PreparedData:
        """The recipe's prepared data (tokenized once, cached; raw paths only for a `data: raw` trainer)."""
        if self._data is None:
            from mixsearch.data.prepare import prepare, raw_data

            trainer = self.recipe.proxy.trainer
            if self.recipe.fit_only:
                from mixsearch.data.imported import imported_data

                self._data = imported_data(self.recipe)
            elif trainer and trainer.data == "raw":
                self._data = raw_data(self.recipe)
            else:
                self._data = prepare(self.recipe, on_domain, options)
        return self._data

    @cached_property
    def vocab_size(self) -> int:
        """The tokenizer's vocabulary; a byte tokenizer's is known without preparing the data."""
        if self._data is None and self.recipe.tokenizer.kind == "byte":
            from mixsearch.data.tokenizer import ByteTokenizer

            return ByteTokenizer.vocab_size
        return self.data().vocab_size

    def _trainable(self) -> None:
        if self.recipe.fit_only:
            raise UserError("a fit-only study (no domain has a source) cannot train runs: import them, then "
                            "fit, propose, replay or report", where=f"study {self.recipe.study}")

    def space(self) -> Space:
        from mixsearch import mixtures

        data = self.data()
        return mixtures.build_space(self.recipe, {n: d.train_tokens for n, d in data.domains.items()})

    @cached_property
    def fidelities(self) -> dict[str, FidelityConfig]:
        """The fidelity plan, cheapest first; the last is the target."""
        vocab = self.vocab_size or 1  # raw data has no vocabulary: count the rest of the model
        configs = self.recipe.proxy.fidelity_configs()
        params = [model_params(m, vocab) for _, m, _, _ in configs]
        costs = [c if c is not None else p * t.tokens for (_, _, t, c), p in zip(configs, params)]
        return {name: FidelityConfig(name, m, t, p, cost / costs[-1])
                for (name, m, t, _), p, cost in zip(configs, params, costs)}

    @property
    def target(self) -> FidelityConfig:
        return list(self.fidelities.values())[-1]

    # ---- runs -------------------------------------------------------------------------------
    def run_id(self, mixture: dict[str, float], fid: FidelityConfig, seed: int | None = None) -> str:
        return stable_hash({"mixture": {k: round(v, 6) for k, v in mixture.items()},
                            "model": fid.model.model_dump(), "train": fid.train.model_dump(),
                            "seed": self.recipe.seed if seed is None else seed, "data": self.data().data_hash})

    def new_rows(self, W: np.ndarray, status: str, round_: int, origin: str,
                 predicted: np.ndarray | None = None, fidelity: list[str] | None = None,
                 seeds: list[int] | None = None) -> list[dict]:
        """Rows for mixtures W at fidelities (names; default the target) and seeds (default the recipe's)."""
        r, data = self.recipe, self.data()
        rows = []
        for i, w in enumerate(W):
            fid = self._fidelity(fidelity[i]) if fidelity else self.target
            seed = r.seed if seeds is None else int(seeds[i])
            mixture = dict(zip(r.domain_names, map(float, w)))
            rows.append({
                "run_id": self.run_id(mixture, fid, seed), "study": r.study, "status": status, "round": round_,
                "origin": origin, "seed": seed, "data_hash": data.data_hash, "fidelity": fid.name,
                "fidelity_value": fid.value, "params": fid.params, "tokens": fid.train.tokens,
                "model": json.dumps(fid.model.model_dump()),
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
        """Sample the recipe's initial mixtures (deterministic in the seed), at each initial
        fidelity; store the new ones."""
        from mixsearch import mixtures

        self._trainable()
        r = self.recipe
        W = mixtures.sample(self.space(), r.search.initial_runs, r.search.sampling, np.random.default_rng(r.seed))
        names = r.search.initial_fidelities or [self.target.name]
        rows = [row for name in names
                for row in self.new_rows(W, "pending", 0, f"initial:{r.search.sampling.method}", fidelity=[name] * len(W))]
        return self.add(rows + self._replicate_rows(W))

    def _replicate_rows(self, W: np.ndarray) -> list[dict]:
        """search.replicates: the noise-floor runs of the first round, at the target fidelity."""
        from mixsearch import noise

        rep = self.recipe.search.replicates
        if rep is None:
            return []
        mixes, seeds = noise.replicate_plan(self.space(), W, rep.mixtures, rep.seeds, self.recipe.seed)
        return self.new_rows(mixes, "pending", 0, "replicate", seeds=seeds)

    def unfinished(self, validation: bool = False) -> pd.DataFrame:
        """Open runs; those `validate` opened only if `validation` (the search never waits on them)."""
        view = self.store.runs()
        if view.empty:
            return view
        open_ = view["status"].isin(UNFINISHED)
        if not validation:
            open_ &= ~is_validation(view)
        return view[open_]

    def _fidelity(self, name: str) -> FidelityConfig:
        return self.fidelities[name] if name in self.fidelities else self.scales[name]

    def _fidelity_of(self, row: dict) -> FidelityConfig:
        name = row.get("fidelity")
        if isinstance(name, str) and (name in self.fidelities or name in self.scales):
            return self._fidelity(name)
        if isinstance(name, str):
            raise UserError(f"run {row['run_id']} is at fidelity '{name}', which the recipe no longer has",
                            where="proxy.fidelities")
        return self.target

    def launch(self, address: str | None = None, on_result: Callable[[dict], None] | None = None,
               fn: Callable[[dict, dict], dict] | None = None, max_runs: int | None = None,
               should_stop: Callable[[], bool] | None = None, only: set[str] | None = None) -> dict[str, int]:
        """Train the open (pending/proposed) runs on Ray, oldest round first, at most `max_runs`;
        each result is stored as it arrives. should_stop() is asked after each result. `fn` trains one
        run (default: the recipe's command trainer, else the built-in GPT). `only`: just these run ids
        (validation runs included), else every open search run."""
        from mixsearch import schedule
        from mixsearch.proxy.command import run_command
        from mixsearch.proxy.train import RunSpec, train_proxy
        from mixsearch.trainers import builtin_can_report, command_settings

        todo = self.unfinished(validation=only is not None)
        if only is not None and not todo.empty:
            todo = todo[todo["run_id"].isin(only)]
        if not todo.empty:
            self._trainable()
            todo = todo.sort_values(["round", "seq"], kind="stable")
        if max_runs is not None:
            todo = todo.head(max_runs)
        counts = {"done": 0, "failed": 0}
        if todo.empty:
            return counts
        r, data = self.recipe, self.data()
        res = r.proxy.resources
        trainer = command_settings(self) if r.proxy.trainer else None
        if trainer is None:
            builtin_can_report(r)
        fn = fn or (run_command if trainer else train_proxy)
        base = {row["run_id"]: row for row in todo.to_dict("records")}
        by_fidelity: dict[str, list[RunSpec]] = {}
        for row in base.values():
            fid = self._fidelity_of(row)
            by_fidelity.setdefault(fid.name, []).append(
                RunSpec(run_id=row["run_id"], mixture={n: float(row[WEIGHT + n]) for n in r.domain_names},
                        seed=int(row["seed"]), model=fid.model.model_dump(), train=fid.train.model_dump(),
                        threads=max(1, int(res.num_cpus)), fidelity=fid.name, trainer=trainer))
        gpus = self.num_gpus()
        schedule.connect(address)
        groups = [g for name, specs in by_fidelity.items()
                  for g in (self._ensembles(self._fidelity(name), specs, gpus) if trainer is None else [[s] for s in specs])]

        def record(spec: RunSpec, result: dict) -> None:
            row = self._result_row(base[spec.run_id], result, gpus)
            self.store.append([row])
            counts[row["status"]] += 1
            if on_result:
                on_result(row)

        schedule.execute(groups, data, res, record, fn=fn, should_stop=should_stop, num_gpus=gpus)
        return counts

    def _ensembles(self, fid: FidelityConfig, specs: list[RunSpec], gpus: float) -> list[list[RunSpec]]:
        """Runs of one fidelity in groups of `proxy.resources.ensemble` (auto: measured on a worker's
        device, `mixsearch.proxy.sizing`)."""
        from mixsearch import schedule
        from mixsearch.proxy.sizing import auto_ensemble

        res = self.recipe.proxy.resources
        k = res.ensemble
        if k == "auto":
            k = schedule.call(auto_ensemble, fid.model.model_dump_json(), fid.train.model_dump_json(),
                              self.data().vocab_size, gpus, resources=res, num_gpus=gpus)
        return [specs[i: i + k] for i in range(0, len(specs), k)]

    def num_gpus(self) -> float:
        """GPU share per task: num_gpus, or 1/runs_per_gpu (auto: as many tasks as fit in GPU memory)."""
        res = self.recipe.proxy.resources
        if res.runs_per_gpu is None:
            return res.num_gpus
        if res.runs_per_gpu != "auto":
            return 1.0 / res.runs_per_gpu
        import torch

        from mixsearch.proxy.sizing import member_bytes

        if not torch.cuda.is_available():
            raise UserError("auto needs a GPU visible to this process; give a number", where="proxy.resources.runs_per_gpu")
        fid = self.target
        k = 1 if res.ensemble == "auto" else res.ensemble
        per_task = k * member_bytes(fid.model, fid.train, self.data().vocab_size, fid.params)
        total = torch.cuda.get_device_properties(0).total_memory
        return 1.0 / max(1, min(MAX_RUNS_PER_GPU, int(0.8 * total // per_task)))

    def _result_row(self, base: dict, result: dict, gpus: float) -> dict:
        losses, metrics = result.get("losses") or {}, result.get("metrics") or {}
        row = {k: v for k, v in base.items() if not k.startswith((LOSS, METRIC)) and k not in ("seq", "updated_at")}
        status, error = result.get("status", "failed"), result.get("error")
        res = self.recipe.proxy.resources
        wall = float(result.get("wall_time") or 0.0)
        share = 1.0 / int(result.get("ensemble") or 1)  # runs trained together split the task's cost
        values = [math.nan] * len(self.recipe.objective_list)
        if status == "done":
            try:
                values = [objective_value(o, losses, self.recipe.domain_names, metrics)
                          for o in self.recipe.objective_list]
            except KeyError as exc:
                status, error = "failed", f"the run reported no {exc.args[0]} (the objective needs it)"
        objective = values[0]
        if len(values) > 1:
            row.update({f"{OBJ}{i}": v for i, v in enumerate(values)})
        row.update({
            "status": status, "error": error, "objective": objective,
            "train_loss": result.get("train_loss", math.nan), "wall_time": wall,
            "tokens_trained": int(result.get("tokens") or 0), "num_cpus": res.num_cpus, "num_gpus": gpus,
            "cpu_hours": wall * res.num_cpus * share / 3600, "gpu_hours": wall * gpus * share / 3600,
            "ensemble": int(result.get("ensemble") or 1),
            "tokens_per_s": result.get("tokens_per_s") or math.nan, "compile_s": float(result.get("compile_s") or 0.0),
            "host": result.get("host"),
            "device": result.get("device"), "curve": json.dumps(result.get("curve") or []),
            "finished_at": now(), **{LOSS + k: float(v) for k, v in losses.items()},
            **{METRIC + k: float(v) for k, v in metrics.items()},
        })
        return row

    # ---- surrogate and proposals ------------------------------------------------------------
    def completed(self) -> pd.DataFrame:
        """Done runs with a finite objective, at every fidelity of the plan (runs `validate`
        trained at other scales are not part of the search)."""
        view = self.store.runs()
        if view.empty:
            return view
        done = view[view["status"] == "done"]
        done = done[np.isfinite(done["objective"].astype(float))]
        if "fidelity" in done:
            off_plan = is_validation(done) & ~done["fidelity"].isin(list(self.fidelities))
            done = done[~off_plan]
        return done

    def current_data(self, done: pd.DataFrame) -> tuple[pd.DataFrame, int]:
        """The runs trained on the current data (or of unknown data, e.g. imported), and how
        many were trained on an older data hash."""
        if "data_hash" not in done or done.empty:
            return done, 0
        hashes = done["data_hash"]
        stale = hashes.notna() & (hashes.astype(str) != "") & (hashes != self.data().data_hash)
        return done[~stale], int(stale.sum())

    def completed_at_target(self) -> pd.DataFrame:
        done = self.completed()
        return done[np.isclose(self.fidelity_values(done), 1.0)] if len(done) else done

    def fidelity_values(self, df: pd.DataFrame) -> np.ndarray:
        """Each run's fidelity in (0, 1]: from the recipe's plan by name, else the stored value,
        else (imported runs) its tokens relative to the target's, else the target."""
        def column(name: str) -> pd.Series:
            return pd.to_numeric(df[name], errors="coerce") if name in df else pd.Series(np.nan, index=df.index)

        values = {n: f.value for n, f in self.fidelities.items()}
        named = df["fidelity"].map(values) if "fidelity" in df else pd.Series(np.nan, index=df.index)
        from_tokens = (column("tokens") / self.target.train.tokens).clip(upper=1.0)
        return named.fillna(column("fidelity_value")).fillna(from_tokens).fillna(1.0).to_numpy(float)

    @property
    def signs(self) -> np.ndarray:
        """Per objective: +1 to minimise, -1 to maximise. Stored values are the user's; the
        training set and objectives matrix hold sign x value, so every model minimises."""
        return np.array([o.sign for o in self.recipe.objective_list])

    def train_set(self, done: pd.DataFrame | None = None) -> TrainSet:
        """Completed runs as a surrogate's training set, the objective sign-adjusted (always minimised)."""
        from mixsearch.surrogate.base import TrainSet

        done = self.completed() if done is None else done
        names = self.recipe.domain_names
        obj = self.recipe.objective_list[0]
        weights = objective_weights(obj, names)
        cols = [LOSS + k for k in weights]
        parts = None
        if weights and obj.sign > 0 and all(c in done for c in cols):
            P = done[cols].to_numpy(float)
            parts = P if np.isfinite(P).all() else None
        return TrainSet(weights_matrix(done, names), obj.sign * done["objective"].to_numpy(float),
                        self.fidelity_values(done), parts,
                        np.array(list(weights.values())) if parts is not None else None)

    def fit(self, surrogate: str | None = None, refit: bool = False) -> FitResult:
        """Cross-validate the candidate surrogates on completed runs and fit the best on all of them;
        reuse the stored fit while no run has finished since (refit: fit anew regardless)."""
        from mixsearch.surrogate import fitstore
        from mixsearch.surrogate.base import known_surrogates, make_surrogate
        from mixsearch.surrogate.cv import select

        r = self.recipe
        done = self.completed()
        n_target = int(np.isclose(self.fidelity_values(done), 1.0).sum()) if len(done) else 0
        if n_target < MIN_RUNS_TO_FIT:
            raise UserError(f"needs at least {MIN_RUNS_TO_FIT} completed target-fidelity runs to fit a surrogate, "
                            f"has {n_target} (run `mixsearch run` first)", where=f"study {r.study}")
        choice = surrogate or r.search.surrogate
        if choice != "auto" and choice not in known_surrogates():
            raise UserError(f"unknown surrogate '{choice}' (known: auto, {', '.join(known_surrogates())})",
                            where="--surrogate")
        names = known_surrogates() if choice == "auto" else [choice]
        from mixsearch import noise

        done, stale = self.current_data(done)
        runs = self.train_set(done)
        floor = noise.noise_floor(runs, r.seed)
        data = noise.average_replicates(runs)
        run_ids = [str(i) for i in done["run_id"]]
        settings = {"choice": choice, "names": names, "folds": r.search.cv_folds, "seed": r.seed,
                    "budget_s": r.search.fit_budget_s, "objective": r.objective.model_dump()}
        key = fitstore.data_key(data, run_ids, settings)
        if not refit and (stored := fitstore.load(self.store.root, key)) is not None:
            stored.reused = True
            return stored
        best, scores = select(names, data, r.search.cv_folds, r.seed, r.search.fit_budget_s)
        result = FitResult(best, scores, make_surrogate(best, r.seed).fit(data), len(data), data, key, noise=floor)
        result.warnings = noise.fit_warnings(result.chosen, len(data.target_only()), len(r.domain_names), floor)
        if stale:
            result.warnings.insert(0, f"{stale} run(s) trained on an older data hash are excluded from the fit")
        fitstore.save(self.store.root, key, result, {"chosen": best, "runs": len(data),
                                                     "runs_key": fitstore.runs_key(run_ids),
                                                     "scores": [s.to_dict() for s in scores]})
        return result

    def recommend(self, fitted: FitResult) -> "Recommendation":
        """The fitted surrogate's optimum with its interval; saved as the study's latest answer."""
        from mixsearch import recommend as rc

        r = self.recipe
        cv = fitted.chosen
        rec = rc.recommend(fitted.surrogate, fitted.name, cv.mae, fitted.n_runs, self.space(), r.search, r.seed,
                           fitted.noise.sd if fitted.noise else None, rc.near_optimum_sd(cv.predicted, cv.actual))
        rc.save(rec, self.store.root)
        return rec

    def propose(self, fitted: FitResult, n: int | None = None, method: str | None = None) -> pd.DataFrame:
        """Propose the next batch (mixtures and fidelities); store it as 'proposed' rows."""
        from mixsearch.propose import FidelityLevel, ProposalContext, propose

        r = self.recipe
        view = self.store.runs()
        n = n or r.search.batch_size
        multi = len(r.objective_list) > 1
        method = method or (r.search.proposer if not multi or r.search.proposer in ("motpe", "nsga2") else "motpe")
        if multi and method not in ("motpe", "nsga2"):
            raise UserError(f"a study with several objectives proposes with motpe or nsga2, not {method}",
                            where="search.proposer")
        past = weights_matrix(view, r.domain_names) if len(view) else None
        round_ = int(view["round"].max()) + 1 if len(view) else 1
        levels = [FidelityLevel(f.name, f.value) for f in self.fidelities.values()]
        target = self.completed_at_target()
        pending = self.unfinished()
        ctx = ProposalContext(fitted.surrogate, self.space(), fitted.data, levels, r.search, r.seed + round_, past,
                              self.fidelity_values(view) if len(view) else None,
                              objectives=None if len(r.objective_list) < 2 else
                              (weights_matrix(target, r.domain_names), self.objectives_matrix(target)),
                              pending=weights_matrix(pending, r.domain_names) if len(pending) else None,
                              pending_fid=self.fidelity_values(pending) if len(pending) else None)
        prop = propose(ctx, n, method)
        origin = f"propose:{method}/{fitted.name}"
        rows = self.new_rows(prop.W, "proposed", round_, origin, self.signs[0] * np.asarray(prop.predicted, float),
                             prop.fidelity)
        self.add(rows)
        df = pd.DataFrame(rows)
        if prop.recommendation is not None:
            df.attrs["recommendation"] = dict(zip(r.domain_names, map(float, prop.recommendation)))
        return df

    def objectives_matrix(self, done: pd.DataFrame) -> np.ndarray | None:
        """(n, k) sign-adjusted (to minimise) objective values of a multi-objective study's runs;
        None for one objective. Multiply by `signs` for the user's values."""
        k = len(self.recipe.objective_list)
        if k < 2:
            return None
        cols = [f"{OBJ}{i}" for i in range(k)]
        if not all(c in done for c in cols):
            return np.full((len(done), k), np.nan)
        return done[cols].to_numpy(float) * self.signs

    def pareto(self) -> pd.DataFrame:
        """Completed target-fidelity runs that no other such run dominates (all objectives)."""
        done = self.completed_at_target()
        Y = self.objectives_matrix(done)
        if Y is None or done.empty:
            return done
        ok = np.isfinite(Y).all(1)
        done, Y = done[ok], Y[ok]
        dominated = [bool(np.any(np.all(Y <= y, 1) & np.any(Y < y, 1))) for y in Y]
        return done[~np.array(dominated, bool)] if len(done) else done

    def best(self) -> dict | None:
        """The best observed target-fidelity run of the search (validation runs do not count)."""
        done = self.completed_at_target()
        done = done[~is_validation(done)] if len(done) else done
        if done.empty:
            return None
        return done.loc[(self.signs[0] * done["objective"].astype(float)).idxmin()].to_dict()


def is_validation(df: pd.DataFrame) -> pd.Series:
    """Rows `mixsearch validate` opened."""
    if "origin" not in df:
        return pd.Series(False, index=df.index)
    return df["origin"].astype(str).str.startswith(VALIDATE)


def shutdown() -> None:
    from mixsearch import schedule

    schedule.shutdown()
