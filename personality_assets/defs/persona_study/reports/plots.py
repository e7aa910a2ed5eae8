"""Report figures as PNG files (matplotlib, no screen needed). Each function takes a report table
and a path, draws one figure with a panel per scale or attribute, and returns the path."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

from personality_assets.defs.figures import plt, save_figure
from personality_assets.defs.persona_study.reports.scale_scores import REFERENCE

MAX_PANELS = 24  # more scales or attributes than this are left out of one figure (the table has all)
DPI = 90


def _grid(panels: int, width: float = 4.2, height: float = 3.2):
    panels = max(1, min(panels, MAX_PANELS))
    columns = min(2, panels)  # two figures across fit the UI's metadata dialog
    rows = math.ceil(panels / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    flat = axes.ravel()
    for axis in flat[panels:]:
        axis.set_visible(False)
    return figure, flat


def _label(model: str, condition: str) -> str:
    return f"{model} / {condition}"


def score_distributions(scores: pl.DataFrame, path: Path) -> Path:
    """Box plots of scale scores per model × condition beside the reference people's, one panel
    per questionnaire.scale. ``scores``: model, condition, questionnaire, scale, score."""
    panels = scores.select("questionnaire", "scale").unique().sort("questionnaire", "scale").rows()[:MAX_PANELS]
    figure, axes = _grid(len(panels), width=5.0, height=3.4)
    for axis, (questionnaire, scale) in zip(axes, panels, strict=False):
        panel = scores.filter((pl.col("questionnaire") == questionnaire) & (pl.col("scale") == scale))
        groups = (
            panel.group_by("model", "condition")
            .agg(pl.col("score"))
            .sort("condition", pl.col("model") != REFERENCE, "model")
        )
        labels = [_label(m, c) for m, c in zip(groups["model"], groups["condition"], strict=True)]
        box = axis.boxplot(groups["score"].to_list(), orientation="horizontal", patch_artist=True, showfliers=False)
        for patch, model in zip(box["boxes"], groups["model"], strict=True):
            patch.set_facecolor("#bbbbbb" if model == REFERENCE else "#8fb8de")
        axis.set_yticks(range(1, len(labels) + 1), labels, fontsize=7)
        axis.set_title(f"{questionnaire}.{scale}", fontsize=9)
        axis.set_xlabel("scale score (grey: reference people)", fontsize=7)
    return save_figure(figure, path, DPI)


def alpha_forest(reliability: pl.DataFrame, path: Path) -> Path:
    """Cronbach's α with its bootstrap 95% CI per model × condition, one panel per scale; the
    reference people's α as a grey line. Undefined α is marked with an x at 0."""
    panels = reliability.select("questionnaire", "scale").unique().sort("questionnaire", "scale").rows()[:MAX_PANELS]
    figure, axes = _grid(len(panels), width=4.6)
    for axis, (questionnaire, scale) in zip(axes, panels, strict=False):
        panel = reliability.filter((pl.col("questionnaire") == questionnaire) & (pl.col("scale") == scale))
        models = panel.filter(pl.col("model") != REFERENCE).sort("condition", "model", descending=True)
        for y, row in enumerate(models.iter_rows(named=True)):
            if row["alpha"] is None:
                axis.plot([0], [y], marker="x", color="#c0392b")
                continue
            low, high = row["ci_low"], row["ci_high"]
            if low is not None and high is not None:
                axis.plot([low, high], [y, y], color="#1f77b4", linewidth=2)
            axis.plot([row["alpha"]], [y], marker="o", color="#1f77b4")
        for alpha in panel.filter(pl.col("model") == REFERENCE)["alpha"].drop_nulls():
            axis.axvline(alpha, color="#888888", linestyle="--", linewidth=1)
        labels = [_label(m, c) for m, c in zip(models["model"], models["condition"], strict=True)]
        axis.set_yticks(range(len(labels)), labels, fontsize=7)
        axis.set_xlim(min(-0.2, *(models["ci_low"].drop_nulls().to_list() or [0])), 1.02)
        axis.set_title(f"α {questionnaire}.{scale} (dashed: reference people)", fontsize=9)
    return save_figure(figure, path, DPI)


