"""The reference populations (reference schema): the questionnaire answers of the people of each
loaded population, written only by the loaders (``populations/``, the ``reference_questionnaires``
asset) and read by the persona study. The loaders validate every row before a bulk load, so the
answers carry no foreign keys (see ReferenceQuestionnaire)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from personality_assets.db.tables.base import ReferenceBase, created_column


class ReferencePopulation(ReferenceBase):
    """One row per loaded population (a partition of the reference_questionnaires asset)."""

    __tablename__ = "reference_populations"
    population: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(Text)  # file path, "synthetic sample (seed N)" or "derived from X"
    source_format: Mapped[str] = mapped_column(String(32))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    derived_from: Mapped[str | None] = mapped_column(String(128))
    respondents: Mapped[int] = mapped_column(Integer)
    answers: Mapped[int] = mapped_column(Integer)
    excluded_rows: Mapped[int] = mapped_column(Integer)
    excluded_people: Mapped[int] = mapped_column(Integer, server_default=text("0"))  # see reference_exclusions
    loaded: Mapped[datetime] = created_column()


class ReferenceExclusion(ReferenceBase):
    """What a load left out of a population, per reason: file rows, and people where the reason
    leaves whole people out (a wide file's row is a person; a long CSV's bad row is not)."""

    __tablename__ = "reference_exclusions"
    population: Mapped[str] = mapped_column(String(128), primary_key=True)
    reason: Mapped[str] = mapped_column(String(128), primary_key=True)
    file_rows: Mapped[int] = mapped_column(Integer)
    people: Mapped[int | None] = mapped_column(Integer)


class _PersonAnswerColumns:
    """A reference person's answer to one item of a population's questionnaire."""

    population: Mapped[str] = mapped_column(String(128), primary_key=True)
    personality_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire: Mapped[str] = mapped_column(String(64), primary_key=True)
    question_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer: Mapped[int] = mapped_column(Integer, nullable=False)


class ReferenceIncompleteAnswer(_PersonAnswerColumns, ReferenceBase):
    """Answers of the people a load left out of a population for skipping an item
    (``require_complete``): not part of the population the persona study uses, kept so that a
    scale's reference α uses everyone who answered every item of that scale."""

    __tablename__ = "reference_incomplete_answers"


class ReferenceQuestionnaire(_PersonAnswerColumns, ReferenceBase):
    """Reference answers in long format. Question text, scale (category) and key live in
    ``questionnaire_items``; the view ``reference_questionnaires_labelled`` has the original study's
    full shape (personality_id, question_number, question, category, key, answer).
    No foreign keys (see migration r0001): the loaders validate every row before writing."""

    __tablename__ = "reference_questionnaires"
