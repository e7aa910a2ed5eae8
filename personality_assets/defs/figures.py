"""What every figure shares: matplotlib without a screen, the rule that a figure with nothing to
show is not made, and the PNG file it is saved as. A track's plots module imports ``plt`` from
here, draws only when ``has_data`` says there is something to draw, and ends each figure with
``save_figure``, which writes it, or, given no figure, removes the file an earlier run left."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # before pyplot: never look for a display

import matplotlib.pyplot as plt

__all__ = ["has_data", "plt", "save_figure"]


def has_data(values: Iterable | np.ndarray, zero_is_empty: bool = False) -> bool:
    """Whether a figure of ``values`` would show anything: at least one finite value and, with
    ``zero_is_empty`` (amounts drawn as bars: costs, counts), one that is not zero. A chart of
    nothing but zeros or gaps is not made."""
    array = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(list(values), dtype=float)
    array = np.asarray(array, dtype=float)  # None and nulls become NaN
    finite = array[np.isfinite(array)]
    return bool(finite.size) and (not zero_is_empty or bool(np.any(finite != 0)))


def save_figure(figure, path: Path, dpi: int = 80) -> Path | None:
    """Lays the figure out, writes it to ``path`` as PNG, frees it; returns the path. ``None``
    (nothing to plot) writes nothing, removes what an earlier run wrote at ``path`` (no stale
    figure is shown) and returns ``None``: the caller then makes no metadata entry."""
    if figure is None:
        path.unlink(missing_ok=True)
        return None
    if figure.get_layout_engine() is None:
        figure.tight_layout()
        figure.savefig(path, dpi=dpi)
    else:  # a constrained layout (figure legends) lays itself out; nothing past the edge is cut
        figure.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.05)
    plt.close(figure)
    return path
