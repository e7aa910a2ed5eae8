"""How far the personas' answer distributions are from the humans' (same condition): the
Wasserstein (earth mover's) distance, normalised by the answer range into a similarity.

Per questionnaire × item × model × condition on the answer codes, and per questionnaire × scale ×
model × condition on the scale scores: ``wasserstein`` (scipy's ``wasserstein_distance``: the
area between the two empirical CDFs, in the units of the codes or scores), ``range`` (max - min
answer code for an item; the scale score's possible range: max - min code for a likert mean,
the number of items for a keyed count) and ``similarity = 1 - wasserstein / range`` as OpinionQA
(Santurkar et al. 2023) reports it: 1 for identical distributions, 0 for all the mass at
opposite ends of the range.

Every experiment is one administration, as every human's answers are one: a persona's
repetitions are separate draws (averaging them first would narrow the personas' distribution and
count that narrowing as distance twice). Missing answers are left out of their item (and the
scale score is the scoring's, from the answers given).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from personality_assets.defs.persona_study.reports.scale_scores import SCALE_ROW
from personality_assets.questionnaires import Questionnaire, get_questionnaire

ITEM_COLUMNS = {
    "questionnaire": pl.String,
    "question_number": pl.Int64,
    "item": pl.String,
    "scale": pl.String,
    "model": pl.String,
    "condition": pl.String,
    "n": pl.Int64,
    "reference_n": pl.Int64,
    "mean": pl.Float64,
    "reference_mean": pl.Float64,
    "wasserstein": pl.Float64,
    "range": pl.Float64,
    "similarity": pl.Float64,
}
SCALE_COLUMNS = {
    **SCALE_ROW,
    "n": pl.Int64,
    "reference_n": pl.Int64,
    "mean": pl.Float64,
    "reference_mean": pl.Float64,
    "wasserstein": pl.Float64,
    "range": pl.Float64,
    "similarity": pl.Float64,
}


def similarity(
    personas: np.ndarray,
    humans: np.ndarray,
    value_range: float,
    persona_weights: np.ndarray | None = None,
    human_weights: np.ndarray | None = None,
) -> tuple[float | None, float | None]:
    """(Wasserstein distance, 1 - distance / range) of two samples (or of values with weights,
    e.g. answer codes with their counts); (None, None) when either side is empty."""
    if len(personas) == 0 or len(humans) == 0 or value_range <= 0:
        return None, None
    distance = float(stats.wasserstein_distance(personas, humans, persona_weights, human_weights))
    return distance, 1.0 - distance / value_range


def item_range(questionnaire: Questionnaire) -> float:
    return float(questionnaire.max_answer - questionnaire.min_answer)


def scale_range(questionnaire: Questionnaire, scale: str) -> float:
    """The possible range of a scale score: a likert mean spans the answer codes, a keyed count
    0..the number of the scale's items."""
    if questionnaire.scoring == "likert":
        return item_range(questionnaire)
    return float(questionnaire.items.filter(pl.col("scale") == scale).height)


def item_distances(answers: pl.DataFrame, humans: pl.DataFrame) -> pl.DataFrame:
    """``answers``: model, condition, questionnaire, question_number, answer (one row per answer of
    each experiment). ``humans``: condition, questionnaire, question_number, answer. One row per
    questionnaire × item × model × condition the personas answered; the codes are counted in
    polars and scipy weighs each code by its count (the same distance as on the raw answers)."""
    item = ["questionnaire", "question_number"]
    persona_counts = _code_counts(answers, ["model", "condition", *item])
    human_counts = {
        key: group for key, group in _code_counts(humans, ["condition", *item]).group_by("condition", *item)
    }
    no_answers = pl.DataFrame(schema={"answer": pl.Int64, "count": pl.UInt32})
    rows = []
    for (model, condition, name, number), group in persona_counts.group_by(
        "model", "condition", *item, maintain_order=True
    ):
        questionnaire = get_questionnaire(name)
        reference = human_counts.get((condition, name, number), no_answers)
        distance, similar = similarity(
            group["answer"].to_numpy(),
            reference["answer"].to_numpy(),
            item_range(questionnaire),
            group["count"].to_numpy(),
            reference["count"].to_numpy(),
        )
        rows.append(
            {
                "questionnaire": name,
                "question_number": number,
                "model": model,
                "condition": condition,
                **_weighted(group, ""),
                **_weighted(reference, "reference_"),
                "wasserstein": distance,
                "range": item_range(questionnaire),
                "similarity": similar,
            }
        )
    table = pl.DataFrame(rows, schema={c: t for c, t in ITEM_COLUMNS.items() if c not in ("item", "scale")})
    items = [
        get_questionnaire(name).items.select(
            pl.lit(name).alias("questionnaire"),
            pl.col("number").cast(pl.Int64).alias("question_number"),
            "code",
            "scale",
        )
        for name in table["questionnaire"].unique().sort()
    ]
    if items:
        table = table.join(pl.concat(items).rename({"code": "item"}), on=item, how="left")
    else:
        table = table.with_columns(pl.lit(None, pl.String).alias("item"), pl.lit(None, pl.String).alias("scale"))
    return table.select(list(ITEM_COLUMNS)).sort(*item, "model", "condition")


def scale_distances(persona_scores: pl.DataFrame, human_scores: pl.DataFrame) -> pl.DataFrame:
    """``persona_scores``: model, condition, questionnaire, scale, score (one row per experiment).
    ``human_scores``: condition, questionnaire, scale, score (one row per reference person).
    One row per questionnaire × scale × model × condition."""
    humans = {
        key: group["score"].drop_nulls().to_numpy()
        for key, group in human_scores.group_by("condition", "questionnaire", "scale")
    }
    rows = []
    for (model, condition, name, scale), group in persona_scores.group_by(
        "model", "condition", "questionnaire", "scale"
    ):
        scores = group["score"].drop_nulls().to_numpy()
        reference = humans.get((condition, name, scale), np.array([]))
        value_range = scale_range(get_questionnaire(name), scale)
        distance, similar = similarity(scores, reference, value_range)
        rows.append(
            {
                "questionnaire": name,
                "scale": scale,
                "model": model,
                "condition": condition,
                "n": len(scores),
                "reference_n": len(reference),
                "mean": float(np.mean(scores)) if len(scores) else None,
                "reference_mean": float(np.mean(reference)) if len(reference) else None,
                "wasserstein": distance,
                "range": value_range,
                "similarity": similar,
            }
        )
    return pl.DataFrame(rows, schema=SCALE_COLUMNS).sort("questionnaire", "scale", "model", "condition")


def _code_counts(answers: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return (
        answers.filter(pl.col("answer").is_not_null())
        .group_by(*keys, "answer")
        .agg(pl.len().alias("count"))
        .sort(*keys, "answer")
    )


def _weighted(counts: pl.DataFrame, prefix: str) -> dict:
    n = int(counts["count"].sum()) if counts.height else 0
    mean = float((counts["answer"] * counts["count"]).sum() / n) if n else None
    return {f"{prefix}n": n, f"{prefix}mean": mean}
