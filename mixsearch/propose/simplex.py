"""The shared optimisation on the constrained simplex: what proposals minimise (`score`), sampled
candidates ranked by it, local constrained refinement from chosen starts, and a fitted surrogate's
optimum (the study's recommended mixture; trusted only near the runs for piecewise surrogates), and
for phases the best single static mixture."""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from mixsearch.layout import Layout
from mixsearch.mixtures import Space, kl_to, sample
from mixsearch.propose.base import FidelityLevel, ProposalContext, feasible
from mixsearch.recipe.schema import Search
from mixsearch.surrogate.base import Surrogate, TrainSet

SUPPORT_CHUNK = 1024  # candidates checked for nearby runs at a time
NEAR_SAMPLE = 4096  # candidates checked first, to judge how many lie near a run
# k-d trees split at the midpoint of the widest side with 64 points a leaf: in 20 dimensions a
# query that finds no run within the radius took 0.28 s per 20,000 candidates against 0.97 s with
# scipy's default median splits and 16 a leaf (10,000 runs); the answers are the same (exact queries)
KD_TREE = {"balanced_tree": False, "leafsize": 64}

def score(ctx: ProposalContext, W: np.ndarray) -> np.ndarray:
    """What proposals minimise: the predicted objective plus search.kl_to_natural x KL(w || natural)."""
    pred = ctx.surrogate.predict(W)
    if ctx.cfg.kl_to_natural > 0:
        pred = pred + ctx.cfg.kl_to_natural * kl_to(W, ctx.space.natural_or_prior)
    return pred


def draw_candidates(space: Space, cfg: Search, seed: int) -> np.ndarray:
    """search.candidates mixtures sampled in the space, seeded by `seed`."""
    return sample(space, cfg.candidates, cfg.sampling, np.random.default_rng(seed), rounded=False)


def ranked_candidates(ctx: ProposalContext) -> tuple[np.ndarray, np.ndarray]:
    """The context's candidates (`draw_candidates`) and their order by score, best first."""
    cands = draw_candidates(ctx.space, ctx.cfg, ctx.seed)
    return cands, np.argsort(score(ctx, cands), kind="stable")


def refine(ctx: ProposalContext, starts: list[np.ndarray]) -> list[np.ndarray]:
    """Local constrained minimisation (SLSQP on the simplex, each phase's, within bounds and caps) from each start."""
    from scipy.optimize import minimize

    space = ctx.space
    eqs, ubs = space.linear_constraints()
    constraints = ([{"type": "eq", "fun": lambda w, i=i: w[i].sum() - 1} for i, _, _ in eqs]
                   + [{"type": "ineq", "fun": lambda w, i=i, c=c, r=r: r - w[i] @ c} for i, c, r in ubs])
    out = []
    for x0 in starts:
        res = minimize(lambda w: float(score(ctx, w[None])[0]), x0, method="SLSQP",
                       bounds=list(zip(space.lo, space.hi)), constraints=constraints, options={"maxiter": 200})
        out.append(res.x if np.isfinite(res.fun) else x0)
    return out


def trust_radius(support: np.ndarray) -> float:
    """How far apart the runs lie: the median L1 distance from each distinct mixture to its nearest
    other one (0 with fewer than two)."""
    from scipy.spatial import cKDTree

    pts = np.unique(np.round(support, 6), axis=0)
    if len(pts) < 2:
        return 0.0
    return float(np.median(cKDTree(pts, **KD_TREE).query(pts, k=2, p=1, workers=-1)[0][:, 1]))


class Support:
    """The runs a piecewise optimum is trusted near and their trust radius, remembering for each
    set of candidates which rows it found near a run: the refits of a bootstrap rank the same
    candidates in similar orders, and a check in 20 dimensions costs 25-80 us a row."""

    def __init__(self, runs: np.ndarray) -> None:
        self.runs = runs
        self.radius = trust_radius(runs)
        self.checked = 0  # candidate rows looked up among the runs so far
        self._lock = threading.Lock()  # a bootstrap's refits may ask from several threads
        self._tree = None
        self._known: dict[bytes, np.ndarray] = {}  # candidates' digest -> per row: 1 in, 0 out, -1 unchecked

    def _memory(self, W: np.ndarray) -> np.ndarray:
        key = hashlib.blake2b(np.ascontiguousarray(W).tobytes(), digest_size=16).digest()
        return self._known.setdefault(key, np.full(len(W), -1, dtype=np.int8))

    def inside(self, W: np.ndarray, rows: np.ndarray, first: int | None = None) -> np.ndarray:
        """Per index in `rows` (rows of W, in that order): whether a run lies within the radius
        (L1). With `first`, checked a chunk at a time until that many are inside: rows after are False."""
        with self._lock:
            return self._inside(W, rows, first, self._memory(W))

    def possible(self, W: np.ndarray) -> np.ndarray:
        """The rows of W not yet known to lie beyond the radius of every run, in order."""
        with self._lock:
            return np.flatnonzero(self._memory(W) != 0)

    def _inside(self, W: np.ndarray, rows: np.ndarray, first: int | None, known: np.ndarray) -> np.ndarray:
        from scipy.spatial import cKDTree

        if self._tree is None:
            self._tree = cKDTree(self.runs, **KD_TREE)
        bound = self.radius * (1 + 1e-9)  # a candidate at exactly the radius counts as inside
        out = np.zeros(len(rows), dtype=bool)
        step = max(1, len(rows)) if first is None else max(SUPPORT_CHUNK, first)
        for i in range(0, len(rows), step):  # stop once enough are in
            chunk = rows[i: i + step]
            todo = chunk[known[chunk] < 0]
            if len(todo):
                self.checked += len(todo)
                known[todo] = self._tree.query(W[todo], k=1, p=1, distance_upper_bound=bound,
                                                 workers=-1)[0] <= bound  # one thread per CPU
            out[i: i + step] = known[chunk] == 1
            if first is not None and out.sum() >= first:
                break
        return out