def persona_vs_reference(scores: pl.DataFrame, path: Path, max_points: int = 1500) -> Path:
    """Each persona's scale score (mean of its repetitions) against its reference person's, one
    panel per scale, a colour per model × condition; the diagonal is perfect fidelity.
    ``scores``: model, condition, questionnaire, scale, persona_id, score, reference_score."""
    per_persona = scores.group_by("model", "condition", "questionnaire", "scale", "persona_id").agg(
        pl.col("score").mean(), pl.col("reference_score").first()
    )
    panels = per_persona.select("questionnaire", "scale").unique().sort("questionnaire", "scale").rows()[:MAX_PANELS]
    figure, axes = _grid(len(panels))
    for axis, (questionnaire, scale) in zip(axes, panels, strict=False):
        panel = per_persona.filter((pl.col("questionnaire") == questionnaire) & (pl.col("scale") == scale))
        for (model, condition), group in sorted(panel.group_by("model", "condition"), key=lambda g: g[0]):
            if group.height > max_points:
                group = group.sample(max_points, seed=0)
            x, y = group["reference_score"].to_numpy(), group["score"].to_numpy()
            if np.all(np.mod(x, 1) == 0):  # counts (0..6) would stack on a grid: spread them a little
                rng = np.random.default_rng(0)
                x, y = x + rng.uniform(-0.2, 0.2, len(x)), y + rng.uniform(-0.2, 0.2, len(y))
            axis.scatter(x, y, s=6, alpha=0.35, label=_label(model, condition))
        low = min(panel["reference_score"].min() or 0, panel["score"].min() or 0)
        high = max(panel["reference_score"].max() or 1, panel["score"].max() or 1)
        axis.plot([low, high], [low, high], color="#888888", linewidth=1)
        axis.set_title(f"{questionnaire}.{scale}", fontsize=9)
        axis.set_xlabel("reference person", fontsize=7)
        axis.set_ylabel("persona", fontsize=7)
    if panels:
        axes[0].legend(fontsize=6, markerscale=2)
    return save_figure(figure, path, DPI)


def demographic_bars(demographics: pl.DataFrame, path: Path, top: int = 8) -> Path:
    """Stacked shares of each attribute's categories per model × condition (the `top` most
    common categories, the rest as "other")."""
    attributes = sorted(demographics["attribute"].unique())
    figure, axes = _grid(len(attributes), width=6.2, height=3.4)
    for axis, attribute in zip(axes, attributes, strict=False):
        panel = demographics.filter(pl.col("attribute") == attribute)
        common = (
            panel.group_by("category").agg(pl.col("count").sum()).sort("count", descending=True)["category"].head(top)
        )
        if attribute == "age_band":
            common = common.sort()  # the bands in age order
        panel = panel.with_columns(
            pl.when(pl.col("category").is_in(common.to_list())).then("category").otherwise(pl.lit("other"))
        )
        shares = panel.group_by("model", "condition", "category").agg(pl.col("share").sum())
        groups = shares.select("model", "condition").unique().sort("condition", "model").rows()
        left = [0.0] * len(groups)
        for category in [*common.to_list(), "other"]:
            widths = [
                shares.filter((pl.col("model") == m) & (pl.col("condition") == c) & (pl.col("category") == category))[
                    "share"
                ].sum()
                for m, c in groups
            ]
            if any(widths):
                axis.barh(range(len(groups)), widths, left=left, label=category)
                left = [a + b for a, b in zip(left, widths, strict=True)]
        axis.set_yticks(range(len(groups)), [_label(m, c) for m, c in groups], fontsize=7)
        axis.set_xlim(0, 1)
        axis.set_title(attribute, fontsize=9)
        axis.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return save_figure(figure, path, DPI)


def response_styles(indices: pl.DataFrame, path: Path, indices_shown: tuple[str, ...]) -> Path:
    """Box plots of each response-style index per model × condition beside the reference
    people's (grey), one panel per questionnaire × index (an index a questionnaire cannot have,
    e.g. the midpoint share of yes/no items, has no panel); presentations pooled (the table
    keeps them apart). ``indices``: model, condition, questionnaire and the index columns."""
    panels = [
        (questionnaire, index)
        for questionnaire in sorted(indices["questionnaire"].unique())
        for index in indices_shown
        if indices.filter(pl.col("questionnaire") == questionnaire)[index].drop_nulls().len()
    ][:MAX_PANELS]
    figure, axes = _grid(len(panels), width=5.0, height=3.4)
    for axis, (questionnaire, index) in zip(axes, panels, strict=False):
        panel = indices.filter((pl.col("questionnaire") == questionnaire) & pl.col(index).is_not_null())
        groups = (
            panel.group_by("model", "condition")
            .agg(pl.col(index).cast(pl.Float64))
            .sort("condition", pl.col("model") != REFERENCE, "model")
        )
        box = axis.boxplot(groups[index].to_list(), orientation="horizontal", patch_artist=True, showfliers=False)
        for patch, model in zip(box["boxes"], groups["model"], strict=True):
            patch.set_facecolor("#bbbbbb" if model == REFERENCE else "#8fb8de")
        labels = [_label(m, c) for m, c in zip(groups["model"], groups["condition"], strict=True)]
        axis.set_yticks(range(1, len(labels) + 1), labels, fontsize=7)
        axis.set_title(f"{questionnaire}: {index}", fontsize=9)
        axis.set_xlabel("per respondent (grey: reference people)", fontsize=7)
    return save_figure(figure, path, DPI)


