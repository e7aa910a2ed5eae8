"""Robustness of persona scale scores to how the questionnaire was presented.

Each presentation factor (item order, option order, wording) has a base level (as the original
study asked). For every questionnaire × scale × model × condition × factor × non-base level of that
factor in the data, each persona's score under the level is compared with its own score under the
base level, so the comparison is within persona.

**Matched cells.** A persona's *cell* is one combination of the other two factors' levels (e.g.
for item order: option order × wording). Its score under a level is the mean over the matched
cells (cells where the persona has a score under both the level and the base) of the cell's mean
over repetitions, each cell counting once; the base score likewise over the same cells. So an
unbalanced design (a persona answered ``descending`` only under ``as_defined``, or more
repetitions in one cell) compares like with like.

Per row: n personas, the two means and sds, the mean shift (level - base) with its sd, d_z (mean
shift / sd of the shifts) and d_av (mean shift / mean of the two levels' sds); the paired t-test
(scipy ``ttest_rel``) and the Wilcoxon signed-rank test (scipy ``wilcoxon``; empty when every
shift is 0); Holm's correction over the whole table's paired-t p values (statsmodels); the
persona-level agreement across the two levels as ICC(3,1) (consistency) and ICC(2,1) (absolute
agreement), each with its 95% CI (pingouin ``intraclass_corr``: targets personas, raters the two
levels); and Cronbach's α of the scale under each level over the experiments in the matched cells
(the reliability report's α). See ``THRESHOLDS`` for the verdict.
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pingouin
import polars as pl
from scipy import stats

from personality_assets.defs.persona_study.presentation import FACTORS
from personality_assets.defs.persona_study.reports.reliability import item_matrix, scale_reliability
from personality_assets.defs.persona_study.reports.scale_scores import SCALE_ROW, holm

UNSTABLE_ICC = 0.75  # ICC(3,1) below this: the personas' rank order does not survive the change
SHIFT_P = 0.05  # Holm-corrected paired-t p below this ...
SHIFT_D = 0.2  # ... and |d_av| at least this (a small effect): the scores move as a whole
THRESHOLDS = (
    f"unstable: ICC(3,1) < {UNSTABLE_ICC}; shifts: ICC(3,1) >= {UNSTABLE_ICC}, Holm p < {SHIFT_P} "
    f"(paired t) and |d_av| >= {SHIFT_D} (d_av: mean shift / mean of the two levels' sds); "
    "stable: otherwise; empty when the ICC is undefined (fewer than 3 personas or no variance)"
)
MIN_PERSONAS_ICC = 3  # pingouin's two-way ANOVA needs at least 5 ratings (here 2 per persona)

KEYS = list(SCALE_ROW)  # questionnaire, scale, model, condition
COLUMNS = {
    **SCALE_ROW,
    "factor": pl.String,
    "level": pl.String,
    "base_level": pl.String,
    "n": pl.Int64,
    "base_mean": pl.Float64,
    "level_mean": pl.Float64,
    "base_sd": pl.Float64,
    "level_sd": pl.Float64,
    "mean_shift": pl.Float64,
    "sd_shift": pl.Float64,
    "d_z": pl.Float64,
    "d_av": pl.Float64,
    "t": pl.Float64,
    "p_t": pl.Float64,
    "wilcoxon_p": pl.Float64,
    "p_holm": pl.Float64,
    "icc": pl.Float64,
    "icc_ci_low": pl.Float64,
    "icc_ci_high": pl.Float64,
    "icc_agreement": pl.Float64,
    "icc_agreement_ci_low": pl.Float64,
    "icc_agreement_ci_high": pl.Float64,
    "alpha_base": pl.Float64,
    "alpha_level": pl.Float64,
    "verdict": pl.String,
}
LEVEL_COLUMNS = {
    **SCALE_ROW,
    "persona_id": pl.Int64,
    "factor": pl.String,
    "level": pl.String,
    "score": pl.Float64,
    "base_score": pl.Float64,
}


def _cells(scores: pl.DataFrame) -> pl.DataFrame:
    """One score per persona × presentation cell (the mean over its repetitions), with the ids of
    the cell's experiments when the scores carry them (for α)."""
    experiments = [pl.col("experiment_id")] if "experiment_id" in scores.columns else [pl.lit([], pl.List(pl.Int64))]
    return (
        scores.drop_nulls("score")
        .group_by(*KEYS, "persona_id", *FACTORS)
        .agg(pl.col("score").cast(pl.Float64).mean(), *(e.alias("experiments") for e in experiments))
    )


