"""Writing figures: one PNG per figure, written atomically (report, fit and replay plots)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from mixsearch.paths import writable_dir

if TYPE_CHECKING:
    import matplotlib.pyplot as plt


def save_png(fig: "plt.Figure", path: Path) -> Path:
    """Save `fig` to `path` (via a temporary file in the same folder) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    writable_dir(path.parent)
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}-{path.name}"
    fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path