def optimum(surrogate: Surrogate, space: Space, cfg: Search, seed: int,
            support: np.ndarray | Support | None = None, candidates: np.ndarray | None = None) -> np.ndarray:
    """The mixture the surrogate predicts best (with the search's KL pull toward natural) among
    `candidates` (default: `draw_candidates`). For a piecewise surrogate, only candidates within
    the trust radius of a run in `support` (the mixtures it was fitted on) count: a tree is
    constant beyond its last split and a linear model's optimum is a corner, so away from the runs
    their best prediction says nothing. Candidates a shared Support already knows to lie away from
    every run are not scored (the answer is the same: they could not count)."""
    ctx = ProposalContext(surrogate, space, None, [FidelityLevel("target", 1.0)], cfg, seed)  # type: ignore[arg-type]
    cands = draw_candidates(space, cfg, seed) if candidates is None else candidates
    if not surrogate.piecewise:  # smooth models (laws, GP posterior mean): the optimum, refined from the best
        return feasible(refine(ctx, [cands[np.argmin(score(ctx, cands))]])[0], space)[0]
    near = support if isinstance(support, Support) or support is None else Support(support)
    order = np.zeros(0, dtype=int) if near is None or not len(near.runs) else _near_order(ctx, near, cands)
    if not len(order):  # no runs, or no candidate near one: ranked by the model alone
        order = np.argsort(score(ctx, cands), kind="stable")
    return feasible(cands[order[: cfg.top_k]].mean(0), space)[0]


def _near_order(ctx: ProposalContext, near: Support, cands: np.ndarray) -> np.ndarray:
    """The candidates near a run, best first, at least the first search.top_k of them (RegMix's
    top-k average, near the runs). Where a sample of them says that fewer than 2 x top_k lie near
    a run, ranking them all first would check every one anyway: every one is checked, and only
    those near a run are scored (a model of 1,000 trees costs ~60 us a row, a check ~25 us).
    Else they are ranked, and checked in that order until enough are near. Both give the same order."""
    top_k = ctx.cfg.top_k
    rows = near.possible(cands)
    sample = rows[:NEAR_SAMPLE]  # candidates are drawn at random: their first rows are a sample
    if not len(rows) or near.inside(cands, sample).mean() * len(rows) < 2 * top_k:
        rows = rows[near.inside(cands, rows)]
        return rows[np.argsort(score(ctx, cands[rows]), kind="stable")]
    order = rows[np.argsort(score(ctx, cands[rows]), kind="stable")]
    return order[near.inside(cands, order, first=top_k)]


class _Tiled(Surrogate):
    """A fitted surrogate of schedules seen on static mixtures (the same in every phase)."""

    def __init__(self, inner: Surrogate, layout: Layout) -> None:
        super().__init__(inner.seed)
        self.inner, self.layout, self.piecewise, self.name = inner, layout, inner.piecewise, inner.name

    def _fit(self, data: TrainSet) -> None:
        raise TypeError("a tiled view is not fitted")

    def _predict(self, X: np.ndarray, fid: np.ndarray | None) -> np.ndarray:
        return self.inner.predict(self.layout.tile(X), fid)


def static_optimum(surrogate: Surrogate, space: Space, cfg: Search, seed: int) -> np.ndarray:
    """A phased space's best single static mixture by the surrogate, as a schedule (the same
    mixture in every phase): the baseline a schedule has to beat."""
    assert space.layout is not None
    w = optimum(_Tiled(surrogate, space.layout), space.static(), cfg, seed)
    return feasible(space.layout.tile(w), space)[0]
