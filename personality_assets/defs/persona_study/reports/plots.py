"""Report figures as PNG files (matplotlib, no screen needed). Each ``draw_*`` function takes a report
table and draws one figure with a panel per scale or attribute (``None`` when there is nothing to
draw); the function of the same name without ``draw_`` saves it to a path and returns the path (or
``None``, writing nothing). Panels are titled with readable names ("Agreeableness (IPIP-50)"), every
axis is labelled, box plots carry the mean with its t 95% CI (the tests compare means), scatters
the Pearson r and n of each series, shares their Wilson 95% CI."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import polars as pl
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from personality_assets.defs.figures import has_data, plt, save_figure
from personality_assets.defs.persona_study.reports.paper import HUMAN_REFERENCE, questionnaire_label, scale_label
from personality_assets.defs.persona_study.reports.scale_scores import REFERENCE

LEGEND_INSIDE = 4  # series a scatter's legend holds inside its panel; more go beside it
MAX_PANELS = 24  # more scales or attributes than this are left out of one figure (the table has all)
DPI = 90
PERSONA_COLOUR, REFERENCE_COLOUR, MEAN_COLOUR = "#8fb8de", "#bbbbbb", "#c0392b"
MEAN_LABEL = "Mean with its 95% CI (t)"
REFERENCE_ALPHA_LABEL = "Human reference α"
ALPHA_AXIS = "Cronbach's α (95% CI)"
GROUP_AXIS = "Model / condition"
SHARE_INDICES = {"acquiescence_pairs", "extreme_share", "midpoint_share", "modal_share"}  # 0..1 by definition
INDEX_NAMES = {  # panel title, axis label
    "acquiescence_mean": ("Acquiescence (mean answer)", "Mean answer over keyed/reversed pairs"),
    "acquiescence_pairs": ("Acquiescence (pairs agreed)", "Share of keyed/reversed pairs both agreed with"),
    "extreme_share": ("Extreme answers", "Share of answers at either end of the scale"),
    "midpoint_share": ("Midpoint answers", "Share of answers at the midpoint"),
    "longest_run": ("Longest run", "Identical answers in a row (longest run)"),
    "modal_share": ("Most frequent answer", "Share of the most frequent answer"),
}


def _grid(panels: int, width: float = 4.2, height: float = 3.2, constrained: bool = False):
    panels = max(1, min(panels, MAX_PANELS))
    columns = min(2, panels)  # two figures across fit the UI's metadata dialog
    rows = math.ceil(panels / columns)
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(width * columns, height * rows),
        squeeze=False,
        layout="constrained" if constrained else None,
    )
    flat = axes.ravel()
    for axis in flat[panels:]:
        axis.set_visible(False)
    return figure, flat


def group_colours(count: int) -> list:
    """A distinct colour per group: matplotlib's ten, its twenty beyond ten groups (repeating only
    past twenty)."""
    palette = plt.get_cmap("tab10" if count <= 10 else "tab20").colors
    return [palette[i % len(palette)] for i in range(count)]


def _label(model: str, condition: str, n: int | None = None) -> str:
    text = f"{HUMAN_REFERENCE if model == REFERENCE else model} / {condition}"
    return text if n is None else f"{text} (n = {n})"


def r_text(r: float | None, n: int) -> str:
    """ "r = .62, n = 20" (APA: no leading zero); "r = n/a" when undefined."""
    if r is None or not math.isfinite(r):
        return f"r = n/a, n = {n}"
    value = re.sub(r"^(-?)0\.", r"\1.", f"{r:.2f}")
    return f"r = {value}, n = {n}"


def pearson(x: np.ndarray, y: np.ndarray) -> tuple[float | None, int]:
    """Pearson r of the pairs where both are finite, and their number; r is None below 3 pairs or
    without variance."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, int(len(x))
    return float(np.corrcoef(x, y)[0, 1]), int(len(x))


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and its t-based 95% CI (low, high); the CI is the mean itself below 2 values."""
    values = values[np.isfinite(values)]
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, mean - half, mean + half


def _padded(low: float, high: float, pad: float = 0.04) -> tuple[float, float]:
    span = high - low
    margin = span * pad if span > 0 else 0.5
    return low - margin, high + margin


def _box_panel(axis, groups: list[tuple[str, str, np.ndarray]]) -> None:
    """Horizontal box plots (median, quartiles, whiskers at 1.5 IQR, no fliers), a group per row
    labelled with its n, and each group's mean with its t 95% CI as a diamond and error bar."""
    data = [values[np.isfinite(values)] for _, _, values in groups]
    box = axis.boxplot(
        data,
        orientation="horizontal",
        patch_artist=True,
        showfliers=False,
        widths=0.55,
        medianprops={"color": "black", "linewidth": 1.5},
    )
    for patch, (model, _, _) in zip(box["boxes"], groups, strict=True):
        patch.set_facecolor(REFERENCE_COLOUR if model == REFERENCE else PERSONA_COLOUR)
    centre = np.array([mean_ci(values) for values in data])
    positions = np.arange(1, len(data) + 1)
    axis.errorbar(
        centre[:, 0],
        positions,
        xerr=[centre[:, 0] - centre[:, 1], centre[:, 2] - centre[:, 0]],
        fmt="D",
        color=MEAN_COLOUR,
        markersize=4,
        capsize=3,
        linewidth=1.2,
        zorder=5,
        label=MEAN_LABEL,
    )
    labels = [_label(m, c, len(values)) for (m, c, _), values in zip(groups, data, strict=True)]
    axis.set_yticks(positions, labels, fontsize=7)
    axis.set_ylabel(GROUP_AXIS, fontsize=7)
    axis.invert_yaxis()  # the first group on top, as in the tables


