"""A known world for surrogate and proposer tests: runs on 5 domains whose per-domain losses a
random mixing law generated, with a little noise."""

from __future__ import annotations

import numpy as np

from mixsearch.mixtures import Space, sample
from mixsearch.propose.base import FidelityLevel, ProposalContext
from mixsearch.recipe.search import Sampling, Search
from mixsearch.replay.synthetic import MixingLaw
from mixsearch.surrogate.base import TrainSet

D = 5
TARGET = [FidelityLevel("target", 1.0)]


def law_world() -> tuple[Space, MixingLaw, TrainSet]:
    """The space (each domain at most 0.6), the law, and 256 runs sampled uniformly."""
    space = Space(tuple(f"d{i}" for i in range(D)), np.zeros(D), np.full(D, 0.6), np.full(D, 1 / D))
    law = MixingLaw.random(D, seed=3)
    X = sample(space, 256, Sampling(method="uniform"), np.random.default_rng(0))
    parts = law.losses(X) + np.random.default_rng(1).normal(0, 0.002, (len(X), D))
    data = TrainSet(X, parts.mean(1), parts=parts, part_weights=np.full(D, 1 / D))
    return space, law, data


def context(space, data, surrogate=None, fidelities=TARGET, existing=None, existing_fid=None, **cfg) -> ProposalContext:
    """A proposal context over `data` (search settings: 20,000 candidates, top 32, unless given)."""
    search = Search(candidates=cfg.pop("candidates", 20_000), top_k=32, **cfg)
    return ProposalContext(surrogate, space, data, fidelities, search, 0, existing, existing_fid)
