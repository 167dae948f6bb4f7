"""The pieces of the CLI's JSON documents (their schemas are in README.md, "JSON output")."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mixsearch.search.answer import Answer
    from mixsearch.search.modelling import FitResult
    from mixsearch.search.recommendation import Recommendation
    from mixsearch.search.study import Study


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
             "mixture": mixture_of(row, study.recipe.mixture_names)}
            for row, y in zip(front.to_dict("records"), Y)]