def _box_height(frame: pl.DataFrame) -> float:
    """A box panel's height: room for a readable row per model × condition."""
    return max(3.4, 1.2 + 0.15 * frame.select("model", "condition").n_unique())


def _box_legend(figure) -> None:
    handles = [
        Patch(
            facecolor=PERSONA_COLOUR,
            edgecolor="black",
            label="Personas: median (line), quartiles (box), whiskers 1.5 IQR",
        ),
        Patch(facecolor=REFERENCE_COLOUR, edgecolor="black", label=f"{HUMAN_REFERENCE}: the same"),
        Line2D([], [], color=MEAN_COLOUR, marker="D", markersize=4, label=MEAN_LABEL),
    ]
    figure.legend(handles=handles, loc="outside upper center", ncols=3, fontsize=7, frameon=False)


def _groups(panel: pl.DataFrame, column: str) -> list[tuple[str, str, np.ndarray]]:
    """(model, condition, values) per model × condition with a finite value, the human reference
    first within each condition."""
    grouped = (
        panel.group_by("model", "condition")
        .agg(pl.col(column).cast(pl.Float64))
        .sort("condition", pl.col("model") != REFERENCE, "model")
    )
    return [
        (model, condition, values)
        for model, condition, values in zip(
            grouped["model"], grouped["condition"], (np.asarray(v, dtype=float) for v in grouped[column]), strict=True
        )
        if has_data(values)
    ]


def draw_score_distributions(scores: pl.DataFrame):
    """Box plots of scale scores per model × condition beside the reference people's, one panel
    per questionnaire × scale, with each group's mean and t 95% CI; the score axis is shared by the
    panels of one questionnaire. ``scores``: model, condition, questionnaire, scale, score (one row
    per persona or reference person)."""
    scores = scores.filter(pl.col("score").is_finite())
    if not has_data(scores["score"]):
        return None
    panels = scores.select("questionnaire", "scale").unique().sort("questionnaire", "scale").rows()[:MAX_PANELS]
    ranges = {
        q: _padded(low, high)
        for q, low, high in scores.group_by("questionnaire")
        .agg(pl.col("score").min().alias("low"), pl.col("score").max().alias("high"))
        .rows()
    }
    figure, axes = _grid(len(panels), width=5.0, height=_box_height(scores), constrained=True)
    for axis, (questionnaire, scale) in zip(axes, panels, strict=False):
        panel = scores.filter((pl.col("questionnaire") == questionnaire) & (pl.col("scale") == scale))
        _box_panel(axis, _groups(panel, "score"))
        axis.set_xlim(*ranges[questionnaire])
        axis.set_title(scale_label(questionnaire, scale), fontsize=9)
        axis.set_xlabel("Scale score", fontsize=7)
    _box_legend(figure)
    return figure


