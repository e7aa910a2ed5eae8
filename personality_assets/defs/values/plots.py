"""The value-alignment track's figure: the label distribution per Schwartz value."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from personality_assets.defs.figures import has_data, plt, save_figure


def label_distribution(distribution: pl.DataFrame, path: Path) -> Path | None:
    """Stacked bars of the share of -1 / 0 / +1 per value (``distribution``: value, -1, 0, +1); none
    without a labelled entry."""
    if distribution.is_empty() or not has_data(distribution.select("-1", "0", "+1").to_numpy().ravel(), True):
        return save_figure(None, path)
    ordered = distribution.sort("+1")
    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    left = [0.0] * ordered.height
    for column, colour in (("-1", "#c0392b"), ("0", "#cccccc"), ("+1", "#2e86c1")):
        widths = ordered[column].to_list()
        axis.barh(ordered["value"].to_list(), widths, left=left, color=colour, label=column)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axis.set_xlim(0, 1)
    axis.set_xlabel("share of entries")
    axis.set_ylabel("Schwartz value")
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, title="label")
    return save_figure(figure, path, dpi=90)
