"""A sweep: rounds of (launch open runs → fit → propose) that stop at a budget and resume exactly.

Nothing here keeps state outside the store: runs a killed sweep left open are `pending` or
`proposed` rows, and the next sweep launches them; finished runs are never launched again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from mixsearch.search.budget import Budget, Spent, Tally, spent
from mixsearch.search.modelling import MIN_RUNS_TO_FIT, FitResult, fit, propose_next, recommend
from mixsearch.search.recommendation import Recommendation
from mixsearch.search.study import Study
from mixsearch.search.launch import launch


@dataclass
class RoundReport:
    round: int
    launched: dict[str, int]
    fit: FitResult | None = None
    proposals: list[dict] = field(default_factory=list)
    recommendation: Recommendation | None = None


@dataclass
class SweepResult:
    initial_added: int
    rounds: list[RoundReport]
    stopped_by: str  # "rounds" | "budget" | "max-runs" | "too-few-completed-runs"
    spent: Spent

    @property
    def failed(self) -> int:
        return sum(r.launched["failed"] for r in self.rounds)


def sweep(study: Study, rounds: int, budget: Budget, max_runs: int | None = None, address: str | None = None,
          on_result: Callable[[dict], None] | None = None,
          on_round: Callable[[RoundReport], None] | None = None,
          phase: Callable[[str], AbstractContextManager] | None = None) -> SweepResult:
    """Seed the initial runs if the study has none, then up to `rounds` rounds of launch → fit → propose.

    A round that could not launch all its open runs (budget or max_runs reached) ends the sweep
    before fitting, so the next sweep finishes that round first. `phase(text)` wraps the slow
    steps between launches (fit and propose), e.g. to show a spinner.
    """
    added = study.seed_initial()
    reports: list[RoundReport] = []
    launched_total = 0
    stopped_by = "rounds"

    tally = Tally(budget, study.store.runs)  # read once a round, then counted result by result

    def counted(row: dict) -> None:
        tally.add(row)
        if on_result:
            on_result(row)

    for _ in range(rounds):
        tally.refresh()
        if tally.reached():
            stopped_by = "budget"
            break
        left = None if max_runs is None else max_runs - launched_total
        if left is not None and left <= 0:
            stopped_by = "max-runs"
            break
        round_no = _open_round(study)
        launched = launch(study, address, counted, max_runs=left, should_stop=tally.reached)
        launched_total += sum(launched.values())
        report = RoundReport(round_no, launched)
        reports.append(report)
        if not study.unfinished().empty:
            stopped_by = "budget" if tally.reached() else "max-runs"
            if on_round:
                on_round(report)
            break
        if len(study.completed()) < MIN_RUNS_TO_FIT:
            stopped_by = "too-few-completed-runs"
            break
        with (phase or (lambda _: nullcontext()))(f"round {round_no}: fitting the surrogate and proposing"):
            report.fit = fit(study)
            report.recommendation = recommend(study, report.fit)
            report.proposals = propose_next(study, report.fit).to_dict("records")
        if on_round:
            on_round(report)
    return SweepResult(added, reports, stopped_by, spent(study.store.runs()))


def _open_round(study: Study) -> int:
    """The round the open runs belong to (the newest round if none are open)."""
    open_runs = study.unfinished()
    if not open_runs.empty:
        return int(open_runs["round"].min())
    view = study.store.runs()
    return int(view["round"].max()) if len(view) else 0
