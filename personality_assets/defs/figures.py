"""What every figure shares: matplotlib without a screen, and the PNG file it is saved as. A
track's plots module imports ``plt`` from here and ends each figure with ``save_figure``."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: never look for a display

import matplotlib.pyplot as plt

__all__ = ["plt", "save_figure"]


def save_figure(figure, path: Path, dpi: int = 80) -> Path:
    """Lays the figure out, writes it to ``path`` as PNG, frees it; returns the path."""
    figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path
