"""The model's commands: fit the surrogate, propose the next mixtures, validate the
recommendation with fresh runs, write the HTML report."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer

from mixsearch.cli.common import (AddressOpt, JsonOpt, RecipeArg, RunsDir, context, open_study, prepare_data,
                                  warn_unreadable, warning_unreadable)
from mixsearch.errors import EXIT_OK, EXIT_RUNS_FAILED, UserError
from mixsearch.recipe.search import Search
from mixsearch.ui import documents, views
from mixsearch.ui.output import err
from mixsearch.ui.page import show
from mixsearch.ui.progress import RunProgress, spinner

if TYPE_CHECKING:
    from mixsearch.search.modelling import FitResult
    from mixsearch.search.recommendation import Recommendation
    from mixsearch.search.study import Study

PROPOSERS = get_args(Search.model_fields["proposer"].annotation)

RefitOpt = Annotated[bool, typer.Option("--refit", help="fit anew even if the stored fit saw the same runs")]


def fit(recipe: RecipeArg, surrogate: Annotated[str | None, typer.Option(help="auto or a surrogate name")] = None,
        refit: RefitOpt = False, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Cross-validate surrogates on the completed runs, report Spearman / MAE / fit time,
    and save the chosen one's predicted-vs-actual plot (the fit is stored and reused)."""
    from mixsearch.report.plots import predicted_vs_actual, save_png
    from mixsearch.store.lock import StudyLock

    study = open_study(recipe, runs_dir)
    with warning_unreadable(study), StudyLock(study.store.root, "fit"):
        result, _ = _fit_and_recommend(study, surrogate, refit)
        fig, _ = predicted_vs_actual(study, result)
        plot = save_png(fig, study.store.root / "fit.png")
    show(documents.fit_document(study, result, str(plot), str(recipe)),
         partial(views.fit_command_page, ctx=context(study, recipe)), as_json)


def _fit_and_recommend(study: Study, surrogate: str | None, refit: bool) -> tuple[FitResult, Recommendation]:
    """Fit (or reuse the stored fit) and record its recommendation, with progress on stderr."""
    from mixsearch.search import modelling

    modelling.check_fit(study, surrogate)  # a study that cannot be fitted is one error line, no progress
    with spinner("cross-validating surrogates"):
        result = modelling.fit(study, surrogate, refit)
    with spinner(f"recommending: the {result.name} surrogate's optimum and a bootstrap of it"):
        rec = modelling.recommend(study, result)
    return result, rec