MAX_ROBUSTNESS_PANELS = 8  # model × condition panels of one scale's figure (the table has all)
_LEVEL_MARKERS = "osD^v<>Px*"


def robustness_scatter(levels: pl.DataFrame, questionnaire: str, scale: str, path: Path, max_points: int = 600) -> Path:
    """Each persona's score under every non-base presentation level (a colour and marker per
    factor: level) against its score under the base level, one panel per model × condition (at
    most ``MAX_ROBUSTNESS_PANELS``); on the identity line nothing moved. ``levels``: the
    robustness report's persona_id, factor, level, score, base_score with model, condition,
    questionnaire, scale."""
    scale_levels = levels.filter((pl.col("questionnaire") == questionnaire) & (pl.col("scale") == scale))
    panels = scale_levels.select("model", "condition").unique().sort("condition", "model").rows()
    shown = panels[:MAX_ROBUSTNESS_PANELS]
    series = scale_levels.select("factor", "level").unique().sort("factor", "level").rows()
    style = {key: (f"C{i % 10}", _LEVEL_MARKERS[i % len(_LEVEL_MARKERS)]) for i, key in enumerate(series)}
    figure, axes = _grid(len(shown), width=4.2, height=3.6)
    for axis, (model, condition) in zip(axes, shown, strict=False):
        panel = scale_levels.filter((pl.col("model") == model) & (pl.col("condition") == condition))
        for (factor, level), group in sorted(panel.group_by("factor", "level"), key=lambda g: g[0]):
            if group.height > max_points:
                group = group.sample(max_points, seed=0)
            colour, shape = style[(factor, level)]
            # Markers of one line, not a scatter: several times quicker to draw with the same look.
            axis.plot(
                group["base_score"],
                group["score"],
                linestyle="none",
                markersize=3,
                alpha=0.4,
                color=colour,
                marker=shape,
                label=f"{factor}: {level}",
            )
        low = min(panel["base_score"].min(), panel["score"].min())
        high = max(panel["base_score"].max(), panel["score"].max())
        axis.plot([low, high], [low, high], color="#888888", linewidth=1)
        axis.set_title(_label(model, condition), fontsize=9)
        axis.set_xlabel("score under the base level", fontsize=7)
        axis.set_ylabel("score under the level", fontsize=7)
        axis.legend(fontsize=6, markerscale=1.5, loc="upper left")  # "best" searches every point: slow
    hidden = len(panels) - len(shown)
    figure.suptitle(
        f"{questionnaire}.{scale}: each persona under another presentation vs the base"
        + (f" ({hidden} more model × condition panels in the table)" if hidden else ""),
        fontsize=10,
    )
    return save_figure(figure, path, DPI)


def individual_fidelity(personas: pl.DataFrame, summary: pl.DataFrame, path: Path) -> Path:
    """Box plots of the per-persona r (each persona against its reference person, across a
    questionnaire's items) per model × condition, one panel per questionnaire; the baseline's mean
    r as a red x and the humans' test-retest ceiling as a green bar where loaded.
    ``personas``: model, condition, questionnaire, r. ``summary``: the individual_fidelity table."""
    names = sorted(personas["questionnaire"].unique())[:MAX_PANELS]
    figure, axes = _grid(len(names), width=5.0, height=3.4)
    for axis, name in zip(axes, names, strict=False):
        panel = personas.filter((pl.col("questionnaire") == name) & pl.col("r").is_not_null())
        groups = panel.group_by("model", "condition").agg(pl.col("r")).sort("condition", "model")
        rows = summary.filter(pl.col("questionnaire") == name)
        box = axis.boxplot(groups["r"].to_list() or [[]], orientation="horizontal", patch_artist=True, showfliers=False)
        for patch in box["boxes"]:
            patch.set_facecolor("#8fb8de")
        for y, (model, condition) in enumerate(groups.select("model", "condition").rows(), start=1):
            row = rows.filter((pl.col("model") == model) & (pl.col("condition") == condition))
            baseline = row["baseline_r"][0] if row.height else None
            ceiling = row["ceiling_r"][0] if row.height else None
            if baseline is not None:
                axis.plot([baseline], [y], marker="x", color="#c0392b", markersize=8, zorder=5)
            if ceiling is not None:
                axis.plot([ceiling], [y], marker="|", color="#2e8b57", markersize=14, markeredgewidth=2, zorder=5)
        labels = [_label(m, c) for m, c in zip(groups["model"], groups["condition"], strict=True)]
        axis.set_yticks(range(1, len(labels) + 1), labels, fontsize=7)
        axis.axvline(0, color="#888888", linewidth=0.8)
        axis.set_xlim(-1.02, 1.02)
        axis.set_title(f"{name}: r with the reference person", fontsize=9)
        axis.set_xlabel("per persona (x: baseline mean r, |: retest ceiling)", fontsize=7)
    return save_figure(figure, path, DPI)