def score_distributions(scores: pl.DataFrame, path: Path) -> Path | None:
    return save_figure(draw_score_distributions(scores), path, DPI)


def draw_alpha_forest(reliability: pl.DataFrame):
    """Cronbach's α with its bootstrap 95% CI per model × condition, one panel per scale, the α
    axis the same in every panel; the human reference's α of each condition as one dashed line per
    panel, drawn over that condition's rows and named in the legend. Undefined α: an x at 0."""
    personas = reliability.filter(pl.col("model") != REFERENCE)
    if personas.is_empty():
        return None  # the human reference alone: nothing compared (the table has its α)
    panels = personas.select("questionnaire", "scale").unique().sort("questionnaire", "scale").rows()[:MAX_PANELS]
    drawn = pl.concat([reliability["alpha"], reliability["ci_low"], reliability["ci_high"]]).drop_nulls()
    low = min(-0.2, float(drawn.min())) if drawn.len() else -0.2  # an x at 0 marks an undefined α
    high = max(1.0, float(drawn.max())) if drawn.len() else 1.0
    xlim = (low - 0.02, high + 0.02)
    groups = personas.select("model", "condition").unique().height
    # Wide panels, laid out by matplotlib (long row labels never run into the next panel), each
    # legend under its axis (never over a point).
    figure, axes = _grid(len(panels), width=6.4, height=max(3.4, 0.22 * groups + 1.6), constrained=True)
    for axis, (questionnaire, scale) in zip(axes, panels, strict=False):
        panel = reliability.filter((pl.col("questionnaire") == questionnaire) & (pl.col("scale") == scale))
        models = panel.filter(pl.col("model") != REFERENCE).sort("condition", "model")
        rows = list(models.iter_rows(named=True))
        estimate = [row for row in rows if row["alpha"] is not None]
        y = {id(row): position for position, row in enumerate(rows)}
        if estimate:
            alphas = np.array([row["alpha"] for row in estimate])
            lows = np.array([np.nan if row["ci_low"] is None else row["ci_low"] for row in estimate])
            highs = np.array([np.nan if row["ci_high"] is None else row["ci_high"] for row in estimate])
            axis.errorbar(
                alphas,
                [y[id(row)] for row in estimate],
                xerr=[np.nan_to_num(alphas - lows), np.nan_to_num(highs - alphas)],
                fmt="o",
                color="#1f77b4",
                markersize=4,
                capsize=2,
                label="α with its bootstrap 95% CI",
            )
        undefined = [y[id(row)] for row in rows if row["alpha"] is None]
        if undefined:
            axis.plot([0] * len(undefined), undefined, "x", color=MEAN_COLOUR, label="α undefined (no variance)")
        # One reference per panel: each condition's human α over that condition's rows.
        segments = []
        for (condition,), group in panel.filter(pl.col("model") == REFERENCE).group_by("condition"):
            alpha = group["alpha"][0]
            positions = [y[id(row)] for row in rows if row["condition"] == condition]
            if alpha is not None and positions:  # a condition without personas here has nothing to compare
                segments.append((alpha, min(positions) - 0.45, max(positions) + 0.45))
        if segments:
            xs, starts, ends = zip(*sorted(segments, key=lambda s: s[1]), strict=True)
            axis.vlines(xs, starts, ends, colors="#555555", linestyles="--", linewidth=1.2, label=REFERENCE_ALPHA_LABEL)
        axis.set_yticks(range(len(rows)), [_label(r["model"], r["condition"], r["n"]) for r in rows], fontsize=7)
        axis.set_ylim(len(rows) - 0.5 if rows else 0.5, -0.5)  # the first row on top
        axis.set_xlim(*xlim)
        axis.set_xlabel(ALPHA_AXIS, fontsize=7)
        axis.set_ylabel(GROUP_AXIS, fontsize=7)
        axis.set_title(scale_label(questionnaire, scale), fontsize=9)
        axis.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=3, frameon=False)
    return figure


