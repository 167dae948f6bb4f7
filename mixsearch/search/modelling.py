"""Fitting a study's surrogate, recommending a mixture and proposing the next runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixsearch.errors import UserError
from mixsearch.search.objectives import objective_weights, objectives_matrix, user_sign
from mixsearch.paths import read_cached, write_atomic
from mixsearch.search.identity import current_data, current_trainer
from mixsearch.store.schema import LOSS, weights_matrix

if TYPE_CHECKING:
    from mixsearch.search.noise import NoiseFloor
    from mixsearch.search.recommendation import Recommendation
    from mixsearch.search.study import Study
    from mixsearch.surrogate.base import Surrogate, TrainSet
    from mixsearch.surrogate.cv import CVScore

MIN_RUNS_TO_FIT = 4
UNPHASED = ("bimix",)  # laws in each domain's own weight: no meaning for a weight per phase and domain


@dataclass
class FitResult:
    """A fitted surrogate with the cross-validation that chose it (the CV is stored and reused)."""

    name: str
    scores: list[CVScore]
    surrogate: Surrogate
    n_runs: int
    data: TrainSet
    key: str = ""  # what the fit saw (runs and settings); see surrogate/fitstore.py
    reused: bool = False  # loaded from runs/<study>/fit/ rather than fitted now
    noise: NoiseFloor | None = None  # seed noise, from replicates
    warnings: list[str] = field(default_factory=list)
    explore: bool = False  # auto found no surrogate that beats chance: proposals explore, predictions untrusted
    runs_key: str = ""  # hash of the completed runs' ids (see fitstore.runs_key)

    @property
    def chosen(self) -> CVScore:
        return next(s for s in self.scores if s.name == self.name)


def train_set(study: Study, done: pd.DataFrame | None = None) -> TrainSet:
    """Completed runs as a surrogate's training set, the objective sign-adjusted (always minimised)."""
    from mixsearch.surrogate.base import TrainSet

    done = study.completed() if done is None else done
    obj = study.recipe.objective_list[0]
    weights = objective_weights(obj, study.recipe.domain_names)
    cols = [LOSS + k for k in weights]
    parts = None
    if weights and obj.sign > 0 and all(c in done for c in cols):
        P = done[cols].to_numpy(float)
        parts = P if np.isfinite(P).all() else None
    return TrainSet(weights_matrix(done, study.recipe.mixture_names), obj.sign * done["objective"].to_numpy(float),
                    study.fidelity_values(done), parts,
                    np.array(list(weights.values())) if parts is not None else None)


def check_fit(study: Study, surrogate: str | None = None) -> str:
    """The surrogate choice a fit would make; a UserError if the study cannot be fitted."""
    from mixsearch.surrogate.base import known_surrogates

    done = study.completed()
    n_target = int(np.isclose(study.fidelity_values(done), 1.0).sum()) if len(done) else 0
    if n_target < MIN_RUNS_TO_FIT:
        raise UserError(f"needs at least {MIN_RUNS_TO_FIT} completed target-fidelity runs to fit a surrogate, "
                        f"has {n_target} (run `mixsearch run` first)", where=f"study {study.recipe.study}")
    choice = surrogate or study.recipe.search.surrogate
    if choice != "auto" and choice not in known_surrogates():
        raise UserError(f"unknown surrogate '{choice}' (known: auto, {', '.join(known_surrogates())})",
                        where="--surrogate")
    if choice in UNPHASED and study.recipe.phases:
        raise UserError(f"{choice} models one mixture per run, not phases", where="--surrogate")
    return choice


def fit(study: Study, surrogate: str | None = None, refit: bool = False,
        stored_only: bool = False) -> FitResult | None:
    """Cross-validate the candidate surrogates on completed runs and fit the best on all of them;
    reuse the stored fit while no run has finished since (refit: fit anew regardless;
    stored_only: never fit, None without a stored fit of these runs)."""
    from mixsearch.search import noise
    from mixsearch.surrogate import fitstore
    from concurrent.futures import ThreadPoolExecutor

    from mixsearch.surrogate.base import known_surrogates, make_surrogate, surrogate_class
    from mixsearch.surrogate.cv import chance_warning, select

    r = study.recipe
    choice = check_fit(study, surrogate)
    done = study.completed()
    names = [n for n in known_surrogates() if not (r.phases and n in UNPHASED)] if choice == "auto" else [choice]
    done, stale = current_data(done, study.data().data_hash)
    done, other_trainer = current_trainer(done, study.trainer_hash, study.is_current_id)
    done = done.sort_values("run_id", kind="stable")  # CV folds must not depend on the order runs finished in
    runs = train_set(study, done)
    data, floor = noise.fit_data(runs, r.seed)
    run_ids = [str(i) for i in done["run_id"]]
    settings = {"choice": choice, "names": names, "folds": r.search.cv_folds, "seed": r.seed,
                "budget_s": r.search.fit_budget_s, "objective": r.objective.model_dump()}
    key = fitstore.data_key(data, run_ids, settings)
    stored = None if refit else fitstore.load(study.store.root, key)  # the CV; the chosen one is refitted
    if stored is None and stored_only:
        return None
    with ThreadPoolExecutor(1) as pool:  # a pinned family whose fits are independent: fitted beside its CV
        early = (pool.submit(make_surrogate(names[0], r.seed).fit, data)
                 if stored is None and len(names) == 1 and surrogate_class(names[0]).independent_fits else None)
        best, scores = stored or select(names, data, r.search.cv_folds, r.seed, r.search.fit_budget_s)
        model = early.result() if early is not None and best == names[0] else make_surrogate(best, r.seed).fit(data)
    result = FitResult(best, scores, model, len(data), data, key,
                       reused=stored is not None, noise=floor, runs_key=fitstore.runs_key(run_ids))
    result.explore = choice == "auto" and not result.chosen.beats_chance
    result.warnings = noise.fit_warnings(result.chosen, len(data.target_only()), len(r.mixture_names), floor)
    if (line := chance_warning(result.chosen, choice == "auto")) is not None:
        result.warnings.insert(0, line)
    if other_trainer:
        result.warnings.insert(0, f"{other_trainer} run(s) trained by another trainer (proxy.trainer changed) "
                                  "are excluded from the fit")
    if stale:
        result.warnings.insert(0, f"{stale} run(s) trained on an older data hash are excluded from the fit")
    if stored is None:
        fitstore.save(study.store.root, key, result, {"chosen": best, "runs": len(data),
                                                     "runs_key": fitstore.runs_key(run_ids)})
    return result


