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

Equivalence: the two one-sided tests (TOST, statsmodels ``ttost_ind`` with unequal variances, as
the Welch test) of |persona mean - reference mean| < bound, the bound set in pooled-sd units
(``equivalence_bound_sd``, default 0.2) and stated in raw units (``equivalence_bound``); Holm
across the table's TOST p values, a family of its own. ``equivalence`` (see ``VERDICTS``):
*equivalent* when TOST is significant after Holm, whatever the Welch test says; *different* when
the Welch test is and TOST is not; *inconclusive* when neither. Cohen's d has its 95% CI from the
noncentral t (``cohens_d_ci``). Spread: ``sd_ratio`` (persona sd / reference sd) with its 95% CI
from the F distribution (exact only for normal scores), and the Brown-Forsythe test of equal
spread (scipy ``levene(center="median")``), Holm across the table.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind

REFERENCE = "reference"  # the model column of the reference people's rows (humans, or a derived population)
ALPHA = 0.05
EQUIVALENCE_BOUND_SD = 0.2  # the equivalence bound in pooled-sd units: Cohen's "small" effect
VERDICTS = (
    "equivalent: TOST p < 0.05 after Holm (the difference is within ± the bound, even when Welch's t "
    "also finds it non-zero); different: Welch p < 0.05 after Holm and TOST not; inconclusive: "
    "neither; empty when there is no test"
)
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
    "cohens_d_ci_low": pl.Float64,
    "cohens_d_ci_high": pl.Float64,
    "equivalence_bound_sd": pl.Float64,
    "equivalence_bound": pl.Float64,
    "p_tost": pl.Float64,
    "p_tost_holm": pl.Float64,
    "equivalence": pl.String,
    "sd_ratio": pl.Float64,
    "sd_ratio_ci_low": pl.Float64,
    "sd_ratio_ci_high": pl.Float64,
    "p_spread": pl.Float64,
    "p_spread_holm": pl.Float64,
}
ADJUSTED = ("p_holm", "significant", "p_tost_holm", "equivalence", "p_spread_holm")  # set across the table


def welch(personas: np.ndarray, humans: np.ndarray) -> dict:
    """Welch's two-sample t-test of persona vs human scores, with the 95% CI of the difference
    and Cohen's d. Empty (None) when there is nothing to test."""
    none = {"welch_t": None, "df": None, "p": None, "ci_low": None, "ci_high": None, "cohens_d": None}
    if len(personas) < 2 or len(humans) < 2:
        return none
    pooled = pooled_sd(personas, humans)
    if pooled == 0:
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
        "cohens_d": (float(np.mean(personas)) - float(np.mean(humans))) / pooled,
    }


def effect_size(personas: np.ndarray, humans: np.ndarray) -> dict:
    """Welch's test (``welch``) with the 95% CI of Cohen's d (``cohens_d_ci``)."""
    test = welch(personas, humans)
    d = test["cohens_d"]
    low, high = (None, None) if d is None else cohens_d_ci(d, len(personas), len(humans))
    return {**test, "cohens_d_ci_low": low, "cohens_d_ci_high": high}


def pooled_sd(personas: np.ndarray, humans: np.ndarray) -> float:
    n_p, n_h = len(personas), len(humans)
    return math.sqrt(((n_p - 1) * np.var(personas, ddof=1) + (n_h - 1) * np.var(humans, ddof=1)) / (n_p + n_h - 2))


def cohens_d_ci(d: float, n1: int, n2: int, confidence: float = 0.95) -> tuple[float, float]:
    """The confidence interval of Cohen's d (pooled sd) of two independent groups from the
    noncentral t distribution (Steiger & Fouladi 1997; Cumming & Finch 2001; MBESS ``ci.smd``,
    effectsize ``cohens_d``): t = d / sqrt(1/n1 + 1/n2) is noncentral t with n1 + n2 - 2 df and
    noncentrality delta / sqrt(1/n1 + 1/n2); the limits are the noncentralities under which the
    observed t is at the upper and lower (1 - confidence) / 2 quantiles, scaled back to d. Assumes
    normal scores with equal variances (the pooled sd's own assumption)."""
    df = n1 + n2 - 2
    scale = math.sqrt(1 / n1 + 1 / n2)
    t = d / scale
    tail = (1 - confidence) / 2
    # The noncentral t's sd is about sqrt(1 + t^2 / (2 df)): the limits lie well inside ± 6 of them.
    width = 6 * math.sqrt(1 + t * t / (2 * df)) + 2

    def beyond(ncp: float, target: float) -> float:
        cdf = stats.nct.cdf(t, df, ncp)
        if math.isnan(cdf):  # far in a tail scipy's nct returns nan: the probability is 0 or 1 there
            cdf = 0.0 if ncp > t else 1.0
        return cdf - target

    low = optimize.brentq(beyond, t - width, t + width, args=(1 - tail,), xtol=1e-10)
    high = optimize.brentq(beyond, t - width, t + width, args=(tail,), xtol=1e-10)
    return low * scale, high * scale


