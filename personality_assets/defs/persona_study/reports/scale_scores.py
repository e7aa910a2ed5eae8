"""Scale scores of each model's personas against the human reference they were made from.

Per questionnaire × scale × model × condition (the population the personas came from: base,
MaxN, MaxP, random, ...): n, mean and sd of the personas' scale scores (one per persona: its
repetitions averaged, so repeated answers do not count as more people); the same for the humans
of that population; the difference of means with Welch's t (unequal variances), its degrees of
freedom, p, the 95% confidence interval of the difference, Cohen's d (pooled sd), and the p-value
after Holm's correction across the whole table (one family of tests). Scipy and statsmodels do
the statistics. ``mean_abs_difference`` is the mean |persona score - its own reference person's
score| (how far each persona is from the person it was written from, not the group means). A group with fewer than two scores, or with no variance on both sides, has no
test: its t, p and CI are empty (null), never an error.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl
from scipy import stats
from statsmodels.stats.multitest import multipletests

REFERENCE = "reference"  # the model column of the reference people's rows (humans, or a derived population)
ALPHA = 0.05
# What names a row of a per-scale report (scale scores, reliability, agreement).
SCALE_ROW = {
    "questionnaire": pl.String,
    "scale": pl.String,
    "model": pl.String,
    "condition": pl.String,
}
COLUMNS = {
    **SCALE_ROW,
    "n": pl.Int64,
    "mean": pl.Float64,
    "sd": pl.Float64,
    "reference_n": pl.Int64,
    "reference_mean": pl.Float64,
    "reference_sd": pl.Float64,
    "difference": pl.Float64,
    "mean_abs_difference": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "welch_t": pl.Float64,
    "df": pl.Float64,
    "p": pl.Float64,
    "p_holm": pl.Float64,
    "significant": pl.String,
    "cohens_d": pl.Float64,
}


def welch(personas: np.ndarray, humans: np.ndarray) -> dict:
    """Welch's two-sample t-test of persona vs human scores, with the 95% CI of the difference
    and Cohen's d. Empty (None) when there is nothing to test."""
    none = {"welch_t": None, "df": None, "p": None, "ci_low": None, "ci_high": None, "cohens_d": None}
    if len(personas) < 2 or len(humans) < 2:
        return none
    var_p, var_h = np.var(personas, ddof=1), np.var(humans, ddof=1)
    pooled = math.sqrt(((len(personas) - 1) * var_p + (len(humans) - 1) * var_h) / (len(personas) + len(humans) - 2))
    if var_p == 0 and var_h == 0:
        return none
    with warnings.catch_warnings():
        # scipy warns of precision loss when one side is (nearly) constant, e.g. MaxN people all at
        # the extreme; the t-test is still the right one and the table shows both sds.
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        result = stats.ttest_ind(personas, humans, equal_var=False)
    ci = result.confidence_interval(0.95)
    return {
        "welch_t": float(result.statistic),
        "df": float(result.df),
        "p": float(result.pvalue),
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
        "cohens_d": (float(np.mean(personas)) - float(np.mean(humans))) / pooled if pooled else None,
    }


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values over the tests that exist (None stays None)."""
    present = [i for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    if present:
        corrected = multipletests([p_values[i] for i in present], alpha=ALPHA, method="holm")[1]
        for i, value in zip(present, corrected, strict=True):
            adjusted[i] = float(value)
    return adjusted


def marker(p_holm: float | None) -> str:
    if p_holm is None:
        return "n/a"
    return "***" if p_holm < 0.001 else "**" if p_holm < 0.01 else "*" if p_holm < ALPHA else "ns"


def scale_score_table(persona_scores: pl.DataFrame, human_scores: pl.DataFrame) -> pl.DataFrame:
    """``persona_scores``: model, condition, questionnaire, scale, score and optionally
    reference_score (one row per experiment).
    ``human_scores``: condition, questionnaire, scale, score (one row per reference person).
    One row per questionnaire × scale × model × condition, plus the humans' own rows."""
    humans = {
        key: group["score"].to_numpy() for key, group in human_scores.group_by("condition", "questionnaire", "scale")
    }
    rows = []
    for (model, condition, questionnaire, scale), group in persona_scores.group_by(
        "model", "condition", "questionnaire", "scale"
    ):
        # A persona's repetitions are not independent respondents: test one mean per persona.
        per_persona = (
            group.group_by("persona_id").agg(pl.col("score").mean()) if "persona_id" in group.columns else group
        )
        scores = per_persona["score"].drop_nulls().to_numpy()
        reference = humans.get((condition, questionnaire, scale), np.array([]))
        rows.append(
            {
                "questionnaire": questionnaire,
                "scale": scale,
                "model": model,
                "condition": condition,
                **_describe(scores),
                **_describe(reference, "reference_"),
                "difference": float(np.mean(scores) - np.mean(reference)) if len(scores) and len(reference) else None,
                "mean_abs_difference": _mean_abs_difference(group),
                **welch(scores, reference),
            }
        )
    for (condition, questionnaire, scale), reference in humans.items():
        rows.append(
            {
                "questionnaire": questionnaire,
                "scale": scale,
                "model": REFERENCE,
                "condition": condition,
                **_describe(reference),
                **_describe(reference, "reference_"),
            }
        )
    table = pl.DataFrame(rows, schema={c: t for c, t in COLUMNS.items() if c not in ("p_holm", "significant")})
    adjusted = holm(table["p"].to_list())
    return (
        table.with_columns(
            pl.Series("p_holm", adjusted, dtype=pl.Float64),
            pl.Series("significant", [marker(p) for p in adjusted], dtype=pl.String),
        )
        .select(list(COLUMNS))
        .sort("questionnaire", "scale", "condition", pl.col("model") != REFERENCE, "model")
    )


def _describe(scores: np.ndarray, prefix: str = "") -> dict:
    n = len(scores)
    return {
        f"{prefix}n": n,
        f"{prefix}mean": float(np.mean(scores)) if n else None,
        f"{prefix}sd": float(np.std(scores, ddof=1)) if n > 1 else None,
    }


def _mean_abs_difference(group: pl.DataFrame) -> float | None:
    if "reference_score" not in group.columns:
        return None
    return group.select((pl.col("score") - pl.col("reference_score")).abs().mean()).item()
