"""Individual-level fidelity: does each persona answer like the one person it was written from?

Per persona and questionnaire: ``r``, the Pearson correlation across the questionnaire's items
between the persona's keyed answers (reversed items reversed, yes/no items 0/1 for the keyed
answer; each item averaged over the persona's repetitions) and its reference person's keyed
answers; ``items`` compared; ``accuracy`` and ``mae`` over all its answers (the agreement
report's measures, per persona). A persona (or person) whose keyed answers do not vary has no r
(undefined, counted in ``undefined``).

Per model × condition × questionnaire: n personas with an r, mean r with its t 95% CI over
personas (scipy), median, quartiles, share r > 0, mean accuracy and MAE; against
- a **baseline** (``baseline`` says which): ``random_respondents`` when the population
  ``<condition>_random`` is loaded: each of the personas' reference people against the random
  respondent of the same id there (each item drawn from that item's answers in the condition:
  what item means alone give); else ``permutation``: each persona against a random *other*
  reference person of the condition (seeded), what answering like the population, not the person,
  gives;
- the **ceiling**, when the population ``<condition>_retest`` is loaded (the same people answering
  again): ``ceiling_r``, the mean r between a person's two waves over everyone in both, and
  ``normalised`` = mean r / ceiling_r.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from personality_assets.defs.persona_study.reports.agreement import ACCURACY, MAE, pair_with_reference
from personality_assets.defs.persona_study.reports.reliability import SEED, row_seed
from personality_assets.questionnaires import get_questionnaire, keyed_items

RANDOM_SUFFIX, RETEST_SUFFIX = "_random", "_retest"
RANDOM_RESPONDENTS, PERMUTATION = "random_respondents", "permutation"
ITEM = ["questionnaire", "question_number"]
PARTITION = ["model", "condition"]
PERSONA_COLUMNS = {
    "model": pl.String,
    "condition": pl.String,
    "questionnaire": pl.String,
    "persona_id": pl.Int64,
    "ref_personality_id": pl.Int64,
    "items": pl.Int64,
    "r": pl.Float64,
    "accuracy": pl.Float64,
    "mae": pl.Float64,
}
SUMMARY_COLUMNS = {
    "questionnaire": pl.String,
    "model": pl.String,
    "condition": pl.String,
    "n": pl.Int64,
    "undefined": pl.Int64,
    "mean_r": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "median_r": pl.Float64,
    "q1_r": pl.Float64,
    "q3_r": pl.Float64,
    "share_positive": pl.Float64,
    "accuracy": pl.Float64,
    "mae": pl.Float64,
    "baseline": pl.String,
    "baseline_n": pl.Int64,
    "baseline_r": pl.Float64,
    "ceiling_n": pl.Int64,
    "ceiling_r": pl.Float64,
    "normalised": pl.Float64,
}
# One r per respondent pair: the columns a baseline's or ceiling's rows carry.
PAIR_COLUMNS = {"questionnaire": pl.String, "personality_id": pl.Int64, "items": pl.Int64, "r": pl.Float64}


def keyed(answers: pl.DataFrame) -> pl.DataFrame:
    """``answers`` with each item's ``keyed`` value (see questionnaires.keyed_value), per questionnaire."""
    frames = [
        keyed_items(group, get_questionnaire(name)).drop("scale", "key")
        for (name,), group in answers.group_by("questionnaire", maintain_order=True)
    ]
    return pl.concat(frames) if frames else answers.with_columns(pl.lit(None, pl.Float64).alias("keyed"))


def correlate(paired: pl.DataFrame, by: list[str], left: str = "keyed", right: str = "reference_keyed") -> pl.DataFrame:
    """One Pearson r across items per ``by`` group (polars' ``corr``, checked against scipy's
    pearsonr in the tests), with the number of items; no variance on either side: null."""
    return (
        paired.group_by(by)
        .agg(pl.len().alias("items"), pl.corr(left, right).alias("r"))
        .with_columns(pl.col("r").fill_nan(None))
    )