def matched_cells(scores: pl.DataFrame) -> pl.DataFrame:
    """Each persona's cells under each non-base level joined to its base cell with the other two
    factors at equal levels (cells without their twin are left out): KEYS, persona_id, factor,
    level, score, base_score, level_experiments, base_experiments."""
    cells = _cells(scores)
    frames = []
    for factor, base in FACTORS.items():
        on = [*KEYS, "persona_id", *(other for other in FACTORS if other != factor)]
        frames.append(
            cells.filter(pl.col(factor) != base)
            .join(
                cells.filter(pl.col(factor) == base).select(
                    *on, pl.col("score").alias("base_score"), pl.col("experiments").alias("base_experiments")
                ),
                on=on,
                how="inner",
            )
            .select(
                *KEYS,
                "persona_id",
                pl.lit(factor).alias("factor"),
                pl.col(factor).alias("level"),
                "score",
                "base_score",
                pl.col("experiments").alias("level_experiments"),
                "base_experiments",
            )
        )
    return pl.concat(frames)


def persona_level_scores(scores: pl.DataFrame, matched: pl.DataFrame | None = None) -> pl.DataFrame:
    """Each persona's score under each non-base level and under the base on the matched cells
    (each cell's mean over repetitions, averaged over the cells).

    ``scores``: model, condition, questionnaire, scale, persona_id, item_order, option_order,
    wording, score (one row per experiment × scale; repetitions are further rows). Returns
    questionnaire, scale, model, condition, persona_id, factor, level, score, base_score."""
    if scores.is_empty():
        return pl.DataFrame(schema=LEVEL_COLUMNS)
    matched = matched_cells(scores) if matched is None else matched
    return (
        matched.group_by(*KEYS, "persona_id", "factor", "level")
        .agg(pl.col("score").mean(), pl.col("base_score").mean())
        .select(list(LEVEL_COLUMNS))
        .cast(LEVEL_COLUMNS)
        .sort(*KEYS, "factor", "level", "persona_id")
    )


def _finite(value) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def paired_tests(level: np.ndarray, base: np.ndarray) -> dict:
    """Mean shift, its sd, d_z, paired t and Wilcoxon signed-rank p of ``level`` vs ``base``."""
    shifts = level - base
    n = len(shifts)
    result = {"mean_shift": None, "sd_shift": None, "d_z": None, "t": None, "p_t": None, "wilcoxon_p": None}
    if n == 0:
        return result
    result["mean_shift"] = float(shifts.mean())
    if n < 2:
        return result
    sd = float(shifts.std(ddof=1))
    result["sd_shift"] = sd
    if sd > 0:
        result["d_z"] = result["mean_shift"] / sd
        paired = stats.ttest_rel(level, base)
        result["t"], result["p_t"] = _finite(paired.statistic), _finite(paired.pvalue)
    if np.any(shifts != 0):
        result["wilcoxon_p"] = _finite(stats.wilcoxon(level, base).pvalue)
    return result


def icc(level: np.ndarray, base: np.ndarray, personas: np.ndarray) -> dict:
    """ICC(3,1) and ICC(2,1) with their 95% CIs (pingouin), personas as targets and the two
    levels as raters; empty with fewer than ``MIN_PERSONAS_ICC`` personas or no variance."""
    empty = dict.fromkeys(
        ("icc", "icc_ci_low", "icc_ci_high", "icc_agreement", "icc_agreement_ci_low", "icc_agreement_ci_high")
    )
    if len(personas) < MIN_PERSONAS_ICC or np.var(np.concatenate([level, base])) == 0:
        return empty
    long = pd.DataFrame(
        {
            "persona": np.concatenate([personas, personas]),
            "rater": ["base"] * len(base) + ["level"] * len(level),
            "score": np.concatenate([base, level]),
        }
    )
    with _full_precision(), warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # pandas deprecations inside pingouin
        table = pingouin.intraclass_corr(long, targets="persona", raters="rater", ratings="score").set_index("Type")
    # pingouin's names: ICC(C,1) is Shrout & Fleiss' ICC(3,1), ICC(A,1) their ICC(2,1).
    consistency, agreement = table.loc["ICC(C,1)"], table.loc["ICC(A,1)"]
    return {
        "icc": _finite(consistency["ICC"]),
        "icc_ci_low": _finite(consistency["CI95"][0]),
        "icc_ci_high": _finite(consistency["CI95"][1]),
        "icc_agreement": _finite(agreement["ICC"]),
        "icc_agreement_ci_low": _finite(agreement["CI95"][0]),
        "icc_agreement_ci_high": _finite(agreement["CI95"][1]),
    }


@contextmanager
def _full_precision():
    """pingouin rounds the ICC's CI to 2 decimals by default (its ``options``); the table keeps
    every digit, as for the other columns."""
    saved = dict(pingouin.options)
    for key in [key for key in pingouin.options if key.startswith("round.")]:
        del pingouin.options[key]
    pingouin.options["round"] = None
    try:
        yield
    finally:
        pingouin.options.clear()
        pingouin.options.update(saved)


