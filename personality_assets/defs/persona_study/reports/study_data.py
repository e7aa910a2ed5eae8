"""What the reports read from the research database: every materialised model × population of
the study at once. A population is a report's *condition*; a derived one (MaxN, MaxP, random, ...)
has a *base condition*, the population it was derived from."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
from sqlalchemy import Integer, cast, delete, func, select

from personality_assets.db.engine import DatabaseTarget, experiment_transaction, read_frame, write_frame
from personality_assets.db.tables.persona_study import (
    ExperimentsGroup,
    Persona,
    QuestionnaireScore,
    ResponseStyleIndex,
)
from personality_assets.db.tables.reference import ReferenceIncompleteAnswer, ReferencePopulation
from personality_assets.db.tables.usage import LLMCall
from personality_assets.defs.persona_study.answering import study_answers
from personality_assets.defs.persona_study.presentation import FACTORS
from personality_assets.defs.persona_study.reference import reference_answers, reference_scores
from personality_assets.defs.persona_study.reports.scale_scores import REFERENCE
from personality_assets.errors import NoRetryError
from personality_assets.populations.load import load_exclusions
from personality_assets.populations.readers import INCOMPLETE


class NoStudyData(NoRetryError):
    """Nothing has been scored yet."""


def persona_scores(target: DatabaseTarget, required: bool = True, base_only: bool = True) -> pl.DataFrame:
    """model, condition, questionnaire, scale, experiment_id, persona_id, score, reference_score,
    experiments_group_id and its presentation levels (item_order, option_order, wording); empty
    when nothing is scored yet and not ``required``. ``base_only``: only experiments presented as
    the original study presented them (the reports that reproduce it); the robustness report
    reads every presentation."""
    table, groups = QuestionnaireScore.__table__, ExperimentsGroup.__table__
    query = select(
        table.c.model,
        table.c.population.label("condition"),
        table.c.questionnaire,
        table.c.scale,
        table.c.experiment_id,
        table.c.persona_id,
        table.c.score,
        table.c.reference_score,
        table.c.experiments_group_id,
        *(func.coalesce(groups.c[factor], base).label(factor) for factor, base in FACTORS.items()),
    ).join(groups, groups.c.experiments_group_id == table.c.experiments_group_id, isouter=True)
    if base_only:  # in the database: the other presentations' scores are never read
        query = query.where(*(func.coalesce(groups.c[factor], base) == base for factor, base in FACTORS.items()))
    schema = {
        **dict.fromkeys(("model", "condition", "questionnaire", "scale"), pl.String),
        **dict.fromkeys(("experiment_id", "persona_id"), pl.Int64),
        **dict.fromkeys(("score", "reference_score"), pl.Float64),
        "experiments_group_id": pl.Int64,
        **dict.fromkeys(FACTORS, pl.String),
    }
    with experiment_transaction(target) as connection:
        scores = read_frame(connection, query, schema)
    if scores.is_empty() and required:
        raise NoStudyData("no questionnaire scores yet: materialise questionnaire_scores for some partition first")
    return scores


def base_conditions(target: DatabaseTarget) -> dict[str, str]:
    """Every loaded population -> the population it was derived from (itself when it is a base)."""
    table = ReferencePopulation.__table__
    with experiment_transaction(target) as connection:  # reads only
        rows = connection.execute(select(table.c.population, table.c.derived_from)).all()
    return {population: derived_from or population for population, derived_from in rows}


def loaded_populations(target: DatabaseTarget) -> list[str]:
    """Every loaded reference population, studied by personas or not; fails when there is none."""
    populations = sorted(base_conditions(target))
    if not populations:
        raise NoStudyData("no reference population loaded yet: materialise reference_questionnaires first")
    return populations


def human_answers(target: DatabaseTarget, conditions: list[str], with_incomplete: bool = False) -> pl.DataFrame:
    """condition, personality_id, questionnaire, question_number, answer of the reference people;
    ``with_incomplete``: also of the people the load left out for skipping an item (for the
    statistics of a scale, which use everyone complete on it)."""
    frames = [reference_answers(target, condition) for condition in sorted(conditions)]
    if with_incomplete:
        frames = [
            pl.concat([frame, incomplete_answers(target, condition)])
            for frame, condition in zip(frames, sorted(conditions), strict=True)
        ]
    return pl.concat(
        frame.with_columns(pl.lit(condition).alias("condition"))
        for frame, condition in zip(frames, sorted(conditions), strict=True)
    )


def incomplete_answers(target: DatabaseTarget, population: str) -> pl.DataFrame:
    """personality_id, questionnaire, question_number, answer of the people the load of
    ``population`` left out for skipping an item (none unless it required complete answers)."""
    table = ReferenceIncompleteAnswer.__table__
    query = select(table.c.personality_id, table.c.questionnaire, table.c.question_number, table.c.answer).where(
        table.c.population == population
    )
    schema = {"personality_id": pl.Int64, "questionnaire": pl.String, "question_number": pl.Int64, "answer": pl.Int64}
    with experiment_transaction(target) as connection:
        return read_frame(connection, query, schema)


def load_exclusion_notes(target: DatabaseTarget) -> pl.DataFrame:
    """condition, excluded_at_load (people the load left out of the population) and
    excluded_reasons (each reason with its people, or its rows where it leaves out no whole person)."""
    exclusions = load_exclusions(target)
    notes = []
    for (population,), group in exclusions.group_by("population", maintain_order=True):
        parts = []
        for reason, file_rows, people in group.select("reason", "file_rows", "people").iter_rows():
            part = f"{reason}: {people} people" if people is not None else f"{reason}: {file_rows} rows"
            parts.append(part + (" (their complete scales are used here)" if reason == INCOMPLETE else ""))
        notes.append((population, int(group["people"].sum()), "; ".join(parts)))
    return pl.DataFrame(
        notes,
        schema={"condition": pl.String, "excluded_at_load": pl.Int64, "excluded_reasons": pl.String},
        orient="row",
    )


def human_scores(answers: pl.DataFrame) -> pl.DataFrame:
    """model ("reference"), condition, questionnaire, scale, respondent, score of the reference people."""
    return pl.concat(
        reference_scores(group).select(
            pl.lit(REFERENCE).alias("model"),
            pl.lit(condition).alias("condition"),
            "questionnaire",
            "scale",
            pl.col("personality_id").alias("respondent"),
            pl.col("score").cast(pl.Float64),
        )
        for (condition,), group in answers.group_by("condition")
    )


def persona_answers(target: DatabaseTarget, required: bool = True, base_only: bool = True) -> Iterator[pl.DataFrame]:
    """Answers of every succeeded experiment, with model and condition, one model × condition at
    a time (the item-level reports need no more at once, so memory stays that of one partition).
    Nothing when nothing is answered yet and not ``required``. ``base_only``: as in
    ``persona_scores``."""
    groups = ExperimentsGroup.__table__
    with experiment_transaction(target) as connection:
        partitions = connection.execute(select(groups.c.model, groups.c.population).distinct()).all()
    found = False
    for model, condition in sorted(partitions):
        answers = study_answers(target, model=model, population=condition, base_only=base_only).rename(
            {"population": "condition"}
        )
        if answers.height:
            found = True
            yield answers
    if not found and required:
        raise NoStudyData("no answered experiments yet: materialise questionnaire_answers for some partition first")


def persona_demographics(target: DatabaseTarget) -> pl.DataFrame:
    """model, condition and the demographic fields of every persona."""
    table = Persona.__table__
    with experiment_transaction(target) as connection:
        return pl.read_database(
            select(
                table.c.model,
                table.c.ref_population.label("condition"),
                table.c.gender,
                table.c.race,
                table.c.sexual_orientation,
                table.c.age,
                table.c.religious_belief,
                table.c.political_orientation,
            ),
            connection,
            infer_schema_length=None,
            schema_overrides={"age": pl.Int64},
        ).cast(
            {
                "model": pl.String,
                "condition": pl.String,
                "gender": pl.String,
                "race": pl.String,
                "sexual_orientation": pl.String,
                "religious_belief": pl.String,
                "political_orientation": pl.String,
            }
        )


def call_models(target: DatabaseTarget, purpose: str = "questionnaire") -> list[str]:
    """The models with call records of this purpose."""
    table = LLMCall.__table__
    with experiment_transaction(target) as connection:  # reads only
        query = select(table.c.model).where(table.c.purpose == purpose).distinct()
        return sorted(connection.execute(query).scalars())


def model_calls(target: DatabaseTarget, model: str, purpose: str = "questionnaire") -> pl.DataFrame:
    """model, purpose, status, json_valid_first, response_text of one model's calls of this
    purpose (one model at a time: the reply texts are the bulk of the table)."""
    table = LLMCall.__table__
    query = select(
        table.c.model,
        table.c.purpose,
        table.c.status,
        cast(table.c.json_valid_first, Integer).label("json_valid_first"),
        table.c.response_text,
    ).where(table.c.model == model, table.c.purpose == purpose)
    schema = {
        **dict.fromkeys(("model", "purpose", "status"), pl.String),
        "json_valid_first": pl.Int64,
        "response_text": pl.String,
    }
    with experiment_transaction(target) as connection:
        calls = read_frame(connection, query, schema)
    return calls.with_columns(pl.col("json_valid_first").cast(pl.Boolean))


def replace_style_indices(target: DatabaseTarget, indices: pl.DataFrame) -> None:
    """Replace every row of response_style_indices with ``indices`` (its columns), in one
    transaction, so a reader sees the last report's rows or the one before, never a mix."""
    table = ResponseStyleIndex.__table__
    columns = [c.name for c in table.columns if c.name != "id"]
    with experiment_transaction(target) as connection:
        connection.execute(delete(table))
        write_frame(connection, table, indices.select(columns))
