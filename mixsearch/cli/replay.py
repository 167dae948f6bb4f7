"""The replay command: benchmark search strategies on a pool of completed (or synthetic) runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mixsearch.cli.common import JsonOpt, RunsDir, open_study, warning_unreadable
from mixsearch.errors import UserError
from mixsearch.ui import documents, views
from mixsearch.ui.page import show
from mixsearch.ui.progress import spinner

if TYPE_CHECKING:
    from mixsearch.replay.pool import Pool, Trace
    from mixsearch.search.study import Study


def replay_cmd(recipe: Annotated[Path | None, typer.Argument(help="replay this study's completed runs "
                                                                 "(default: a synthetic pool)")] = None,
               strategies: Annotated[str, typer.Option(help="comma-separated: random, regmix, gp-bo, mf-bo, mf-ar")] =
               "random,regmix,gp-bo,mf-bo,mf-ar",
               seeds: Annotated[int, typer.Option(min=1, help="repetitions (synthetic: a new pool each)")] = 5,
               budget: Annotated[float, typer.Option(min=0.01, help="cost per strategy, in target-run units")] = 40.0,
               domains: Annotated[int, typer.Option(min=2, help="synthetic: domains")] = 6,
               pool_size: Annotated[int, typer.Option("--pool", min=10, help="synthetic: mixtures in the pool")] = 400,
               family: Annotated[str, typer.Option(help="synthetic: standard, weak (poorly correlated cheap fidelities, "
                                                        "a flat optimum plateau), moderate (cheap fidelities at cost "
                                                        "0.2/0.5 ranking the target moderately), useless (cheap "
                                                        "fidelities that say nothing), narrow (a 15% band)")] =
               "standard",
               tolerance: Annotated[float, typer.Option(help="'found' = within this fraction of the pool optimum")] = 0.01,
               out_path: Annotated[Path | None, typer.Option("--out", help="plot file (default: "
                                                                           "runs/<study or synthetic>/replay.png)")] = None,
               runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False) -> None:
    """Benchmark search strategies by replaying them on a pool of completed runs: best found vs cost."""
    from mixsearch.replay import bench as rp

    names = _strategies(strategies)
    study = open_study(recipe, runs_dir) if recipe is not None else None
    out_path = out_path or Path(runs_dir) / (study.recipe.study if study else "synthetic") / "replay.png"
    pools = _study_pools(study, seeds) if study is not None else _synthetic_pools(family, domains, pool_size, seeds)
    traces = _replay_all(pools, names, budget, tolerance)
    rp.plot(traces, [p.optimum for p in pools], out_path)
    show(documents.replay_document(traces, [p.optimum for p in pools], tolerance, str(out_path)), views.replay_page,
         as_json)


def _strategies(text: str) -> list[str]:
    """The comma-separated strategy names, each a known one."""
    from mixsearch.replay import bench as rp

    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in rp.STRATEGIES]
    if unknown or not names:
        raise UserError(f"unknown strategy '{unknown[0] if unknown else ''}' (use {', '.join(rp.STRATEGIES)})",
                        where="--strategies")
    return names


def _study_pools(study: Study, seeds: int) -> list[Pool]:
    """The study's completed runs as the pool of every seed."""
    from mixsearch.replay import bench as rp
    from mixsearch.search import modelling
    from mixsearch.search.modelling import MIN_RUNS_TO_FIT

    with warning_unreadable(study):
        done = study.completed_at_target()
    if len(done) < MIN_RUNS_TO_FIT:
        raise UserError(f"needs at least {MIN_RUNS_TO_FIT} completed target-fidelity runs to replay",
                        where=f"study {study.recipe.study}")
    data = modelling.train_set(study)
    return [rp.pool_from_runs(data.X, data.fidelities, data.y)] * seeds


def _synthetic_pools(family: str, domains: int, size: int, seeds: int) -> list[Pool]:
    """A new synthetic pool per seed."""
    from mixsearch.replay import bench as rp

    if family not in rp.FAMILIES:
        raise UserError(f"unknown family '{family}' (use {', '.join(rp.FAMILIES)})", where="--family")
    return [rp.synthetic_pool(domains, size, seed, family=family) for seed in range(seeds)]


def _replay_all(pools: list[Pool], names: list[str], budget: float, tolerance: float) -> list[list[Trace]]:
    """Each strategy on each seed's pool, one step at a time with an ETA from the steps so far."""
    import warnings

    from mixsearch.replay import bench as rp

    traces: list[list[Trace]] = []
    total, start = len(pools) * len(names), time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed, pool in enumerate(pools):
            traces.append([])
            for name in names:
                step = len(traces[-1]) + seed * len(names)
                eta = "" if not step else f", eta {(time.monotonic() - start) / step * (total - step):.0f} s"
                with spinner(f"replay {step + 1}/{total}: seed {seed} {name}{eta}"):
                    traces[-1] += rp.replay(pool, [name], budget, seed, tolerance)
    return traces
