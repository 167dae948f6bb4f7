"""Each command's one data object: the JSON document `--json` writes (its keys are listed in
docs/cli.md) and ui/views.py renders as tables. One function per command, built from the study's
results; the shapes they share (FIT, PROPOSAL, BEST, RECOMMENDATION) are built here once."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mixsearch.data.prepare import PreparedData
    from mixsearch.search.answer import Answer
    from mixsearch.search.budget import Budget
    from mixsearch.search.importer import ImportSummary
    from mixsearch.search.modelling import FitResult
    from mixsearch.search.recommendation import Recommendation
    from mixsearch.search.study import Study
    from mixsearch.search.sweep import RoundReport, SweepResult
    from mixsearch.replay.pool import Trace
    from mixsearch.search.validate import Validation


def fit_json(fit: FitResult) -> dict:
    return {"chosen": fit.name, "runs": fit.n_runs, "reused": fit.reused, "scores": [s.to_dict() for s in fit.scores],
            "noise": fit.noise.to_dict() if fit.noise else None, "warnings": fit.warnings}


def answer_json(answer: Answer, recipe: str) -> dict:
    """`recommendation`: the answer (the validated recommendation, else the latest) with
    `validated` and its `validation`; `current_recommendation`: a later fit's recommendation
    when it moved away from the validated one (null otherwise)."""
    rec = answer.recommendation
    out: dict = {"recommendation": None, "current_recommendation": None}
    if rec is None:
        return out
    val = answer.validation
    out["recommendation"] = {**rec.to_dict(), "validated": val is not None, "validation": None if val is None else {
        k: val.get(k) for k in ("fidelity", "seeds", "seeds_used", "stopped_by", "mixtures", "comparisons")}}
    if answer.current is not None:
        out["current_recommendation"] = {**answer.current.to_dict(), "validated": False,
                                         "l1_from_validated": answer.distance,
                                         "hint": f"mixsearch validate {recipe}"}
    return out


def proposal_json(rows: list[dict], names: list[str]) -> list[dict]:
    from mixsearch.store.schema import mixture_of  # pandas and pyarrow: not at the CLI's start-up

    return [{"run_id": r["run_id"], "fidelity": r.get("fidelity"), "predicted": r["predicted"],
             "mixture": mixture_of(r, names)} for r in rows]


def best_json(best: dict | None, names: list[str], rec: Recommendation | None = None) -> dict | None:
    from mixsearch.store.schema import losses_of, metrics_of, mixture_of

    if best is None:
        return None
    return {"run_id": best["run_id"], "objective": best["objective"], "noise_sd": rec.noise_sd if rec else None,
            "mixture": mixture_of(best, names), "losses": losses_of(best), "metrics": metrics_of(best)}


def pareto_json(study: Study) -> list[dict]:
    from mixsearch.store.schema import mixture_of

    from mixsearch.search.objectives import objectives_matrix, pareto_runs

    front = pareto_runs(study)
    Y = objectives_matrix(study, front)
    return [{"run_id": row["run_id"], "objectives": list(map(float, y * study.signs)),
             "mixture": mixture_of(row, study.recipe.domain_names)}
            for row, y in zip(front.to_dict("records"), Y)]


def status_document(study: Study, recipe: str) -> dict:
    """Where the study stands (`status`): nothing is fitted or written."""
    from mixsearch.search import answer
    from mixsearch.search.budget import spent
    from mixsearch.search.modelling import last_proposal
    from mixsearch.store.lock import StudyLock

    r, state, best = study.recipe, answer.state(study.store.root), study.best()
    view = study.store.runs()
    failures = view[view["status"] == "failed"][["run_id", "error"]].to_dict("records")
    return {**answer_json(state, recipe), "study": r.study, "runs": len(view),
            "by_status": {k: int(v) for k, v in view["status"].value_counts().items()}, "failed": len(failures),
            "failures": failures, "pareto": pareto_json(study) if len(r.objective_list) > 1 else None,
            "surrogate": stored_fit(study), "spent": spent(view).to_dict(), "budget": r.budget.model_dump(),
            "last_proposal": last_proposal(study.store.root), "locked_by": StudyLock(study.store.root).holder(),
            "unreadable_parts": {str(p): why for p, why in study.store.unreadable.items()},
            "best": best_json(best, r.domain_names, state.recommendation)}


def stored_fit(study: Study) -> dict | None:
    """The stored fit's summary, and whether it saw exactly the study's completed runs."""
    from mixsearch.surrogate import fitstore

    stored = fitstore.summary(study.store.root)
    if stored is None:
        return None
    done = study.completed()
    current = stored.get("runs_key") == fitstore.runs_key([str(i) for i in done.get("run_id", [])])
    return {"chosen": stored.get("chosen"), "runs": stored.get("runs"), "current": current}


def round_json(rep: RoundReport, names: list[str]) -> dict:
    """A ROUND of `run`/`sweep`: what it launched, its fit and its proposals."""
    return {"round": rep.round, "launched": rep.launched, "fit": fit_json(rep.fit) if rep.fit else None,
            "proposals": proposal_json(rep.proposals, names)}


def sweep_document(study: Study, result: SweepResult, budget: Budget, recipe: str, code: int) -> dict:
    """What `run`/`sweep` did: the answer, each round's fit and proposals, what was spent."""
    from mixsearch.search import answer

    state, names = answer.state(study.store.root), study.recipe.domain_names
    return {**answer_json(state, recipe),
            "study": study.recipe.study, "initial_added": result.initial_added, "stopped_by": result.stopped_by,
            "rounds": [round_json(rep, names) for rep in result.rounds],
            "failed": result.failed, "spent": result.spent.to_dict(),
            "budget": {"hours": budget.hours, "tokens": budget.tokens},
            "best": best_json(study.best(), names, state.recommendation), "exit_code": code}


