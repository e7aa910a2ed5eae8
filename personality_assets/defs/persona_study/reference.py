"""The reference population a partition's personas are made from: its answers, read and scored once."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy import select

from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.db.tables.reference import ReferenceQuestionnaire
from personality_assets.defs.persona_study.simulate import traits_from_scores
from personality_assets.errors import NoRetryError
from personality_assets.questionnaires import get_questionnaire, score


class PopulationNotLoaded(NoRetryError):
    """The partition's reference population has no answers yet: retrying cannot help."""


def reference_answers(target: DatabaseTarget, population: str) -> pl.DataFrame:
    table = ReferenceQuestionnaire.__table__
    with experiment_transaction(target) as connection:
        frame = pl.read_database(
            select(table.c.personality_id, table.c.questionnaire, table.c.question_number, table.c.answer).where(
                table.c.population == population
            ),
            connection,
            schema_overrides={"personality_id": pl.Int64, "question_number": pl.Int64, "answer": pl.Int64},
        )
    if frame.is_empty():
        raise PopulationNotLoaded(
            f"reference population {population!r} is not loaded: materialise reference_questionnaires for it first"
        )
    return frame


def reference_scores(answers: pl.DataFrame) -> pl.DataFrame:
    """personality_id, questionnaire, scale, score for every reference person."""
    frames = [
        score(group, get_questionnaire(name), by=["personality_id"]).with_columns(pl.lit(name).alias("questionnaire"))
        for (name,), group in answers.group_by("questionnaire")
    ]
    return pl.concat(frames).select("personality_id", "questionnaire", "scale", "score")


@dataclass(frozen=True)
class Reference:
    """A reference population's answers and the simulator's trait hints, read and scored once."""

    answers: pl.DataFrame
    traits: dict[int, dict[str, float]]

    @classmethod
    def load(cls, target: DatabaseTarget, population: str) -> Reference:
        answers = reference_answers(target, population)
        return cls(answers, traits_from_scores(reference_scores(answers)))

    def people(self, max_people: int | None = None) -> list[int]:
        """Reference people by id, the first ``max_people`` when given."""
        return sorted(self.answers["personality_id"].unique().to_list())[: max_people or None]
