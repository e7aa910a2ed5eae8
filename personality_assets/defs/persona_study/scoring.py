"""Scale scores per experiment, compared with the reference person's, stored per partition."""

from __future__ import annotations

import polars as pl
from sqlalchemy import delete, insert

from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.db.tables.persona_study import QuestionnaireScore
from personality_assets.defs.persona_study.reference import reference_scores
from personality_assets.questionnaires import get_questionnaire, score


def score_partition(answers: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """Scale scores per experiment, with the reference person's score and the difference (and
    the experiment's group, when the answers carry it)."""
    keys = [
        c for c in ("experiment_id", "experiments_group_id", "persona_id", "ref_personality_id") if c in answers.columns
    ]
    columns = [*keys[:2], "questionnaire", "scale", *keys[2:], "score", "reference_score", "difference"]
    if answers.is_empty():
        return pl.DataFrame(
            schema={
                c: (
                    pl.String
                    if c in ("questionnaire", "scale")
                    else pl.Float64
                    if c in ("score", "reference_score", "difference")
                    else pl.Int64
                )
                for c in columns
            }
        )
    frames = []
    for (name,), group in answers.group_by("questionnaire"):
        scored = score(group, get_questionnaire(name), by=keys)
        frames.append(scored.with_columns(pl.lit(name).alias("questionnaire")))
    scores = pl.concat(frames)
    ref = reference_scores(reference).rename({"personality_id": "ref_personality_id", "score": "reference_score"})
    return (
        scores.join(ref, on=["ref_personality_id", "questionnaire", "scale"], how="left")
        .with_columns((pl.col("score") - pl.col("reference_score")).alias("difference"))
        .select(columns)
        .sort("experiment_id", "scale")
    )


def store_scores(target: DatabaseTarget, model: str, population: str, scores: pl.DataFrame) -> None:
    table = QuestionnaireScore.__table__
    rows = scores.with_columns(pl.lit(model).alias("model"), pl.lit(population).alias("population")).to_dicts()
    with experiment_transaction(target) as connection:
        connection.execute(delete(table).where(table.c.model == model, table.c.population == population))
        if rows:
            connection.execute(insert(table), rows)


def score_summary(scores: pl.DataFrame) -> pl.DataFrame:
    """Per configuration (experiment group), questionnaire and scale: persona vs reference means,
    mean |difference|, correlation."""
    by = [c for c in ("experiments_group_id", "questionnaire", "scale") if c in scores.columns]
    return (
        scores.group_by(by)
        .agg(
            pl.len().alias("experiments"),
            pl.col("score").mean().round(3).alias("persona_mean"),
            pl.col("score").std().round(3).alias("persona_sd"),
            pl.col("reference_score").mean().round(3).alias("reference_mean"),
            pl.col("difference").abs().mean().round(3).alias("mean_abs_difference"),
            pl.corr("score", "reference_score").round(3).alias("r_with_reference"),
        )
        .sort(by)
    )
