"""A study: the recipe, its prepared data, its run store and the views of its runs. The steps of the
search loop are functions that take a study: training runs (`launch.py`); fitting, recommending and
proposing (`modelling.py`). Run ids hash what a result depends on (`identity.py`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixsearch.errors import UserError
from mixsearch.search.fidelity import FidelityConfig, model_params
from mixsearch.search import identity
from mixsearch.store.schema import WEIGHT, recipe_columns, mixture_of
from mixsearch.recipe.schema import Recipe
from mixsearch.store.parts import Store, now

if TYPE_CHECKING:  # the heavy steps (torch, scipy, Ray, surrogates) are imported where they run
    from mixsearch.data.prepare import PrepareOptions, PreparedData
    from mixsearch.mixtures import Space

UNFINISHED = ("pending", "proposed")
VALIDATE = "validate:"  # origin prefix of runs trained by `mixsearch validate`


@dataclass
class Study:
    recipe: Recipe
    store: Store
    _data: PreparedData | None = field(default=None, repr=False)
    scales: dict[str, FidelityConfig] = field(default_factory=dict)  # off-plan scales `validate` trains at

    @classmethod
    def open(cls, recipe: Recipe, runs_dir: str | Path) -> "Study":
        losses = recipe.domain_names + [e.name for e in recipe.eval_sets]
        columns = recipe_columns(recipe.mixture_names, losses, len(recipe.objective_list))
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

    def check_trainable(self) -> None:
        if self.recipe.fit_only:
            raise UserError("a fit-only study (no domain has a source) cannot train runs: import them, then "
                            "fit, propose, replay or report", where=f"study {self.recipe.study}")

    def space(self) -> Space:
        from mixsearch.bounds import build_space

        data = self.data()
        return build_space(self.recipe, {n: d.train_tokens for n, d in data.domains.items()})

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
    @cached_property
    def trainer_identity(self) -> dict | None:
        """A command trainer's identity (see `trainers.trainer_identity`); None for the built-in GPT."""
        from mixsearch.execute.trainers import trainer_identity

        trainer = self.recipe.proxy.trainer
        return None if trainer is None else trainer_identity(trainer)

    @cached_property
    def trainer_hash(self) -> str:
        return identity.trainer_hash(self.trainer_identity)

    def run_id(self, mixture: dict[str, float], fid: FidelityConfig, seed: int | None = None) -> str:
        seed = self.recipe.seed if seed is None else seed
        shares = {p.name: p.share for p in self.recipe.phases}
        return identity.run_id(mixture, fid, seed, self.data().data_hash, self.trainer_identity, shares)

    def run_mixture(self, row: dict) -> tuple[dict[str, float], list[dict] | None]:
        """What a trainer gets of a run's mixture: {domain: weight} (with phases: each domain's share
        of the run's tokens) and the schedule [{name, share, mixture}] (None without phases)."""
        from mixsearch.layout import Layout

        layout = Layout.of(self.recipe)
        mixture = mixture_of(row, self.recipe.mixture_names)
        if not layout.phased:
            return mixture, None
        overall = layout.overall(np.array(list(mixture.values())))[0]
        return dict(zip(layout.domains, map(float, overall))), layout.schedule(mixture)

    def is_current_id(self, row: dict) -> bool:
        """Whether a run's id is the one the recipe's current trainer gives its mixture, fidelity and seed."""
        try:
            fid = self.fidelity_of(row)
        except UserError:
            return False
        return row["run_id"] == self.run_id(mixture_of(row, self.recipe.mixture_names), fid, int(row["seed"]))

    def new_rows(self, W: np.ndarray, status: str, round_: int, origin: str,
                 predicted: np.ndarray | None = None, fidelity: list[str] | None = None,
                 seeds: list[int] | None = None) -> list[dict]:
        """Rows for mixtures W at fidelities (names; default the target) and seeds (default the recipe's)."""
        r, data = self.recipe, self.data()
        rows = []
        for i, w in enumerate(W):
            fid = self.fidelity(fidelity[i]) if fidelity else self.target
            seed = r.seed if seeds is None else int(seeds[i])
            mixture = dict(zip(r.mixture_names, map(float, w)))
            rows.append({
                "run_id": self.run_id(mixture, fid, seed), "study": r.study, "status": status, "round": round_,
                "origin": origin, "seed": seed, "data_hash": data.data_hash, "trainer_hash": self.trainer_hash,
                "fidelity": fid.name,
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

        self.check_trainable()
        r = self.recipe
        W = mixtures.sample(self.space(), r.search.initial_runs, r.search.sampling, np.random.default_rng(r.seed))
        names = r.search.initial_fidelities or [self.target.name]
        rows = [row for name in names
                for row in self.new_rows(W, "pending", 0, f"initial:{r.search.sampling.method}", fidelity=[name] * len(W))]
        return self.add(rows + self._replicate_rows(W))

    def _replicate_rows(self, W: np.ndarray) -> list[dict]:
        """search.replicates: the noise-floor runs of the first round, at the target fidelity."""
        from mixsearch.search import noise

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

    def fidelity(self, name: str) -> FidelityConfig:
        return self.fidelities[name] if name in self.fidelities else self.scales[name]

    def fidelity_of(self, row: dict) -> FidelityConfig:
        name = row.get("fidelity")
        if isinstance(name, str) and (name in self.fidelities or name in self.scales):
            return self.fidelity(name)
        if isinstance(name, str):
            raise UserError(f"run {row['run_id']} is at fidelity '{name}', which the recipe no longer has",
                            where="proxy.fidelities")
        return self.target

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
