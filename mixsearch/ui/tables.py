"""Rich tables of the CLI's JSON documents (docs/cli.md): each takes a document, or a piece of
one, and shows only its values."""

from __future__ import annotations

import math

from rich.table import Table

REPLICATES_HINT = "set search.replicates"  # only where the study trains runs (not fit-only)
VALIDATION_CAPTION = ("difference = mixture - recommendation over shared seeds, 95% t-interval; a verdict needs the "
                      "interval to exclude 0 and the exact signed-rank test p < 0.05 (6 seeds at least)")


def num(v: float | None, fmt: str = ".4f") -> str:
    """A number as the tables show it; "-" for null (NaN and infinities are null in the documents)."""
    return "-" if v is None or not math.isfinite(v) else format(v, fmt)


def span(c: dict, key: str = "interval", fmt: str = "+.4f") -> str:
    """`diff [low, high]` of a comparison (or any value with its interval)."""
    lo, hi = c[key]
    return f"{num(c['diff'], fmt)} [{num(lo, fmt)}, {num(hi, fmt)}]"


def fit_table(fit: dict, trains: bool = True) -> Table:
    """A FIT document: each surrogate's cross-validation, the chosen one marked, the noise floor below."""
    reused = " (stored fit: no run finished since; --refit to fit anew)" if fit["reused"] else ""
    floor = fit["noise"]
    hint = f" ({REPLICATES_HINT})" if trains else ""
    caption = (f"noise floor: seed sd {num(floor['sd'])} ({floor['mixtures']} mixtures, {floor['dof']} dof; 95% "
               f"interval [{num(floor['sd_interval'][0])}, {num(floor['sd_interval'][1])}]); a perfect predictor "
               f"reaches Spearman {num(floor['max_spearman'], '.3f')} on single runs" if floor
               else f"noise floor: not measured{hint}")
    folds = next(s["folds"] for s in fit["scores"] if s["name"] == fit["chosen"])
    table = Table(title=f"surrogates, {folds}-fold CV on {fit['runs']} runs{reused}", caption=caption)
    for col in ("surrogate", "spearman", "MAE", "fit s", ""):
        table.add_column(col, justify="right" if col not in ("surrogate", "") else "left")
    for s in fit["scores"]:
        if s["skipped"]:
            table.add_row(s["name"], "-", "-", "-", f"skipped: {s['skipped']}")
            continue
        table.add_row(s["name"], num(s["spearman"], ".3f"), num(s["mae"]), num(s["fit_seconds"], ".2f"),
                      "[green]chosen" if s["name"] == fit["chosen"] else "")
    return table


def mixture_table(rows: list[dict], title: str, value: str) -> Table:
    """PROPOSAL or BEST documents: run, fidelity (where the rows have one), weights and `value`."""
    names = list(rows[0]["mixture"]) if rows else []
    fidelity = any("fidelity" in row for row in rows)
    table = Table(title=title)
    table.add_column("run_id")
    if fidelity:
        table.add_column("fidelity")
    for n in names:
        table.add_column(n, justify="right")
    table.add_column(value, justify="right")
    for row in rows:
        fid = [row["fidelity"] if isinstance(row.get("fidelity"), str) else "-"] if fidelity else []
        table.add_row(row["run_id"][:10], *fid, *[num(row["mixture"][n], ".3f") for n in names], num(row.get(value)))
    return table


