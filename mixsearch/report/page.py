"""The study's page, shared by `report` (one self-contained HTML file) and `dashboard` (served and
refreshed as runs land): its sections in order, and a fingerprint of the files they are read
from. Building it only reads: the stored fit and the recorded answer."""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass

from mixsearch.search.study import Study

ANSWER_FILES = ("recommendation.json", "recommendations.json", "validation.json")


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    html: str


def title(study: Study) -> str:
    return f"mixsearch: {study.recipe.study}"


def build(study: Study, recipe: str) -> list[Section]:
    """The sections that apply to the study, in the page's order (the answer first)."""
    from mixsearch.report import answer as answer_section
    from mixsearch.report import sections
    from mixsearch.search import answer
    from mixsearch.search.modelling import MIN_RUNS_TO_FIT, fit

    view = study.store.runs()
    done = study.completed()
    counts = view["status"].value_counts().to_dict() if len(view) else {}
    summary = "<p>" + html.escape(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no runs yet") + "</p>"
    if done.empty:
        first = Section("answer", "Recommendation", summary + "<p>No completed runs yet.</p>")
        return [first] + ([Section("runs", "Runs", sections.runs(study, view))] if len(view) else [])
    fitted = fit(study, stored_only=True) if len(study.completed_at_target()) >= MIN_RUNS_TO_FIT else None
    state = answer.state(study.store.root)
    parts = [("answer", "Recommendation", summary + answer_section.section(study, state, recipe)),
             ("by-weight", "Objective against each domain's weight", sections.objective_by_weight(study, fitted)),
             ("history", "Search history", sections.history(study, done)),
             ("surrogate", "Surrogate", sections.surrogate(study, fitted)),
             ("fidelities", "Fidelity agreement", sections.fidelities(study, done)),
             ("pareto", "Pareto front", sections.pareto(study) if len(study.recipe.objective_list) > 1 else ""),
             ("runs", "Runs", sections.runs(study, view)),
             ("provenance", "Recipe, data and versions", sections.provenance(study, view))]
    return [Section(k, t, h) for k, t, h in parts if h]


def fingerprint(study: Study) -> str:
    """Changes whenever a run lands or the answer or fit is rewritten (names, sizes and times of
    the store's parts and the answer's files), without reading any of them."""
    root = study.store.root
    files = [*study.store.part_files(), *(root / f for f in ANSWER_FILES)]
    fit_dir = root / "fit"
    files += sorted(fit_dir.iterdir()) if fit_dir.is_dir() else []
    stats = []
    for p in files:
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        stats.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha1("|".join(stats).encode()).hexdigest()[:16]