def persona_means(answers: pl.DataFrame) -> pl.DataFrame:
    """model, condition, questionnaire, persona_id, ref_personality_id, question_number, keyed:
    each persona's keyed answer to each item, averaged over its repetitions."""
    return (
        keyed(answers.filter(pl.col("answer").is_not_null()))
        .group_by(*PARTITION, "questionnaire", "persona_id", "ref_personality_id", "question_number")
        .agg(pl.col("keyed").mean())
    )


def reference_keyed(reference: pl.DataFrame) -> pl.DataFrame:
    """personality_id, questionnaire, question_number, reference_keyed of reference people."""
    return keyed(reference.select("personality_id", *ITEM, "answer")).select(
        "personality_id", *ITEM, pl.col("keyed").alias("reference_keyed")
    )


def persona_fidelity(answers: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """``answers``: model, condition, questionnaire, question_number, answer, persona_id,
    ref_personality_id (one row per answer of each experiment). ``reference``: condition,
    personality_id, questionnaire, question_number, answer. One row per persona × questionnaire:
    r across items (keyed, repetitions averaged), items, accuracy and MAE (likert only) over every
    answer of the persona (as the agreement report counts them)."""
    means = persona_means(answers)
    people = reference_keyed(reference.filter(pl.col("condition").is_in(means["condition"].unique().implode())))
    paired = means.join(
        people.rename({"personality_id": "ref_personality_id"}), on=["ref_personality_id", *ITEM], how="inner"
    )
    by = [*PARTITION, "questionnaire", "persona_id", "ref_personality_id"]
    correlations = correlate(paired, by)
    agreement = pair_with_reference(answers, reference).group_by(by).agg(ACCURACY, MAE)
    likert = [name for name in agreement["questionnaire"].unique() if get_questionnaire(name).scoring == "likert"]
    agreement = agreement.with_columns(pl.when(pl.col("questionnaire").is_in(likert)).then("mae"))
    return correlations.join(agreement, on=by, how="left").select(list(PERSONA_COLUMNS)).cast(PERSONA_COLUMNS).sort(*by)


def random_respondent_r(reference: pl.DataFrame, random: pl.DataFrame, people: pl.Series | None = None) -> pl.DataFrame:
    """Each reference person against the random respondent of the same id (the ``<condition>_random``
    population): personality_id, questionnaire, question_number, answer in both; ``people``:
    only these ids (the personas' reference people)."""
    return _person_pairs(reference, random, people)


def retest_r(first: pl.DataFrame, second: pl.DataFrame) -> pl.DataFrame:
    """Each person in both waves: r between their keyed answers in the first and the second."""
    return _person_pairs(first, second)


def _person_pairs(left: pl.DataFrame, right: pl.DataFrame, people: pl.Series | None = None) -> pl.DataFrame:
    if people is not None:
        left = left.filter(pl.col("personality_id").is_in(people.implode()))
    paired = reference_keyed(left).join(
        reference_keyed(right).rename({"reference_keyed": "other_keyed"}), on=["personality_id", *ITEM]
    )
    return (
        correlate(paired, ["questionnaire", "personality_id"], "reference_keyed", "other_keyed")
        .select(list(PAIR_COLUMNS))
        .cast(PAIR_COLUMNS)
    )


def permuted_r(answers: pl.DataFrame, reference: pl.DataFrame, seed: int = SEED) -> pl.DataFrame:
    """The permutation baseline: each persona of ``answers`` (one model × condition, as for
    ``persona_fidelity``) against a random other reference person of the condition who answered
    the questionnaire, drawn uniformly (seeded from ``seed`` and the model, condition and
    questionnaire; the people in id order, so the draw does not depend on the row order).
    Columns as ``PAIR_COLUMNS`` with personality_id the persona's own reference person."""
    means = persona_means(answers)
    people = reference_keyed(reference.filter(pl.col("condition").is_in(means["condition"].unique().implode())))
    frames = []
    for (model, condition, name), group in means.group_by(*PARTITION, "questionnaire", maintain_order=True):
        candidates = np.sort(people.filter(pl.col("questionnaire") == name)["personality_id"].unique().to_numpy())
        personas = group.select("persona_id", "ref_personality_id").unique().sort("persona_id")
        if len(candidates) < 2 or personas.is_empty():
            continue
        refs = personas["ref_personality_id"].to_numpy()
        own = np.searchsorted(candidates, refs)
        known = (own < len(candidates)) & (candidates[np.minimum(own, len(candidates) - 1)] == refs)
        rng = np.random.default_rng(row_seed(seed, name, model, condition))
        drawn = rng.integers(0, len(candidates) - 1, size=personas.height)
        # Skip the persona's own person: draws at or above its index move up by one.
        drawn = np.where(known & (drawn >= own), drawn + 1, drawn)
        partners = personas.with_columns(pl.Series("other_id", candidates[drawn], dtype=pl.Int64))
        paired = group.join(partners.select("persona_id", "other_id"), on="persona_id").join(
            people.filter(pl.col("questionnaire") == name).rename({"personality_id": "other_id"}),
            on=["other_id", *ITEM],
        )
        frames.append(correlate(paired, ["questionnaire", "persona_id", "ref_personality_id"]))
    if not frames:
        return pl.DataFrame(schema=PAIR_COLUMNS)
    return (
        pl.concat(frames)
        .rename({"ref_personality_id": "personality_id"})
        .select(list(PAIR_COLUMNS))
        .cast(PAIR_COLUMNS)
        .sort("questionnaire", "personality_id")
    )


def _describe(r: np.ndarray) -> dict:
    n = len(r)
    if n == 0:
        return dict.fromkeys(("mean_r", "ci_low", "ci_high", "median_r", "q1_r", "q3_r", "share_positive"))
    ci = (None, None)
    if n > 1 and np.ptp(r) > 0:
        interval = stats.ttest_1samp(r, 0.0).confidence_interval(0.95)
        ci = (float(interval.low), float(interval.high))
    q1, median, q3 = np.quantile(r, [0.25, 0.5, 0.75])
    return {
        "mean_r": float(np.mean(r)),
        "ci_low": ci[0],
        "ci_high": ci[1],
        "median_r": float(median),
        "q1_r": float(q1),
        "q3_r": float(q3),
        "share_positive": float(np.mean(r > 0)),
    }


def fidelity_summary(
    personas: pl.DataFrame, baselines: pl.DataFrame, ceilings: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``personas``: rows of ``persona_fidelity``. ``baselines``: model, condition, baseline and
    ``PAIR_COLUMNS`` (one r per persona or person). ``ceilings``: condition and ``PAIR_COLUMNS``
    (one r per person in both waves). One row per questionnaire × model × condition."""
    ceilings = ceilings if ceilings is not None else pl.DataFrame(schema={"condition": pl.String, **PAIR_COLUMNS})
    rows = []
    for (name, model, condition), group in personas.group_by("questionnaire", *PARTITION):
        r = group["r"].drop_nulls().to_numpy()
        base = baselines.filter(
            (pl.col("questionnaire") == name) & (pl.col("model") == model) & (pl.col("condition") == condition)
        )
        ceiling = ceilings.filter((pl.col("questionnaire") == name) & (pl.col("condition") == condition))[
            "r"
        ].drop_nulls()
        ceiling_r = float(ceiling.mean()) if ceiling.len() else None
        mean_r = float(np.mean(r)) if len(r) else None
        rows.append(
            {
                "questionnaire": name,
                "model": model,
                "condition": condition,
                "n": len(r),
                "undefined": group["r"].null_count(),
                **_describe(r),
                "accuracy": group["accuracy"].mean(),
                "mae": group["mae"].mean(),
                "baseline": base["baseline"][0] if base.height else None,
                "baseline_n": base["r"].drop_nulls().len(),
                "baseline_r": base["r"].mean() if base.height else None,
                "ceiling_n": ceiling.len(),
                "ceiling_r": ceiling_r,
                # A ceiling at or below 0 leaves nothing to normalise by.
                "normalised": mean_r / ceiling_r if mean_r is not None and ceiling_r and ceiling_r > 0 else None,
            }
        )
    return pl.DataFrame(rows, schema=SUMMARY_COLUMNS).sort("questionnaire", "model", "condition")