def propose(recipe: RecipeArg, n: Annotated[int | None, typer.Option("--n", min=1, help="batch size")] = None,
            method: Annotated[str | None, typer.Option(help=f"proposer: {', '.join(PROPOSERS)} (default: recipe)")] = None,
            surrogate: Annotated[str | None, typer.Option(help="auto or a surrogate name")] = None,
            refit: RefitOpt = False, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Fit the surrogate (or reuse the stored fit) and store the next batch of mixtures as 'proposed' runs."""
    from mixsearch.search import modelling
    from mixsearch.store.lock import StudyLock

    if method not in (None, *PROPOSERS):
        raise UserError(f"unknown method '{method}' (use {', '.join(PROPOSERS)})", where="--method")
    study = open_study(recipe, runs_dir)
    prepare_data(study, True)
    with warning_unreadable(study), StudyLock(study.store.root, "propose"):
        result, _ = _fit_and_recommend(study, surrogate, refit)
        with spinner("proposing"):
            frame = modelling.propose_next(study, result, n, method)
    show(documents.propose_document(study, result, frame.to_dict("records"), frame.attrs, str(recipe)),
         partial(views.propose_page, ctx=context(study, recipe)), as_json)


def validate_cmd(recipe: RecipeArg,
                 seeds: Annotated[str, typer.Option(help="seeds per mixture (the same for all), or auto: add "
                                                         "paired rounds until the verdict against uniform is "
                                                         "decided or --max-seeds")] = "3",
                 max_seeds: Annotated[int, typer.Option("--max-seeds", min=2, help="with --seeds auto: at most "
                                                        "this many seeds")] = 12,
                 fidelity: Annotated[list[str] | None, typer.Option(help="a fidelity of the plan (default: target); "
                                                                  "repeat it for several scales")] = None,
                 tokens: Annotated[list[int] | None, typer.Option(min=1, help="override: training tokens; repeat it "
                                                                  "for several scales")] = None,
                 width: Annotated[int | None, typer.Option(min=8, help="override: model width")] = None,
                 layers: Annotated[int | None, typer.Option(min=1, help="override: model layers")] = None,
                 mixture: Annotated[list[str] | None, typer.Option("--mixture", help="also train name=w1,w2,... "
                                                                   "(domain order)")] = None,
                 mixtures: Annotated[Path | None, typer.Option("--mixtures", help="CSV/YAML of named mixtures")] = None,
                 address: AddressOpt = None, runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Train the latest recommendation beside uniform, natural and the best run's mixture (same
    seeds); print mean ± sd, paired differences with 95% intervals, an exact signed-rank test and
    a verdict. At two or more scales (repeated --fidelity/--tokens) also whether the ranking and the
    gain over uniform hold at the largest. The validated recommendation becomes the study's answer. Resumable."""
    from mixsearch.search import validate as va
    from mixsearch.search.launch import training

    n_seeds, auto = _seeds(seeds)
    study = open_study(recipe, runs_dir)
    extra = _extra_mixtures(mixture, mixtures, study.recipe.domain_names)
    with training(study, "validate"):
        prepare_data(study, as_json)
        rec = _recommendation(study)
        with RunProgress("validation runs") as progress:
            scales = [va.scale(study, f, t, width, layers) for f in fidelity or [None] for t in tokens or [None]]
            result = va.validate(study, rec, n_seeds, scales, extra, address, on_result=progress.on_result,
                                 on_start=progress.grow, max_seeds=max(max_seeds, n_seeds) if auto else None,
                                 on_round=lambda scale, c: progress.note(_round_line(scale, c)))
    show(documents.validate_document(study, result, str(recipe)),
         partial(views.validate_page, ctx=context(study, recipe)), as_json)
    raise typer.Exit(EXIT_RUNS_FAILED if result.launched["failed"] else EXIT_OK)


def _extra_mixtures(given: list[str] | None, path: Path | None, names: list[str]) -> dict:
    """The mixtures named on the command line (--mixture) and in a file (--mixtures): name -> weights."""
    from mixsearch.search.named_mixtures import parse_mixture, read_mixtures

    extra = dict(parse_mixture(m, names) for m in given or [])
    extra.update(read_mixtures(path, names) if path else {})
    return extra


def _recommendation(study: Study) -> Recommendation:
    """The latest recommendation; without one, the surrogate is fitted and its optimum recorded."""
    from mixsearch.search.recommendation import load

    return load(study.store.root) or _fit_and_recommend(study, None, False)[1]


def _seeds(text: str) -> tuple[int, bool]:
    """`--seeds N` or `--seeds auto` (start with 3): the seeds to start with, and whether to add more."""
    if text.strip().lower() == "auto":
        return 3, True
    try:
        n = int(text)
    except ValueError:
        raise UserError(f"'{text}': expected a number of seeds or auto", where="--seeds") from None
    if n < 1:
        raise UserError("must be >= 1", where="--seeds")
    return n, False


def _round_line(scale: str, c) -> str:
    lo, hi = c.interval
    return (f"{scale}, {c.seeds} seeds: uniform - recommendation {c.diff:+.4f} [{lo:+.4f}, {hi:+.4f}], "
            f"signed-rank p {c.wilcoxon_p:.3f}: {c.verdict}")


def report(recipe: RecipeArg, out_path: Annotated[Path | None, typer.Option("--out", help="HTML file")] = None,
           refit: Annotated[bool, typer.Option("--refit", help="fit anew and record its recommendation (takes "
                                               "the study lock); without it the report only reads")] = False,
           runs_dir: RunsDir = Path("runs")) -> None:
    """The study's page as one self-contained HTML file (interactive, no network needed): the answer,
    objective by domain weight, history, surrogate, fidelities, Pareto front, runs. It reads the
    stored fit and recommendations; --refit fits anew first."""
    from mixsearch.store.lock import StudyLock
    from mixsearch.report.html import write_report

    study = open_study(recipe, runs_dir)
    if refit:
        with StudyLock(study.store.root, "report"):
            _fit_and_recommend(study, None, True)
    path = write_report(study, out_path or study.store.root / "report.html", str(recipe))
    warn_unreadable(study)
    err.print(f"wrote {path}")
