"""Writing figures: one PNG per figure, written atomically (report, fit and replay plots)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mixsearch.paths import atomic, writable_dir

if TYPE_CHECKING:
    import matplotlib.pyplot as plt


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