def recommendation_table(doc: dict, label: str = "") -> Table:
    """A RECOMMENDATION: the mixture with its predicted objective and interval; with a bootstrap,
    each weight's range and the probability under the model that it beats uniform and natural."""
    from mixsearch.search.recommendation import Recommendation
    from mixsearch.search.stability import RANGE

    rec = Recommendation.from_dict(doc)  # for the sentences it words; its values are the document's
    stab, names = rec.stability, list(rec.mixture)
    caption = None
    if stab is not None:
        beats = ", ".join(f"{k} {p:.0%}" for k, p in stab.p_beats.items())
        caption = (f"range: {RANGE[0]}-{RANGE[1]}% of the optima of {stab.replicates} refits on resampled runs "
                   f"(median L1 {stab.median_l1:.2f} from this one); P(better than) under the model: {beats}")
    caption = "\n".join(x for x in (f"warning: {rec.distrust}" if rec.distrust else "", caption) if x) or None
    table = Table(title=f"recommended mixture{label} {rec.id}: the {rec.surrogate} surrogate's optimum "
                        f"({rec.runs} runs, {rec.created})", caption=caption)
    table.add_column("")
    for n in names:
        table.add_column(n, justify="right")
    table.add_column("predicted", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_row("weight", *[num(rec.mixture[n], ".3f") for n in names], num(rec.predicted),
                  f"[{num(rec.interval[0])}, {num(rec.interval[1])}]")
    if stab is not None:
        table.add_row("range", *[f"{num(stab.low[n], '.2f')}-{num(stab.high[n], '.2f')}" for n in names], "", "")
    return table


def validation_line(validation: dict) -> str:
    """The measured result of a validation in one line: the recommendation's mean and its verdict
    against uniform."""
    arm = next(m for m in validation["mixtures"] if m["name"] == "recommendation")
    line = f"measured: {num(arm['mean'])} ± {num(arm['sd'])} over {len(arm['values'])} seeds"
    c = next((c for c in validation["comparisons"] if c["name"] == "uniform"), None)
    if c is not None:
        line += (f"; uniform - recommendation {span(c)}, signed-rank p {num(c.get('wilcoxon_p'), '.3f')}: "
                 f"{c['verdict']}")
    return line


def validation_table(measured: dict, recommendation_id: str) -> Table:
    """A scale of a `validate` document: mean ± sd per mixture, paired difference to the
    recommendation with its 95% interval, the signed-rank p-value, and the verdict."""
    comps = {c["name"]: c for c in measured["comparisons"]}
    seeds = measured["seeds"]
    used = {"decided": f"; --seeds auto: decided after {len(seeds)} seeds",
            "max-seeds": f"; --seeds auto: undecided at the maximum, {len(seeds)} seeds"}
    note = used.get(measured["stopped_by"], "")
    t = Table(title=f"validation of recommendation {recommendation_id} at fidelity {measured['fidelity']}, "
                    f"seeds {', '.join(map(str, seeds))}{note}", caption=VALIDATION_CAPTION)
    for col in ("mixture", "runs", "mean ± sd", "difference [95% interval]", "signed-rank p", "verdict"):
        t.add_column(col, justify="left" if col in ("mixture", "verdict") else "right")
    for arm in measured["mixtures"]:
        c = comps.get(arm["name"])
        p = None if c is None else c.get("wilcoxon_p")
        t.add_row(arm["name"], str(len(arm["values"])), f"{num(arm['mean'])} ± {num(arm['sd'])}",
                  "" if c is None else span(c), "" if p is None or math.isnan(p) else f"{p:.3f}",
                  "" if c is None else c["verdict"])
    return t


def transfer_table(t: dict) -> Table:
    """A TRANSFER: each smaller scale's ranking of the mixtures against the largest's (Spearman
    with its bootstrap interval over seeds), and the recommendation's gain over uniform per scale."""
    larger = t["larger"]
    holds = {True: "holds", False: "is reversed", None: "is not distinguishable"}[t["gain_holds"]]
    table = Table(title=f"scale transfer to {larger}: the gain over uniform {holds} there",
                  caption="Spearman of the mixtures' mean objective, 95% bootstrap interval over seeds; "
                          "gain = uniform - recommendation")
    for col in ("scale", "ranking, best first", f"Spearman with {larger} [95%]", "verdict", "gain [95%]"):
        table.add_column(col, justify="right" if col.startswith(("Spearman", "gain")) else "left")
    agree = {a["smaller"]: a for a in t["agreements"]}
    for name, order in t["order"].items():
        a, g = agree.get(name), t["gains"].get(name)
        rho = "" if a is None else f"{num(a['spearman'], '+.2f')} [{num(a['interval'][0], '+.2f')}, " \
                                   f"{num(a['interval'][1], '+.2f')}]"
        table.add_row(name, ", ".join(order), rho, "" if a is None else a["verdict"], "" if g is None else span(g))
    return table


def records_table(records: list[dict], title: str, fmt: str = ".3g", left: tuple[str, ...] = ()) -> Table:
    """Records with the same keys as a table (strings as they are, numbers with `fmt`)."""
    table = Table(title=title)
    for col in records[0] if records else []:
        table.add_column(col, justify="left" if col in left else "right")
    for row in records:
        table.add_row(*[v if isinstance(v, str) else num(v, fmt) for v in row.values()])
    return table