def recommend(study: Study, fitted: FitResult, stability: bool = True) -> "Recommendation":
    """The fitted surrogate's optimum with its interval and (stability) a bootstrap of its
    weights; recorded as the study's latest recommendation (the caller holds the study lock)."""
    from mixsearch.propose.simplex import Support, draw_candidates
    from mixsearch.search import answer
    from mixsearch.search import recommendation as rc
    from mixsearch.search.stability import bootstrap

    r = study.recipe
    cv = fitted.chosen
    space = study.space()
    near = Support(fitted.data.target_only().X)  # shared by the optimum and its bootstrap,
    cands = draw_candidates(space, r.search, r.seed)  # as are the candidates they rank
    rec = rc.recommendation(fitted.surrogate, fitted.name, cv.mae, fitted.n_runs, space, r.search, r.seed,
                            fitted.noise.sd if fitted.noise else None, rc.near_optimum_sd(cv.predicted, cv.actual),
                            near, fitted.runs_key, cands)
    lo, hi = sorted(user_sign(study.signs[0], rec.interval))
    rec = replace(rec, predicted=float(user_sign(study.signs[0], rec.predicted)), interval=(lo, hi),
                  trusted=cv.beats_chance)
    known = answer.find(study.store.root, rec.id)
    if known is not None and known.stability is not None:
        rec = replace(rec, stability=known.stability)
    elif stability:
        w = np.array([rec.mixture[n] for n in space.names])
        rec = replace(rec, stability=bootstrap(fitted.name, fitted.data, w, space, r.search, r.seed,
                                               scores=fitted.scores, near=near, candidates=cands))
    return answer.record(study.store.root, rec)


def propose_next(study: Study, fitted: FitResult, n: int | None = None, method: str | None = None) -> pd.DataFrame:
    """Propose the next batch (mixtures and fidelities); store it as 'proposed' rows."""
    from mixsearch.propose.base import FidelityLevel, ProposalContext
    from mixsearch.propose.batch import propose

    r = study.recipe
    view = study.store.runs()
    n = n or r.search.batch_size
    multi = len(r.objective_list) > 1
    explore = fitted.explore and method is None and not multi  # no surrogate to trust: space-filling
    default = r.search.proposer if not multi or r.search.proposer in ("motpe", "nsga2") else "motpe"
    method = method or ("qmc" if explore else default)
    if multi and method not in ("motpe", "nsga2"):
        raise UserError(f"a study with several objectives proposes with motpe or nsga2, not {method}",
                        where="search.proposer")
    past = weights_matrix(view, r.mixture_names) if len(view) else None
    round_ = int(view["round"].max()) + 1 if len(view) else 1
    levels = [FidelityLevel(f.name, f.value) for f in study.fidelities.values()]
    target = study.completed_at_target()
    pending = study.unfinished()
    surrogate = None if explore else fitted.surrogate
    ctx = ProposalContext(surrogate, study.space(), fitted.data, levels, r.search, r.seed + round_, past,
                          study.fidelity_values(view) if len(view) else None,
                          objectives=None if len(r.objective_list) < 2 else
                          (weights_matrix(target, r.mixture_names), objectives_matrix(study, target)),
                          pending=weights_matrix(pending, r.mixture_names) if len(pending) else None,
                          pending_fid=study.fidelity_values(pending) if len(pending) else None)
    prop = propose(ctx, n, method)
    origin = f"propose:{method}/{'explore' if explore else fitted.name}"
    rows = study.new_rows(prop.W, "proposed", round_, origin, user_sign(study.signs[0], prop.predicted),
                         prop.fidelity)
    study.add(rows)
    df = pd.DataFrame(rows)
    if prop.recommendation is not None:
        df.attrs["recommendation"] = dict(zip(r.mixture_names, map(float, prop.recommendation)))
    df.attrs["reason"] = prop.reason
    save_last_proposal(study.store.root, method, prop.fidelity, prop.reason)
    return df


LAST_PROPOSAL = "proposal.json"


def save_last_proposal(root: Path, method: str, fidelities: list[str], reason: str) -> None:
    """What the latest proposal did and why (the caller holds the study lock): `status` shows it."""
    doc = {"method": method, "fidelities": sorted(set(fidelities)), "reason": reason or None}
    write_atomic(root / LAST_PROPOSAL, json.dumps(doc))


def last_proposal(root: Path) -> dict | None:
    """The latest proposal's method, fidelities and reason (None without one; a damaged file warns)."""
    def parse(doc: object) -> dict:
        if not isinstance(doc, dict) or not isinstance(doc.get("method"), str) \
                or not isinstance(doc.get("reason"), (str, type(None))) or not isinstance(doc.get("fidelities"), list):
            raise ValueError("not a proposal record")
        return doc
    return read_cached(root / LAST_PROPOSAL, parse)
