"""Fitting a study's surrogate, recommending a mixture and proposing the next runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixsearch.errors import UserError
from mixsearch.objectives import objective_weights
from mixsearch.store import LOSS, weights_matrix

if TYPE_CHECKING:
    from mixsearch.noise import NoiseFloor
    from mixsearch.recommend import Recommendation
    from mixsearch.study import Study
    from mixsearch.surrogate.base import Surrogate, TrainSet
    from mixsearch.surrogate.cv import CVScore

MIN_RUNS_TO_FIT = 4


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


class Modelling:
    """Study methods that model the completed runs (mixed into `Study`)."""

    def train_set(self: Study, done: pd.DataFrame | None = None) -> TrainSet:
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

    def fit(self: Study, surrogate: str | None = None, refit: bool = False) -> FitResult:
        """Cross-validate the candidate surrogates on completed runs and fit the best on all of them;
        reuse the stored fit while no run has finished since (refit: fit anew regardless)."""
        from mixsearch import noise
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
        done, stale = self.current_data(done)
        done = done.sort_values("run_id", kind="stable")  # CV folds must not depend on the order runs finished in
        runs = self.train_set(done)
        data, floor = noise.fit_data(runs, r.seed)
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

    def recommend(self: Study, fitted: FitResult) -> "Recommendation":
        """The fitted surrogate's optimum with its interval; saved as the study's latest answer."""
        from mixsearch import recommend as rc

        r = self.recipe
        cv = fitted.chosen
        rec = rc.recommend(fitted.surrogate, fitted.name, cv.mae, fitted.n_runs, self.space(), r.search, r.seed,
                           fitted.noise.sd if fitted.noise else None, rc.near_optimum_sd(cv.predicted, cv.actual),
                           fitted.data.target_only().X)
        rc.save(rec, self.store.root)
        return rec

    def propose(self: Study, fitted: FitResult, n: int | None = None, method: str | None = None) -> pd.DataFrame:
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
        df.attrs["reason"] = prop.reason
        return df