def alpha_forest(reliability: pl.DataFrame, path: Path) -> Path | None:
    return save_figure(draw_alpha_forest(reliability), path, DPI)


def draw_persona_vs_reference(scores: pl.DataFrame, max_points: int = 1500):
    """Each persona's scale score (mean of its repetitions) against its reference person's, one
    panel per scale, a colour per model × condition with its Pearson r and n (over every persona,
    before thinning to ``max_points`` and the jitter of integer scores) in the legend; the
    diagonal is perfect fidelity. ``scores``: model, condition, questionnaire, scale, persona_id,
    score, reference_score."""
    per_persona = scores.group_by("model", "condition", "questionnaire", "scale", "persona_id").agg(
        pl.col("score").mean(), pl.col("reference_score").first()
    )
    if not (has_data(per_persona["score"]) and has_data(per_persona["reference_score"])):
        return None
    panels = per_persona.select("questionnaire", "scale").unique().sort("questionnaire", "scale").rows()[:MAX_PANELS]
    series = per_persona.select("model", "condition").unique().sort("model", "condition").rows()
    colour = dict(zip(series, group_colours(len(series)), strict=True))  # the same in every panel
    beside = len(series) > LEGEND_INSIDE  # a long legend goes right of its panel, not over the points
    figure, axes = _grid(len(panels), width=7.0 if beside else 4.2, height=max(3.6, 0.13 * len(series) + 0.8))
    for axis, (questionnaire, scale) in zip(axes, panels, strict=False):
        panel = per_persona.filter((pl.col("questionnaire") == questionnaire) & (pl.col("scale") == scale))
        for (model, condition), group in sorted(panel.group_by("model", "condition"), key=lambda g: g[0]):
            r, n = pearson(group["reference_score"].to_numpy(), group["score"].to_numpy())
            if group.height > max_points:
                group = group.sample(max_points, seed=0)
            x, y = group["reference_score"].to_numpy(), group["score"].to_numpy()
            if np.all(np.mod(x, 1) == 0):  # counts (0..6) would stack on a grid: spread them a little
                rng = np.random.default_rng(0)
                x, y = x + rng.uniform(-0.2, 0.2, len(x)), y + rng.uniform(-0.2, 0.2, len(y))
            label = f"{_label(model, condition)}: {r_text(r, n)}"
            # Markers of one line, not a scatter: quicker to draw, and a lighter legend handle.
            axis.plot(
                x,
                y,
                linestyle="none",
                marker="o",
                markersize=2.5,
                alpha=0.35,
                color=colour[(model, condition)],
                label=label,
            )
        low = min(panel["reference_score"].min() or 0, panel["score"].min() or 0)
        high = max(panel["reference_score"].max() or 1, panel["score"].max() or 1)
        axis.plot([low, high], [low, high], color="#888888", linewidth=1)
        axis.set_title(scale_label(questionnaire, scale), fontsize=9)
        axis.set_xlabel("Reference person's score", fontsize=7)
        axis.set_ylabel("Persona's score (mean of repetitions)", fontsize=7)
        if beside:
            axis.legend(fontsize=6, markerscale=2, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        else:
            axis.legend(fontsize=6, markerscale=2, loc="upper left", framealpha=0.8)  # "best" searches every point
    return figure


def persona_vs_reference(scores: pl.DataFrame, path: Path, max_points: int = 1500) -> Path | None:
    return save_figure(draw_persona_vs_reference(scores, max_points), path, DPI)


def _shares(panel: pl.DataFrame, common: list[str]) -> pl.DataFrame:
    """Per model × condition × category (the rest as "other"): count, n and the Wilson 95% CI."""
    counts = (
        panel.with_columns(
            pl.when(pl.col("category").is_in(common)).then("category").otherwise(pl.lit("other")).alias("category")
        )
        .group_by("model", "condition", "category")
        .agg(pl.col("count").sum(), pl.col("n").max())
    )
    low, high = proportion_confint(counts["count"].to_numpy(), counts["n"].to_numpy(), alpha=0.05, method="wilson")
    return counts.with_columns(
        (pl.col("count") / pl.col("n")).alias("share"), pl.Series("ci_low", low), pl.Series("ci_high", high)
    )


def draw_demographic_bars(demographics: pl.DataFrame, top: int = 8):
    """Per attribute, the share of each category (the ``top`` most common, the rest as "other")
    per model × condition as bars with their Wilson 95% CI. ``demographics``: the demographics
    report (attribute, category, model, condition, count, n)."""
    demographics = demographics.filter(pl.col("n") > 0)
    if not has_data(demographics["count"], zero_is_empty=True):
        return None
    attributes = sorted(demographics["attribute"].unique())[:MAX_PANELS]
    groups = demographics.select("model", "condition").unique().sort("condition", "model").rows()
    most = max(demographics.group_by("attribute").agg(pl.col("category").n_unique())["category"].max(), 1)
    bars = min(most, top + 1) * len(groups)
    figure, axes = _grid(len(attributes), width=5.2, height=min(max(3.4, 1.2 + 0.07 * bars), 10), constrained=True)
    height = 0.8 / len(groups)
    colours = group_colours(len(groups))
    # One share axis for every panel, up to the highest upper CI (shares are small with many categories).
    upper = proportion_confint(demographics["count"].to_numpy(), demographics["n"].to_numpy(), method="wilson")[1]
    right = min(1.0, round(float(upper.max()) * 1.1 + 0.005, 2))
    for axis, attribute in zip(axes, attributes, strict=False):
        panel = demographics.filter(pl.col("attribute") == attribute)
        common = (
            panel.group_by("category").agg(pl.col("count").sum()).sort("count", "category", descending=[True, False])
        )
        common = common.filter(pl.col("count") > 0)["category"].head(top).to_list()
        if attribute == "age_band":
            common = sorted(common)  # the bands in age order
        shares = _shares(panel, common)
        categories = [c for c in [*common, "other"] if c in set(shares["category"])]
        if "other" in categories and not shares.filter(pl.col("category") == "other")["count"].sum():
            categories.remove("other")
        position = {category: i for i, category in enumerate(categories)}
        for j, (model, condition) in enumerate(groups):
            rows = shares.filter(
                (pl.col("model") == model) & (pl.col("condition") == condition) & pl.col("category").is_in(categories)
            ).sort(pl.col("category").replace_strict(position, return_dtype=pl.Int64))
            y = np.array([position[c] for c in rows["category"]]) - 0.4 + height * (j + 0.5)
            share = rows["share"].to_numpy()
            axis.barh(
                y,
                share,
                height=height * 0.9,
                # Wilson's interval holds the share; clipped for the rounding of a share of 0 or 1.
                xerr=np.clip([share - rows["ci_low"].to_numpy(), rows["ci_high"].to_numpy() - share], 0, None),
                color=colours[j],
                error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#333333"},
                label=_label(model, condition),
            )
        axis.set_yticks(range(len(categories)), categories, fontsize=7)
        axis.set_ylim(len(categories) - 0.5, -0.5)
        axis.set_xlim(0, right)
        axis.set_title(attribute.replace("_", " ").capitalize(), fontsize=9)
        axis.set_xlabel("Share of personas (95% Wilson CI)", fontsize=7)
        axis.set_ylabel("Category", fontsize=7)
    figure.legend(
        handles=[Patch(color=colours[j], label=_label(m, c)) for j, (m, c) in enumerate(groups)],
        loc="outside upper center",
        ncols=min(4, len(groups)),
        fontsize=7,
        frameon=False,
    )
    return figure


def demographic_bars(demographics: pl.DataFrame, path: Path, top: int = 8) -> Path | None:
    return save_figure(draw_demographic_bars(demographics, top), path, DPI)


def draw_response_styles(indices: pl.DataFrame, indices_shown: tuple[str, ...]):
    """Box plots of each response-style index per model × condition beside the reference people's
    (grey), with each group's mean and t 95% CI, one panel per questionnaire × index (an index a
    questionnaire cannot have, e.g. the midpoint share of yes/no items, has no panel); one value
    per respondent, a persona's repetitions and presentations averaged (the table keeps
    presentations apart). Shares are drawn on 0..1 in every panel. ``indices``: model, condition,
    questionnaire, the index columns and, to average per respondent, respondent, persona_id and
    personality_id."""
    keys = [c for c in ("respondent", "persona_id", "personality_id") if c in indices.columns]
    if keys:
        indices = indices.group_by("model", "condition", "questionnaire", *keys).agg(
            pl.col(index).cast(pl.Float64).mean() for index in indices_shown
        )
    panels = [
        (questionnaire, index)
        for questionnaire in sorted(indices["questionnaire"].unique())
        for index in indices_shown
        if has_data(indices.filter(pl.col("questionnaire") == questionnaire)[index])
    ][:MAX_PANELS]
    if not panels:
        return None
    figure, axes = _grid(len(panels), width=5.0, height=_box_height(indices), constrained=True)
    for axis, (questionnaire, index) in zip(axes, panels, strict=False):
        panel = indices.filter((pl.col("questionnaire") == questionnaire) & pl.col(index).is_finite())
        _box_panel(axis, _groups(panel, index))
        if index in SHARE_INDICES:
            axis.set_xlim(-0.02, 1.02)
        title, label = INDEX_NAMES.get(index, (index, index))
        axis.set_title(f"{questionnaire_label(questionnaire)}: {title}", fontsize=9)
        axis.set_xlabel(f"{label}, per respondent", fontsize=7)
    _box_legend(figure)
    return figure


def response_styles(indices: pl.DataFrame, path: Path, indices_shown: tuple[str, ...]) -> Path | None:
    return save_figure(draw_response_styles(indices, indices_shown), path, DPI)


MAX_ROBUSTNESS_PANELS = 8  # model × condition panels of one scale's figure (the table has all)
_LEVEL_MARKERS = "osD^v<>Px*"


def draw_robustness_scatter(levels: pl.DataFrame, questionnaire: str, scale: str, max_points: int = 600):
    """Each persona's score under every non-base presentation level (a colour and marker per
    factor: level, with its Pearson r and n in the legend) against its score under the base
    level, one panel per model × condition (at most ``MAX_ROBUSTNESS_PANELS``); on the identity
    line nothing moved. ``levels``: the robustness report's persona_id, factor, level, score,
    base_score with model, condition, questionnaire, scale."""
    scale_levels = levels.filter((pl.col("questionnaire") == questionnaire) & (pl.col("scale") == scale))
    if not (has_data(scale_levels["score"]) and has_data(scale_levels["base_score"])):
        return None
    panels = scale_levels.select("model", "condition").unique().sort("condition", "model").rows()
    shown = panels[:MAX_ROBUSTNESS_PANELS]
    series = scale_levels.select("factor", "level").unique().sort("factor", "level").rows()
    style = {key: (f"C{i % 10}", _LEVEL_MARKERS[i % len(_LEVEL_MARKERS)]) for i, key in enumerate(series)}
    beside = len(series) > LEGEND_INSIDE  # a long legend goes right of its panel, not over the points
    figure, axes = _grid(len(shown), width=6.6 if beside else 4.2, height=3.6)
    for axis, (model, condition) in zip(axes, shown, strict=False):
        panel = scale_levels.filter((pl.col("model") == model) & (pl.col("condition") == condition))
        for (factor, level), group in sorted(panel.group_by("factor", "level"), key=lambda g: g[0]):
            r, n = pearson(group["base_score"].to_numpy(), group["score"].to_numpy())
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
                label=f"{factor.replace('_', ' ')}: {level}, {r_text(r, n)}",
            )
        low = min(panel["base_score"].min(), panel["score"].min())
        high = max(panel["base_score"].max(), panel["score"].max())
        axis.plot([low, high], [low, high], color="#888888", linewidth=1)
        axis.set_title(_label(model, condition), fontsize=9)
        axis.set_xlabel("Score under the base level", fontsize=7)
        axis.set_ylabel("Score under the level", fontsize=7)
        if beside:
            axis.legend(fontsize=6, markerscale=1.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        else:
            axis.legend(fontsize=6, markerscale=1.5, loc="upper left", framealpha=0.8)  # "best" searches every point
    hidden = len(panels) - len(shown)
    figure.suptitle(
        f"{scale_label(questionnaire, scale)}: each persona under another presentation vs the base"
        + (f" ({hidden} more model × condition panels in the table)" if hidden else ""),
        fontsize=10,
    )
    return figure


def robustness_scatter(
    levels: pl.DataFrame, questionnaire: str, scale: str, path: Path, max_points: int = 600
) -> Path | None:
    return save_figure(draw_robustness_scatter(levels, questionnaire, scale, max_points), path, DPI)


def draw_individual_fidelity(personas: pl.DataFrame, summary: pl.DataFrame):
    """Box plots of the per-persona r (each persona against its reference person, across a
    questionnaire's items) per model × condition with the mean r and its t 95% CI, one panel per
    questionnaire; the baseline's mean r as a red x and the humans' test-retest ceiling as a green
    bar where loaded. ``personas``: model, condition, questionnaire, r. ``summary``: the
    individual_fidelity table."""
    personas = personas.filter(pl.col("r").is_finite())
    if not has_data(personas["r"]):
        return None
    names = sorted(personas["questionnaire"].unique())[:MAX_PANELS]
    figure, axes = _grid(len(names), width=5.0, height=_box_height(personas), constrained=True)
    for axis, name in zip(axes, names, strict=False):
        groups = _groups(personas.filter(pl.col("questionnaire") == name), "r")
        _box_panel(axis, groups)
        rows = summary.filter(pl.col("questionnaire") == name)
        for y, (model, condition, _) in enumerate(groups, start=1):
            row = rows.filter((pl.col("model") == model) & (pl.col("condition") == condition))
            baseline = row["baseline_r"][0] if row.height else None
            ceiling = row["ceiling_r"][0] if row.height else None
            if baseline is not None:
                axis.plot([baseline], [y], marker="x", color="#7d3c98", markersize=8, zorder=6)
            if ceiling is not None:
                axis.plot([ceiling], [y], marker="|", color="#2e8b57", markersize=14, markeredgewidth=2, zorder=6)
        axis.axvline(0, color="#888888", linewidth=0.8)
        axis.set_xlim(-1.02, 1.02)
        axis.set_title(f"{questionnaire_label(name)}: r with the reference person", fontsize=9)
        axis.set_xlabel("Pearson r of each persona with its reference person, across items", fontsize=7)
    handles = [
        Patch(facecolor=PERSONA_COLOUR, edgecolor="black", label="Personas: median (line), quartiles (box)"),
        Line2D([], [], color=MEAN_COLOUR, marker="D", markersize=4, label="Mean r with its 95% CI (t)"),
        Line2D([], [], color="#7d3c98", marker="x", linestyle="none", label="Baseline mean r"),
        Line2D([], [], color="#2e8b57", marker="|", linestyle="none", markersize=10, label="Retest ceiling r"),
    ]
    figure.legend(handles=handles, loc="outside upper center", ncols=2, fontsize=7, frameon=False)
    return figure


def individual_fidelity(personas: pl.DataFrame, summary: pl.DataFrame, path: Path) -> Path | None:
    return save_figure(draw_individual_fidelity(personas, summary), path, DPI)
