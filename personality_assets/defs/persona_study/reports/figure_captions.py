"""The report figures' captions, one place for the UI's metadata and the HTML report: what is compared,
what the boxes, bars and points are, and n (from the report table the figure was drawn from), with
readable names ("Agreeableness (IPIP-50)", "Human reference"), never codes. Framework-free."""

from __future__ import annotations

import polars as pl

from personality_assets.defs.persona_study.reports.paper import caption, scale_label
from personality_assets.defs.persona_study.reports.plots import MAX_ROBUSTNESS_PANELS
from personality_assets.defs.persona_study.reports.scale_scores import REFERENCE

BOXES = (
    "boxes: median (line) and quartiles, whiskers to 1.5 IQR; diamonds: the mean with its t 95% CI "
    "(the tests compare means)"
)


def _personas(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("model") != REFERENCE)


def _span(values: pl.Series) -> str:
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}–{high}"


def score_distributions(scale_scores: pl.DataFrame) -> str:
    """``scale_scores``: the scale score report (its n per row)."""
    return caption(
        "Scale scores of the personas of each model × condition (one score per persona, its repetitions "
        "averaged) beside the human reference of the condition, a panel per scale, the score axis shared "
        f"within a questionnaire; {BOXES}",
        scale_scores,
        per_group=True,
    )


def persona_vs_reference(scale_scores: pl.DataFrame) -> str:
    return caption(
        "Each persona's scale score (its repetitions averaged) against its reference person's, a panel per "
        "scale, a colour per model × condition (integer scores jittered by up to ±0.2 to be seen); the legend "
        "gives each model × condition's Pearson r and n; on the diagonal the persona scores as its person",
        _personas(scale_scores),
        per_group=True,
    )


def alpha_forest(reliability: pl.DataFrame) -> str:
    """``reliability``: the reliability report (its n per row)."""
    return caption(
        "Cronbach's α (points) with its bootstrap 95% CI (bars) per model × condition, a panel per scale, one "
        "α axis for every panel; dashed: the human reference's α of each condition, over that condition's "
        "rows; ×: α undefined (no variance)",
        reliability,
        per_group=True,
    )


def demographic_bars(demographics: pl.DataFrame, top: int = 8) -> str:
    """``demographics``: the demographics report (its n per attribute × model × condition)."""
    return caption(
        f"Share of the personas in each category (the {top} most common of an attribute, the rest as other) "
        "per model × condition (bars) with its Wilson 95% CI (error bars), a panel per attribute",
        demographics.select("model", "condition", "attribute", "n").unique(),
        per_group=True,
    )


def respondents(indices: pl.DataFrame) -> pl.DataFrame:
    """model, condition, questionnaire, n: the respondents of the response-style figure (a persona
    once, however many repetitions and presentations)."""
    keys = [c for c in ("persona_id", "personality_id") if c in indices.columns]
    return (
        indices.select("model", "condition", "questionnaire", *keys)
        .unique()
        .group_by("model", "condition", "questionnaire")
        .agg(pl.len().cast(pl.Int64).alias("n"))
    )


def response_styles(indices: pl.DataFrame) -> str:
    """``indices``: the response-style indices (one row per respondent, questionnaire and presentation)."""
    return caption(
        "Each response-style index of the personas of each model × condition beside the human reference of "
        "the condition, a panel per questionnaire × index, one value per respondent (a persona's repetitions "
        f"and presentations averaged; the table keeps presentations apart); shares drawn on 0 to 1; {BOXES}",
        respondents(indices),
        per_group=True,
    )


def robustness_scatter(levels: pl.DataFrame, questionnaire: str, scale: str) -> str:
    """``levels``: the robustness report's persona scores under each level and the base."""
    shown = levels.filter((pl.col("questionnaire") == questionnaire) & (pl.col("scale") == scale))
    what = (
        f"Each persona's {scale_label(questionnaire, scale)} score under every non-base presentation level (a "
        "colour and marker per factor: level, its Pearson r and n in the legend) against its score under the "
        f"base level, a panel per model × condition (at most {MAX_ROBUSTNESS_PANELS}); on the diagonal nothing "
        "moved."
    )
    if shown.is_empty():
        return what
    n = shown.group_by("model", "condition", "factor", "level").len()["len"]
    return f"{what} n = {_span(n)} personas per model × condition × level."


def individual_fidelity(summary: pl.DataFrame) -> str:
    """``summary``: the individual fidelity table (n personas with an r per row)."""
    return caption(
        "Each persona's Pearson r with its reference person across a questionnaire's items, per model × "
        "condition, a panel per questionnaire; boxes: median (line) and quartiles, whiskers to 1.5 IQR; "
        "diamonds: the mean r with its t 95% CI; ×: the baseline's mean r; |: the humans' test–retest r (the "
        "ceiling) where a retest population is loaded",
        summary,
        per_group=True,
    )