def fit_document(study: Study, fit: FitResult, plot: str, recipe: str) -> dict:
    """`fit`: the answer, the cross-validation (FIT's keys at the top level) and the plot's path."""
    from mixsearch.search import answer

    return {**answer_json(answer.state(study.store.root), recipe), **fit_json(fit), "plot": plot}


def propose_document(study: Study, fit: FitResult, rows: list[dict], attrs: dict, recipe: str) -> dict:
    """`propose`: the answer, the fit proposed with, the stored batch, and (multi-fidelity
    proposers) the target's posterior-mean optimum and why they bought cheap runs."""
    from mixsearch.search import answer

    return {**answer_json(answer.state(study.store.root), recipe), "fit": fit_json(fit),
            "proposals": proposal_json(rows, study.recipe.domain_names),
            "mf_recommendation": attrs.get("recommendation"), "reason": attrs.get("reason") or None}


def validate_document(study: Study, result: Validation, recipe: str) -> dict:
    """`validate`: the answer (with the validation it now holds) and what was measured."""
    from mixsearch.search import answer

    measured = {k: v for k, v in result.to_dict().items() if k != "recommendation"}  # answer_json holds it
    return {**answer_json(answer.state(study.store.root), recipe), **measured}


def import_document(s: ImportSummary) -> dict:
    return {"imported": s.new, "rows": s.rows, "already_present": s.rows - s.new,
            **{k: v for k, v in asdict(s).items() if k not in ("new", "rows")}}


def prepare_document(data: PreparedData) -> dict:
    """`data prepare`: the data's hash and vocabulary, per domain and eval set its tokens and bytes."""
    return {"data_hash": data.data_hash, "vocab_size": data.vocab_size,
            "domains": {n: {"train_tokens": d.train_tokens, "val_tokens": d.val_tokens, "text_bytes": d.text_bytes,
                            "undecodable_bytes": d.undecodable_bytes, "val_bytes": d.val_bytes}
                        for n, d in {**data.domains, **data.eval_sets}.items()},
            "tasks": {n: {"examples": t.examples, "continuation_tokens": t.continuation_tokens,
                          "continuation_bytes": t.continuation_bytes} for n, t in data.tasks.items()}}


def replay_document(traces: list[list[Trace]], optima: list[float], tolerance: float, plot: str) -> dict:
    """`replay`: per strategy the median cost to the band and regret over the seeds, each seed's
    cost, the multi-fidelity strategies' last reasons, and the regret curves."""
    from mixsearch.replay import bench as rp

    return {"summary": rp.summarize(traces, optima, tolerance).to_dict("records"), "tolerance": tolerance,
            "plot": plot, "per_seed": {rp.cost_key(tolerance): rp.per_seed_costs(traces, optima, tolerance)},
            "reasons": {t.strategy: t.reasons[-1] for t in traces[-1] if t.reasons and t.reasons[-1]},
            "curves": rp.regret_curves(traces, optima).to_dict("records")}