def verdict(icc_consistency: float | None, p_holm: float | None, d_av: float | None) -> str | None:
    """The row's verdict, unstable, shifts or stable (see ``THRESHOLDS``); None when the ICC is
    undefined."""
    if icc_consistency is None:
        return None
    if icc_consistency < UNSTABLE_ICC:
        return "unstable"
    if p_holm is not None and p_holm < SHIFT_P and d_av is not None and abs(d_av) >= SHIFT_D:
        return "shifts"
    return "stable"


def _alphas(keyed: pl.DataFrame | None, matched: pl.DataFrame) -> dict[tuple, float | None]:
    """α under each side of each comparison: (questionnaire, scale, model, condition, factor,
    level, side) -> α, over the experiments of the matched cells (listwise, as the reliability
    report). ``matched``: the matched cells with the experiment ids of each side."""
    if keyed is None or keyed.is_empty() or matched.is_empty():
        return {}
    sides = pl.concat(
        [
            matched.select(*KEYS, "factor", "level", pl.lit(side).alias("side"), pl.col(column).alias("respondent"))
            for side, column in (("base", "base_experiments"), ("level", "level_experiments"))
        ]
    ).explode("respondent")
    items = keyed.select(*KEYS, "respondent", "question_number", "keyed").join(
        sides.unique(), on=[*KEYS, "respondent"], how="inner"
    )
    groups = items.partition_by(*KEYS, "factor", "level", "side", as_dict=True)
    respondents = sides.unique().partition_by(*KEYS, "factor", "level", "side", as_dict=True)
    alphas = {}
    for key, group in groups.items():
        matrix = item_matrix(group, "respondent", respondents[key]["respondent"].unique())
        alphas[key] = scale_reliability(matrix, resamples=0)["alpha"]
    return alphas


def compare_levels(scores: pl.DataFrame, keyed: pl.DataFrame | None = None) -> pl.DataFrame:
    """The table's rows before Holm and the verdict (``p_holm`` and ``verdict`` empty), so a
    caller can build it one model × condition at a time and finish it with ``with_verdicts``.

    ``scores`` as for ``persona_level_scores`` plus experiment_id; ``keyed`` (optional, for α):
    model, condition, questionnaire, scale, respondent (the experiment id), question_number,
    keyed (the keyed item values, as the reliability report's)."""
    if scores.is_empty():
        return pl.DataFrame(schema=COLUMNS)
    matched = matched_cells(scores)
    levels = persona_level_scores(scores, matched)
    alphas = _alphas(keyed, matched)
    rows = []
    for key, group in levels.partition_by(*KEYS, "factor", "level", as_dict=True).items():
        questionnaire, scale, model, condition, factor, level = key
        level_scores, base_scores = group["score"].to_numpy(), group["base_score"].to_numpy()
        n = len(level_scores)
        base_sd = float(base_scores.std(ddof=1)) if n > 1 else None
        level_sd = float(level_scores.std(ddof=1)) if n > 1 else None
        tests = paired_tests(level_scores, base_scores)
        mean_sd = (base_sd + level_sd) / 2 if n > 1 else 0.0
        rows.append(
            {
                "questionnaire": questionnaire,
                "scale": scale,
                "model": model,
                "condition": condition,
                "factor": factor,
                "level": level,
                "base_level": FACTORS[factor],
                "n": n,
                "base_mean": float(base_scores.mean()),
                "level_mean": float(level_scores.mean()),
                "base_sd": base_sd,
                "level_sd": level_sd,
                **tests,
                "d_av": tests["mean_shift"] / mean_sd if mean_sd else None,
                **icc(level_scores, base_scores, group["persona_id"].to_numpy()),
                "alpha_base": alphas.get((*key, "base")),
                "alpha_level": alphas.get((*key, "level")),
            }
        )
    return pl.DataFrame(rows, schema=COLUMNS)


def with_verdicts(rows: pl.DataFrame) -> pl.DataFrame:
    """Holm's correction over every row's paired-t p (one family: the whole table), then the
    verdict of each row."""
    if rows.is_empty():
        return pl.DataFrame(schema=COLUMNS)
    corrected = rows.with_columns(pl.Series("p_holm", holm(rows["p_t"].to_list()), dtype=pl.Float64))
    verdicts = [
        verdict(row["icc"], row["p_holm"], row["d_av"])
        for row in corrected.select("icc", "p_holm", "d_av").iter_rows(named=True)
    ]
    return corrected.with_columns(pl.Series("verdict", verdicts, dtype=pl.String)).sort(
        *KEYS[:2], "model", "condition", "factor", "level"
    )


def robustness_table(scores: pl.DataFrame, keyed: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The robustness table (one row per questionnaire × scale × model × condition × factor ×
    non-base level; see the module's doc) and each persona's score under each level
    (``persona_level_scores``). Empty frames when no non-base level is in the data."""
    return with_verdicts(compare_levels(scores, keyed)), persona_level_scores(scores)
