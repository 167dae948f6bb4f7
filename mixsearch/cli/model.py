"""The model's commands: fit the surrogate, propose the next mixtures, validate the
recommendation with fresh runs, write the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, get_args

import typer

from mixsearch.cli.common import (AddressOpt, JsonOpt, RecipeArg, RunsDir, open_study, prepare_data, warn_unreadable,
                                  warning_unreadable)
from mixsearch.errors import EXIT_OK, EXIT_RUNS_FAILED, UserError
from mixsearch.recipe_search import Search
from mixsearch.ui import documents
from mixsearch.ui.output import emit_json, err, out
from mixsearch.ui.progress import RunProgress, spinner
from mixsearch.ui.tables import mixture_table, print_fit, recommendation_table

PROPOSERS = get_args(Search.model_fields["proposer"].annotation)

RefitOpt = Annotated[bool, typer.Option("--refit", help="fit anew even if the stored fit saw the same runs")]


def fit(recipe: RecipeArg, surrogate: Annotated[str | None, typer.Option(help="auto or a surrogate name")] = None,
        refit: RefitOpt = False, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Cross-validate surrogates on the completed runs, report Spearman / MAE / fit time,
    and save the chosen one's predicted-vs-actual plot (the fit is stored and reused)."""
    from mixsearch.plotting import save_png
    from mixsearch.report import predicted_vs_actual

    study = open_study(recipe, runs_dir)
    with warning_unreadable(study), spinner("cross-validating surrogates"):
        result = study.fit(surrogate, refit)
        rec = study.recommend(result)
        fig, _ = predicted_vs_actual(study, result)
        plot = save_png(fig, study.store.root / "fit.png")
    if as_json:
        emit_json({"recommendation": rec.to_dict(), **documents.fit_json(result), "plot": str(plot)})
    else:
        out.print(recommendation_table(rec, study.recipe.domain_names))
        print_fit(result)
        err.print(f"predicted vs actual: {plot}")


def propose(recipe: RecipeArg, n: Annotated[int | None, typer.Option("--n", min=1, help="batch size")] = None,
            method: Annotated[str | None, typer.Option(help=f"proposer: {', '.join(PROPOSERS)} (default: recipe)")] = None,
            surrogate: Annotated[str | None, typer.Option(help="auto or a surrogate name")] = None,
            refit: RefitOpt = False, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Fit the surrogate (or reuse the stored fit) and store the next batch of mixtures as 'proposed' runs."""
    from mixsearch.lock import StudyLock

    if method not in (None, *PROPOSERS):
        raise UserError(f"unknown method '{method}' (use {', '.join(PROPOSERS)})", where="--method")
    study = open_study(recipe, runs_dir)
    prepare_data(study, True)
    with (warning_unreadable(study), StudyLock(study.store.root, "propose"),
          spinner("fitting the surrogate and proposing")):
        result = study.fit(surrogate, refit)
        rec = study.recommend(result)
        frame = study.propose(result, n, method)
        rows = frame.to_dict("records")
    names = study.recipe.domain_names
    if as_json:
        emit_json({"recommendation": rec.to_dict(), "fit": documents.fit_json(result),
                   "proposals": documents.proposal_json(rows, names),
                   "mf_recommendation": frame.attrs.get("recommendation"), "reason": frame.attrs.get("reason") or None})
    else:
        out.print(recommendation_table(rec, names))
        out.print(mixture_table(rows, names, "proposed mixtures", "predicted"))
        if frame.attrs.get("recommendation"):
            rec = ", ".join(f"{k}={v:.3f}" for k, v in frame.attrs["recommendation"].items())
            out.print(f"recommended at the target fidelity (posterior-mean optimum): {rec}")
        if frame.attrs.get("reason"):
            err.print(f"fidelities: {frame.attrs['reason']}")


def validate_cmd(recipe: RecipeArg,
                 seeds: Annotated[int, typer.Option(min=1, help="seeds per mixture (the same for all)")] = 3,
                 fidelity: Annotated[str | None, typer.Option(help="a fidelity of the plan (default: target)")] = None,
                 tokens: Annotated[int | None, typer.Option(min=1, help="override: training tokens")] = None,
                 width: Annotated[int | None, typer.Option(min=8, help="override: model width")] = None,
                 layers: Annotated[int | None, typer.Option(min=1, help="override: model layers")] = None,
                 mixture: Annotated[list[str] | None, typer.Option("--mixture", help="also train name=w1,w2,... "
                                                                   "(domain order)")] = None,
                 mixtures: Annotated[Path | None, typer.Option("--mixtures", help="CSV/YAML of named mixtures")] = None,
                 address: AddressOpt = None, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Train the recommendation beside uniform, natural and the best run's mixture (same seeds);
    print mean ± sd, paired differences with 95% intervals and a verdict. Resumable."""
    from mixsearch import validate as va
    from mixsearch.lock import StudyLock
    from mixsearch.recommend import load as load_recommendation
    from mixsearch.study import shutdown

    study = open_study(recipe, runs_dir)
    names = study.recipe.domain_names
    extra = dict(va.parse_mixture(m, names) for m in mixture or [])
    extra.update(va.read_mixtures(mixtures, names) if mixtures else {})
    with StudyLock(study.store.root, "validate"):
        prepare_data(study, as_json)
        rec = load_recommendation(study.store.root) or study.recommend(study.fit())
        try:
            with RunProgress("validation runs") as progress:
                result = va.validate(study, rec, seeds, va.scale(study, fidelity, tokens, width, layers), extra,
                                     address, on_result=progress.on_result, on_start=progress.grow)
        finally:
            shutdown()
            study.store.compact()
    if as_json:
        emit_json({"recommendation": rec.to_dict(), **result.to_dict()})
    else:
        out.print(recommendation_table(rec, names))
        out.print(va.table(result))
    raise typer.Exit(EXIT_RUNS_FAILED if result.launched["failed"] else EXIT_OK)


def report(recipe: RecipeArg, out_path: Annotated[Path | None, typer.Option("--out", help="HTML file")] = None,
           runs_dir: RunsDir = Path("runs")) -> None:
    """A self-contained HTML report: history, surrogate fit, mixtures, per-domain losses, fidelities."""
    from mixsearch.report import write_report

    study = open_study(recipe, runs_dir)
    path = write_report(study, out_path or study.store.root / "report.html")
    warn_unreadable(study)
    err.print(f"wrote {path}")
