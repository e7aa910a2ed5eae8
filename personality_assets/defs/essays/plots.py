"""The essay track's figures: essays per level of each dimension, and word counts per quality level
against the level's range."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from personality_assets.defs.figures import has_data, plt, save_figure

DIMENSIONS = (
    ("stance", "stances"),
    ("evidence", "evidence patterns"),
    ("style", "styles"),
    ("quality", "quality levels"),
)


def essays_per_dimension(essays: pl.DataFrame, order: dict[str, list[str]], path: Path) -> Path | None:
    """Four bar panels: written essays per level of each dimension (``essays``: one row per essay
    with the level keys in columns stance, evidence, style, quality; ``order``: each column's
    levels in the dimensions file's order); none without an essay."""
    if essays.is_empty():
        return save_figure(None, path)
    figure, axes = plt.subplots(1, 4, figsize=(13, 3.4), sharey=True)
    for axis, (column, title) in zip(axes, DIMENSIONS, strict=True):
        counts = dict(essays.group_by(column).len().iter_rows())
        keys = order[column]
        axis.bar(keys, [counts.get(key, 0) for key in keys], color="#2e86c1")
        axis.set_title(title)
        axis.tick_params(axis="x", labelrotation=35, labelsize=8)
        axis.set_xlabel(f"{column} level")
        axis.set_ylabel("essays")
    return save_figure(figure, path)


def word_counts(essays: pl.DataFrame, levels: pl.DataFrame, path: Path) -> Path | None:
    """Box plots of word counts per quality level, its min-max range shaded (``levels``: quality,
    min_words, max_words in the dimensions file's order); none without a word count."""
    if not has_data(essays["word_count"]):
        return save_figure(None, path)
    figure, axis = plt.subplots(figsize=(7, 3.6))
    keys = levels["quality"].to_list()
    data = [essays.filter(pl.col("quality") == key)["word_count"].to_list() for key in keys]
    for position, row in enumerate(levels.iter_rows(named=True), start=1):
        axis.fill_between(
            [position - 0.4, position + 0.4], row["min_words"], row["max_words"], color="#d5f5e3", zorder=0
        )
    axis.boxplot(data, tick_labels=keys, widths=0.5)
    axis.set_xlabel("quality level")
    axis.set_ylabel("words")
    axis.set_title("word count per quality level (shaded: the level's range)")
    return save_figure(figure, path)
