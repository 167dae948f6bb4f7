"""Each command's document (ui/documents.py) rendered as rich tables and lines: a function per
command, reading only the document and a few words of context (the recipe's path for hints,
whether the study trains runs, the objectives' labels)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from mixsearch.ui.page import Page
from mixsearch.ui.tables import (REPLICATES_HINT, fit_table, mixture_table, num, recommendation_table, records_table,
                                 transfer_table, validation_line, validation_table)


@dataclass(frozen=True)
class Context:
    recipe: str = ""  # the recipe's path, as the user gave it (for the commands the hints suggest)
    trains: bool = True  # the study trains runs (not fit-only): replicates can measure seed noise
    labels: tuple[str, ...] = ()  # the objectives' labels (several objectives: the Pareto table's columns)


def answer_page(doc: dict, ctx: Context) -> Page:
    """The answer first: the validated recommendation with its measured result, then a later fit's
    recommendation, when one moved it, labelled "not validated" with its distance and a hint."""
    page, rec, current = Page(), doc["recommendation"], doc["current_recommendation"]
    if rec is None:
        return page
    page.out(recommendation_table(rec, " (validated)" if rec["validated"] else " (not validated)"))
    if rec["validated"]:
        page.out(validation_line(rec["validation"]))
    for r in (rec, current):
        if r is not None and (line := _stability_warning(r)):
            page.err(f"warning: {line}")
    if current is not None:
        page.out(recommendation_table(current, " from a later fit (not validated)"))
        page.out(f"the latest fit moved the recommendation by L1 {num(current['l1_from_validated'], '.3f')} from the "
                 f"validated one, which stays the answer; `mixsearch validate {ctx.recipe}` measures the new one")
    elif not rec["validated"]:
        page.out(f"not validated yet: `mixsearch validate {ctx.recipe} --seeds auto` measures it against uniform")
    return page


def _stability_warning(rec: dict) -> str | None:
    from mixsearch.search.stability import Stability

    return Stability.from_dict(rec["stability"]).warning() if rec.get("stability") else None


def best_page(best: dict | None, ctx: Context) -> Page:
    """The best observed run, only with its noise band (it is one seed, not the answer)."""
    page = Page()
    if best:
        page.out(mixture_table([best], "best observed run (one seed: not the answer)", "objective"))
        sd = best["noise_sd"]
        band = (f" ± {num(sd)} (seed sd)" if sd else
                " (seed noise not measured" + (f": {REPLICATES_HINT})" if ctx.trains else ")"))
        page.out(f"best observed objective {num(best['objective'])}{band}")
    return page


def fit_page(fit: dict, ctx: Context) -> Page:
    """A FIT: the cross-validation table on stdout, its warnings on stderr."""
    page = Page()
    page.out(fit_table(fit, ctx.trains))
    for line in fit["warnings"]:
        page.err(f"warning: {line}")
    return page


def status_page(doc: dict, ctx: Context) -> Page:
    """`status`: the answer, runs by status, spending, lock, stored fit, failures, Pareto set or best run."""
    page = answer_page(doc, ctx)
    table = Table(title=f"study {doc['study']}: {doc['runs']} runs")
    table.add_column("status")
    table.add_column("runs", justify="right")
    for k, v in sorted(doc["by_status"].items()):
        table.add_row(k, str(v))
    page.out(table)
    used, hours = doc["spent"], doc["budget"]["hours"]
    limit = f" of {hours:g} h budget" if hours else ""
    page.out(f"spent: {used['cpu_hours']:.3f} CPU-h, {used['gpu_hours']:.3f} GPU-h{limit}; {used['tokens']:,} tokens")
    if lock := doc["locked_by"]:
        page.out(f"locked by pid {lock.get('pid')} on {lock.get('host')} ({lock.get('command')})")
    if fitted := doc["surrogate"]:
        page.out(f"surrogate: {fitted['chosen']} fitted on {fitted['runs']} runs "
                 f"({'current' if fitted['current'] else 'stale: runs finished since; fit/propose refit it'})")
    if (proposal := doc["last_proposal"]) and proposal.get("reason"):
        page.out(f"last proposal ({proposal['method']}, {', '.join(proposal['fidelities'])}): {proposal['reason']}")
    for f in doc["failures"]:
        page.out(Text.assemble(("failed", "red"), f" {f['run_id'][:10]}: {f['error']}"))
    if doc["pareto"]:
        table = Table(title="Pareto set (completed target-fidelity runs)")
        table.add_column("run_id")
        for label in ctx.labels:
            table.add_column(label, justify="right")
        for p in doc["pareto"]:
            table.add_row(p["run_id"][:10], *[num(v) for v in p["objectives"]])
        page.out(table)
    else:
        page.extend(best_page(doc["best"], ctx))
    return page


def round_page(doc: dict, ctx: Context) -> Page:
    """A round of `run`/`sweep` as it ends (`doc`: the answer's keys and ROUND's): the answer, the
    fit and the proposals."""
    page = answer_page(doc, ctx)
    page.extend(fit_page(doc["fit"], ctx))
    page.out(mixture_table(doc["proposals"], f"proposed mixtures (after round {doc['round']})", "predicted"))
    return page


def sweep_page(doc: dict, ctx: Context) -> Page:
    """`run`/`sweep` at the end: the answer, the best run, why it stopped and what was spent."""
    page = answer_page(doc, ctx)
    page.extend(best_page(doc["best"], ctx))
    s = doc["spent"]
    page.err(f"stopped by {doc['stopped_by']}; {doc['failed']} run(s) failed in this invocation; study total "
             f"{s['runs']} runs, {s['cpu_hours']:.3f} CPU-h, {s['gpu_hours']:.3f} GPU-h, {s['tokens']:,} tokens")
    return page


def fit_command_page(doc: dict, ctx: Context) -> Page:
    """`fit`: the answer, the cross-validation, and where the plot is."""
    page = answer_page(doc, ctx)
    page.extend(fit_page(doc, ctx))
    page.err(f"predicted vs actual: {doc['plot']}")
    return page


def propose_page(doc: dict, ctx: Context) -> Page:
    """`propose`: the answer, the stored batch, and the multi-fidelity proposers' optimum and reason."""
    page = answer_page(doc, ctx)
    page.out(mixture_table(doc["proposals"], "proposed mixtures", "predicted"))
    if mf := doc["mf_recommendation"]:
        rec = ", ".join(f"{k}={num(v, '.3f')}" for k, v in mf.items())
        page.out(f"recommended at the target fidelity (posterior-mean optimum): {rec}")
    if doc["reason"]:
        page.err(f"fidelities: {doc['reason']}")
    return page


