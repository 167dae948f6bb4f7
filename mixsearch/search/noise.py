"""Seed noise: replicates (same mixture and fidelity, different seeds) give the noise floor a
surrogate cannot beat; surrogates fit the replicate means."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from mixsearch.mixtures import DECIMALS, Space, dedupe, finalize
from mixsearch.surrogate.base import TrainSet
from mixsearch.surrogate.cv import POOR_RANK, CVScore, spearman

RUNS_PER_DOMAIN = 2
SIMULATIONS = 200


def replicate_groups(X: np.ndarray, fid: np.ndarray | None = None) -> np.ndarray:
    """A group label per row, numbered in order of first appearance: rows with the same mixture
    (at DECIMALS places) and fidelity share one."""
    key = np.round(np.asarray(X, float), DECIMALS)
    if fid is not None:
        key = np.hstack([key, np.round(np.asarray(fid, float), 6)[:, None]])
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse.reshape(-1)]


def replicate_plan(space: Space, W: np.ndarray, mixtures: int, seeds: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """Uniform, natural, then the first of the initial mixtures W (`mixtures` in all), each with
    `seeds` seeds from the recipe's (the first is shared with an initial run of that mixture)."""
    base = dedupe(finalize(np.vstack([space.uniform, space.natural_or_prior, W]), space))[:mixtures]
    return np.repeat(base, seeds, axis=0), [seed + k for k in range(seeds)] * len(base)


def fit_data(runs: TrainSet, seed: int = 0) -> tuple[TrainSet, NoiseFloor | None]:
    """What a surrogate is fitted on: the replicate means, carrying the measured seed noise (a GP
    keeps its noise at least that); and the noise floor (None without replicates)."""
    floor = noise_floor(runs, seed)
    return replace(average_replicates(runs), noise_sd=floor.sd if floor else None), floor


def average_replicates(data: TrainSet) -> TrainSet:
    """One row per (mixture, fidelity): the mean objective (and losses) over its seeds."""
    groups = replicate_groups(data.X, data.fidelities)
    if len(np.unique(groups)) == len(groups):
        return data
    first = np.array([np.flatnonzero(groups == g)[0] for g in range(groups.max() + 1)])

    def mean(a: np.ndarray) -> np.ndarray:
        return np.stack([a[groups == g].mean(0) for g in range(groups.max() + 1)])

    return replace(data, X=data.X[first], y=mean(data.y), fid=None if data.fid is None else data.fid[first],
                   parts=None if data.parts is None else mean(data.parts))


@dataclass(frozen=True)
class NoiseFloor:
    sd: float  # pooled seed standard deviation of the objective
    dof: int  # degrees of freedom it is estimated with (runs minus replicate groups)
    mixtures: int  # mixtures with two or more seeds
    max_spearman: float  # the Spearman a perfect predictor of the mean reaches on single runs
    sd_interval: tuple[float, float] = (float("nan"), float("nan"))  # 95%, chi-square on dof
    spearman_interval: tuple[float, float] = (float("nan"), float("nan"))  # max_spearman at those sds

    def to_dict(self) -> dict:
        return {**asdict(self), "sd_interval": list(self.sd_interval), "spearman_interval": list(self.spearman_interval)}


def sd_interval(sd: float, dof: int) -> tuple[float, float]:
    """95% interval of a standard deviation estimated with `dof` degrees of freedom
    (dof * sd^2 / sigma^2 is chi-square with dof degrees of freedom)."""
    from scipy.stats import chi2

    return float(sd * np.sqrt(dof / chi2.ppf(0.975, dof))), float(sd * np.sqrt(dof / chi2.ppf(0.025, dof)))


def pooled_sd(y: np.ndarray, groups: np.ndarray) -> tuple[float, int, int]:
    """Pooled within-group standard deviation, its degrees of freedom, and groups with >= 2 rows."""
    ss, dof, reps = 0.0, 0, 0
    for g in np.unique(groups):
        v = y[groups == g]
        if len(v) > 1:
            ss += float(((v - v.mean()) ** 2).sum())
            dof += len(v) - 1
            reps += 1
    return (float(np.sqrt(ss / dof)) if dof else float("nan")), dof, reps


def noise_floor(data: TrainSet, seed: int = 0) -> NoiseFloor | None:
    """The target-fidelity noise floor, or None without replicates."""
    target = data.target_only()
    groups = replicate_groups(target.X)
    sd, dof, reps = pooled_sd(target.y, groups)
    if not dof:
        return None
    means = np.array([target.y[groups == g].mean() for g in np.unique(groups)])
    lo, hi = sd_interval(sd, dof)
    return NoiseFloor(sd, dof, reps, attainable_spearman(means, sd, seed), (lo, hi),
                      (attainable_spearman(means, hi, seed), attainable_spearman(means, lo, seed)))


def attainable_spearman(values: np.ndarray, sd: float, seed: int = 0) -> float:
    """Expected Spearman between the true means and single noisy runs of them: the true spread is
    the observed spread less the noise (shrunk toward the mean), the noise Gaussian with sd."""
    if len(values) < 3 or not np.isfinite(sd):
        return float("nan")
    centre, var = values.mean(), values.var(ddof=1)
    true = centre + (values - centre) * np.sqrt(max(var - sd**2, 0.0) / var) if var > 0 else values
    rng = np.random.default_rng(seed)
    return float(np.mean([spearman(true, true + rng.normal(0, sd, len(true))) for _ in range(SIMULATIONS)]))


def fit_warnings(chosen: CVScore, n_runs: int, dim: int, noise: NoiseFloor | None) -> list[str]:
    """What a user should know before trusting the fit."""
    out = []
    if chosen.spearman < POOR_RANK:
        out.append(f"the chosen surrogate ranks held-out runs poorly (Spearman {chosen.spearman:.2f} < "
                   f"{POOR_RANK}): train more runs before trusting proposals")
    if n_runs < RUNS_PER_DOMAIN * dim:
        out.append(f"only {n_runs} runs for {dim} domains (fewer than {RUNS_PER_DOMAIN} x domains): "
                   f"the fit is underdetermined")
    if noise is not None and chosen.mae < np.sqrt(2 / np.pi) * noise.sd / np.sqrt(2):
        out.append(f"the chosen surrogate's CV error ({chosen.mae:.4f}) is below the seed noise "
                   f"(sd {noise.sd:.4f}): it is probably fitting noise (overfit)")
    if noise is not None and (line := above_bound(chosen.spearman, noise)):
        out.append(line)
    return out


def above_bound(spearman: float, noise: NoiseFloor) -> str | None:
    """One line explaining a CV Spearman above what a perfect predictor reaches, else None."""
    if not np.isfinite(noise.max_spearman) or not spearman > noise.max_spearman:
        return None
    lo, hi = noise.spearman_interval
    bound = f"the perfect-predictor bound {noise.max_spearman:.3f} (95% interval [{lo:.3f}, {hi:.3f}])"
    if np.isfinite(hi) and spearman <= hi:
        return (f"CV Spearman {spearman:.3f} is above {bound} but within its interval: the seed sd "
                f"{noise.sd:.4f} is estimated with {noise.dof} dof only")
    return (f"CV Spearman {spearman:.3f} is above even the upper end of {bound}: the seed noise measured with "
            f"{noise.dof} dof is larger than these runs show (replicates at atypical mixtures?), or the CV "
            f"Spearman on few runs is itself uncertain")
