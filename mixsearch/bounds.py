"""A recipe's feasible mixtures: bounds from per-domain (and per-phase) min/max and the epoch caps,
the sampling prior and the natural mixture (token shares)."""

from __future__ import annotations

import numpy as np

from mixsearch.errors import UserError
from mixsearch.layout import Layout, schedule_exists
from mixsearch.mixtures import TOL, Space, check_feasible, project
from mixsearch.recipe.phases import PhaseBounds
from mixsearch.recipe.schema import Recipe
from mixsearch.recipe.search import Bounds


def build_space(recipe: Recipe, train_tokens: dict[str, int]) -> Space:
    """Bounds from per-domain (and per-phase) min/max and epoch caps (at the largest token budget,
    the final training run's `constraints.final_tokens` included; with phases, over the whole run);
    prior = token share ** prior_power."""
    layout = Layout.of(recipe)
    names = layout.domains
    budget = max([train.tokens for _, _, train, _ in recipe.proxy.fidelity_configs()]
                 + [recipe.constraints.final_tokens or 0])
    lo, hi, cap = np.zeros(len(names)), np.ones(len(names)), np.full(len(names), np.inf)
    for i, name in enumerate(names):
        b = recipe.constraints.domains.get(name, Bounds())
        lo[i], hi[i] = b.min, b.max
        epochs = b.max_epochs or recipe.constraints.max_epochs
        if epochs:
            cap[i] = epochs * train_tokens[name] / budget
    counts = np.array([train_tokens[n] for n in names], dtype=float)
    prior = (counts / counts.sum()) ** recipe.search.sampling.prior_power
    natural = counts / counts.sum()
    if not layout.phased:
        hi = np.minimum(hi, cap)
        check_feasible(names, lo, hi)
        return Space(names, lo, hi, project(prior / prior.sum(), lo, hi)[0], project(natural, lo, hi)[0])
    return _phased_space(recipe, layout, lo, hi, cap, prior / prior.sum(), natural)


def _phased_space(recipe: Recipe, layout: Layout, lo: np.ndarray, hi: np.ndarray, cap: np.ndarray,
                  prior: np.ndarray, natural: np.ndarray) -> Space:
    """Per phase: the recipe's bounds narrowed by the phase's own and by cap / share; the caps
    themselves couple the phases (kept only where they bind)."""
    los, his = [], []
    for phase in recipe.phases:
        bounds = [phase.domains.get(d, PhaseBounds()) for d in layout.domains]
        plo = np.maximum(lo, [b.min for b in bounds])
        phi = np.minimum.reduce([hi, np.array([b.max for b in bounds]), cap / phase.share])
        check_feasible(layout.domains, plo, phi, where=f"phases[{phase.name}]")
        los.append(plo)
        his.append(phi)
    LO, HI = np.concatenate(los), np.concatenate(his)
    shares = np.asarray(layout.shares)
    binds = np.einsum("pd,p->d", np.array(his), shares) > cap + TOL
    caps = np.where(binds, cap, np.inf) if binds.any() else None
    if caps is not None and not schedule_exists(layout, LO, HI, caps):
        names = ", ".join(d for d, c in zip(layout.domains, caps) if np.isfinite(c))
        raise UserError(f"no schedule satisfies the phases' bounds and the epoch caps over the run ({names})",
                        where="constraints")
    draft = Space(layout.names, LO, HI, layout.tile(prior)[0], None, layout, caps)
    return Space(layout.names, LO, HI, draft.project(draft.prior)[0], draft.project(layout.tile(natural)[0])[0],
                 layout, caps)