def validate_page(doc: dict, ctx: Context) -> Page:
    """`validate`: the answer, each scale's validation table, and the scale transfer."""
    page = answer_page(doc, ctx)
    for measured in doc.get("scales") or [doc]:
        page.out(validation_table(measured, doc["recommendation_id"]))
    if doc.get("transfer") is not None:
        page.out(transfer_table(doc["transfer"]))
    return page


def import_page(doc: dict) -> Page:
    page = Page()
    page.err(f"imported {doc['imported']} new runs ({doc['already_present']} of {doc['rows']} rows were already "
             "in the store)")
    for key, what in (("renormalized", "rows renormalized to sum to one"),
                      ("skipped_not_done", "rows skipped: not done"),
                      ("unmatched", "rows without a partner in the other file")):
        if doc[key]:
            page.err(f"{doc[key]} {what}")
    return page


def prepare_page(doc: dict) -> Page:
    """`data prepare`: each task eval set's examples, the data's hash (each domain's line is progress)."""
    page = Page()
    for n, t in doc["tasks"].items():
        page.err(f"  {n}: {t['examples']:,} examples, {t['continuation_tokens']:,} continuation tokens "
                 f"({t['continuation_bytes']:,} bytes)")
    page.err(f"data hash {doc['data_hash']}, vocabulary {doc['vocab_size']}")
    return page


def replay_page(doc: dict) -> Page:
    """`replay`: the median per strategy over the seeds, and where the plot is."""
    seeds = max((len(v) for costs in doc["per_seed"].values() for v in costs.values()), default=0)
    page = Page()
    page.out(records_table(doc["summary"], f"replay: median over {seeds} seed(s), cost in target-run units",
                           left=("strategy",)))
    page.err(f"plot: {doc['plot']}")
    return page


def logs_page(doc: dict) -> Page:
    """`logs`: the run's status, its stored streams, and its curve as a table."""
    page, curve = Page(), doc["curve"]
    page.out(f"run {doc['run_id']}: {doc['status']}" + (f" ({doc['error']})" if doc["error"] else ""))
    for stream, text in doc["logs"].items():
        page.out(Rule(stream))
        page.out(text.removesuffix("\n"))
    if curve and not (isinstance(curve, list) and all(isinstance(p, dict) for p in curve)):
        page.err(f"curve: not a list of points, shown as stored: {json.dumps(curve)[:2000]}", soft_wrap=True)
    elif curve:
        keys = list(dict.fromkeys(k for point in curve for k in point))
        table = Table(title="curve")
        for k in keys:
            table.add_column(k, justify="right")
        for point in curve:
            table.add_row(*[f"{point[k]:.4g}" if isinstance(point.get(k), float) else str(point.get(k, "-"))
                            for k in keys])
        page.out(table)
    if not doc["logs"] and not curve:
        page.err("no logs or curve stored for this run (the built-in trainer records a curve with "
                 "proxy.train.eval_every)")
    return page