def equivalence(personas: np.ndarray, humans: np.ndarray, bound_sd: float = EQUIVALENCE_BOUND_SD) -> dict:
    """TOST of persona vs human means within ± ``bound_sd`` pooled sds (statsmodels ``ttost_ind``,
    Welch's unequal variances); the bound in raw units and the TOST p (the larger of the two
    one-sided p values). Empty (None) when there is nothing to test."""
    none = {"equivalence_bound": None, "p_tost": None}
    if len(personas) < 2 or len(humans) < 2:
        return none
    pooled = pooled_sd(personas, humans)
    if pooled == 0:
        return none
    bound = bound_sd * pooled
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        p_tost = ttost_ind(personas, humans, -bound, bound, usevar="unequal")[0]
    return {"equivalence_bound": bound, "p_tost": float(p_tost)}


def spread(personas: np.ndarray, humans: np.ndarray, confidence: float = 0.95) -> dict:
    """Persona sd / human sd with its CI from the F distribution (the variance ratio over the
    population's is F(n_p - 1, n_h - 1) for normal scores), and the Brown-Forsythe test of equal
    spread (Levene's test around the medians, robust to non-normal scores). Empty (None) when
    there is nothing to compare."""
    result = {"sd_ratio": None, "sd_ratio_ci_low": None, "sd_ratio_ci_high": None, "p_spread": None}
    n_p, n_h = len(personas), len(humans)
    if n_p < 2 or n_h < 2:
        return result
    var_p, var_h = np.var(personas, ddof=1), np.var(humans, ddof=1)
    if var_h > 0:
        ratio = var_p / var_h
        tail = (1 - confidence) / 2
        result |= {
            "sd_ratio": math.sqrt(ratio),
            "sd_ratio_ci_low": math.sqrt(ratio / stats.f.ppf(1 - tail, n_p - 1, n_h - 1)),
            "sd_ratio_ci_high": math.sqrt(ratio / stats.f.ppf(tail, n_p - 1, n_h - 1)),
        }
    with np.errstate(invalid="ignore", divide="ignore"):  # no spread around either median: no test
        p = stats.levene(personas, humans, center="median").pvalue
    result["p_spread"] = None if math.isnan(p) else float(p)
    return result


def verdict(p_holm: float | None, p_tost_holm: float | None) -> str | None:
    """See ``VERDICTS``: equivalence takes precedence over a significant difference."""
    if p_holm is None or p_tost_holm is None:
        return None
    if p_tost_holm < ALPHA:
        return "equivalent"
    return "different" if p_holm < ALPHA else "inconclusive"


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


def scale_score_table(
    persona_scores: pl.DataFrame, human_scores: pl.DataFrame, equivalence_bound_sd: float = EQUIVALENCE_BOUND_SD
) -> pl.DataFrame:
    """``persona_scores``: model, condition, questionnaire, scale, score and optionally
    reference_score (one row per experiment).
    ``human_scores``: condition, questionnaire, scale, score (one row per reference person).
    One row per questionnaire × scale × model × condition, plus the humans' own rows (no tests).
    ``equivalence_bound_sd``: the TOST bound in pooled-sd units."""
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
                **effect_size(scores, reference),
                "equivalence_bound_sd": equivalence_bound_sd,
                **equivalence(scores, reference, equivalence_bound_sd),
                **spread(scores, reference),
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
    table = pl.DataFrame(rows, schema={c: t for c, t in COLUMNS.items() if c not in ADJUSTED})
    adjusted, tost = holm(table["p"].to_list()), holm(table["p_tost"].to_list())
    return (
        table.with_columns(
            pl.Series("p_holm", adjusted, dtype=pl.Float64),
            pl.Series("significant", [marker(p) for p in adjusted], dtype=pl.String),
            pl.Series("p_tost_holm", tost, dtype=pl.Float64),
            pl.Series("equivalence", [verdict(*ps) for ps in zip(adjusted, tost, strict=True)], dtype=pl.String),
            pl.Series("p_spread_holm", holm(table["p_spread"].to_list()), dtype=pl.Float64),
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
