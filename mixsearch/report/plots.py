"""Static figures (matplotlib PNGs, written atomically): the fit's predicted-vs-actual (fit.png)
and replay plots. The report page draws its figures with Plotly (figures.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mixsearch.paths import atomic, writable_dir

if TYPE_CHECKING:
    import matplotlib.pyplot as plt

    from mixsearch.search.modelling import FitResult
    from mixsearch.search.study import Study


def save_png(fig: "plt.Figure", path: Path) -> Path:
    """Save `fig` to `path` atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    writable_dir(path.parent)
    try:
        with atomic(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def predicted_vs_actual(study: "Study", fit: "FitResult") -> tuple["plt.Figure", float]:
    """Out-of-fold predictions of the chosen surrogate (kept from its cross-validation) against
    the actual objective, with the seed-noise floor as a band around the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mixsearch.surrogate.cv import out_of_fold, spearman

    chosen = fit.chosen
    if chosen.predicted is not None:
        pred, y, k = chosen.predicted, chosen.actual, chosen.folds
    else:
        pred, y, k, _ = out_of_fold(fit.name, fit.data, study.recipe.search.cv_folds, study.recipe.seed)
    pred, y = study.signs[0] * pred, study.signs[0] * y  # the model's values are sign-adjusted; show the user's
    rho = spearman(pred, y)
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.scatter(y, pred, s=16, alpha=0.7)
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1)
    if fit.noise is not None:
        sd = fit.noise.sd
        ax.fill_between([lo, hi], [lo - sd, hi - sd], [lo + sd, hi + sd], color="grey", alpha=0.2,
                        label=f"± seed sd {sd:.4f} (max Spearman {fit.noise.max_spearman:.2f})")
        ax.legend(fontsize=8)
    ax.set_xlabel("actual objective")
    ax.set_ylabel(f"{k}-fold out-of-fold prediction")
    ax.set_title(f"{fit.name}: Spearman {rho:.3f}")
    return fig, rho
