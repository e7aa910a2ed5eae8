"""The questionnaire definitions (questionnaires, items, answer codes), one copy in each schema,
written by ``questionnaires/store.py``: SQLite cannot point a foreign key into another attached
file, and the experiment schema's answers point at their questionnaire's items and answer codes."""

from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from personality_assets.db.tables.base import ExperimentBase, ReferenceBase


class _QuestionnaireColumns:
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    scoring: Mapped[str] = mapped_column(String(32))
    item_count: Mapped[int] = mapped_column(Integer)
    min_answer: Mapped[int] = mapped_column(Integer)
    max_answer: Mapped[int] = mapped_column(Integer)
    definition_sha256: Mapped[str] = mapped_column(String(64))


class _OfAQuestionnaire:
    """Rows that belong to a questionnaire of their own schema (and go with it)."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        schema = cls.metadata.schema
        return (ForeignKeyConstraint(["questionnaire"], [f"{schema}.questionnaires.name"], ondelete="CASCADE"),)


class _ItemColumns(_OfAQuestionnaire):
    questionnaire: Mapped[str] = mapped_column(String(64), primary_key=True)
    question_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    scale: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)


class _AnswerCodeColumns(_OfAQuestionnaire):
    questionnaire: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(Text)


class RefQuestionnaire(_QuestionnaireColumns, ReferenceBase):
    __tablename__ = "questionnaires"


class RefQuestionnaireItem(_ItemColumns, ReferenceBase):
    __tablename__ = "questionnaire_items"


class RefAnswerCode(_AnswerCodeColumns, ReferenceBase):
    __tablename__ = "questionnaire_answer_codes"


class ExpQuestionnaire(_QuestionnaireColumns, ExperimentBase):
    __tablename__ = "questionnaires"


class ExpQuestionnaireItem(_ItemColumns, ExperimentBase):
    __tablename__ = "questionnaire_items"


class ExpAnswerCode(_AnswerCodeColumns, ExperimentBase):
    __tablename__ = "questionnaire_answer_codes"
