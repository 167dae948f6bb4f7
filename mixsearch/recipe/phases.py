"""The recipe's phases: a schedule of mixtures over the token budget (e.g. a general phase, then an
annealing phase). Each phase has a share of every run's tokens and optional per-phase weight bounds;
a run's mixture is then one mixture per phase, stored as `w_<phase>_<domain>` columns."""

from __future__ import annotations

from pydantic import Field

from mixsearch.recipe.base import NAME_MAX, NAME_PATTERN, Strict, WeightRange

SHARE_TOL = 1e-6  # the shares of the phases sum to 1 within this


class PhaseBounds(WeightRange):
    """A domain's weight bounds within one phase (epoch caps hold over the whole run instead)."""


class Phase(Strict):
    """One phase of the schedule: a share of each run's training tokens, trained on its own mixture."""

    name: str = Field(pattern=NAME_PATTERN, max_length=NAME_MAX,
                      description="the phase's name; weight columns are `w_<phase>_<domain>`")
    share: float = Field(gt=0, le=1, description="share of each run's training tokens; the shares sum to 1")
    domains: dict[str, PhaseBounds] = Field({}, description="per-domain weight bounds within this phase "
                                                           "(in addition to `constraints.domains`)")


def coordinate(phase: str, domain: str) -> str:
    """The name of one weight of a phased mixture (its store column is `w_<phase>_<domain>`)."""
    return f"{phase}_{domain}"


def check_phases(phases: list[Phase], domains: list[str]) -> None:
    """Shares sum to 1, names are distinct, bounds name known domains and leave each phase a mixture,
    and no two (phase, domain) pairs give the same column name; ValueError otherwise."""
    if not phases:
        return
    names = [p.name for p in phases]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate phase names: {', '.join(dupes)}")
    total = sum(p.share for p in phases)
    if abs(total - 1) > SHARE_TOL:
        raise ValueError(f"phases: shares sum to {total:.6g}, not 1")
    for p in phases:
        unknown = sorted(set(p.domains) - set(domains))
        if unknown:
            raise ValueError(f"phases[{p.name}].domains names unknown domain '{unknown[0]}'")
        lo = sum(p.domains.get(d, PhaseBounds()).min for d in domains)
        hi = sum(p.domains.get(d, PhaseBounds()).max for d in domains)
        if lo > 1 + 1e-9 or hi < 1 - 1e-9:
            raise ValueError(f"phases[{p.name}]: bounds allow no mixture: mins sum to {lo:g}, maxes to {hi:g}")
    columns = [coordinate(p, d) for p in names for d in domains]
    clash = sorted({c for c in columns if columns.count(c) > 1})
    if clash:
        raise ValueError(f"phase and domain names give the same weight column: {', '.join(clash)}")
