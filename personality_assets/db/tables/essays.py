"""The essay track's tables (experiment schema, migration e0006): the diversity dimensions, topics,
research seeds, student personas and their attributes and keywords, prompts, generation runs,
essays and every use of a persona."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from personality_assets.db.tables.base import EXPERIMENT, ExperimentBase, JSONDocument, created_column


class _EssayDimensionColumns:
    """A diversity dimension's level: edited in the dimensions file (defs/essays/dimensions.yaml or
    the user's copy) and synced by the ``essay_dimensions`` asset. A level removed from the file is
    kept, inactive, for the essays that refer to it."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, doc="what the level asks of the writer (goes into the prompt)")
    position: Mapped[int] = mapped_column(Integer, doc="order in the dimensions file")
    active: Mapped[bool] = mapped_column(Boolean, default=True, doc="false once removed from the file")


class Stance(_EssayDimensionColumns, ExperimentBase):
    __tablename__ = "stances"
    polarity: Mapped[int] = mapped_column(Integer, doc="-2 (strongly against) .. +2 (strongly for)")


class EvidencePattern(_EssayDimensionColumns, ExperimentBase):
    __tablename__ = "evidence_patterns"


class StyleParameter(_EssayDimensionColumns, ExperimentBase):
    __tablename__ = "style_parameters"
    parameters: Mapped[dict | None] = mapped_column(JSONDocument, doc="e.g. formality, sentence length, voice")


class QualityLevel(_EssayDimensionColumns, ExperimentBase):
    __tablename__ = "quality_levels"
    min_words: Mapped[int] = mapped_column(Integer)
    max_words: Mapped[int] = mapped_column(Integer)


class EssayTopic(ExperimentBase):
    """One per essay_topic partition: the partition key is the topic's text."""

    __tablename__ = "essay_topics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(300), unique=True)
    keywords: Mapped[list | None] = mapped_column(JSONDocument, doc="normalised content words (repository.py)")
    created: Mapped[datetime] = created_column()


class ResearchSeed(ExperimentBase):
    """Facts, quotes and sources on a topic from several angles, by a research model (validated JSON)."""

    __tablename__ = "research_seeds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.essay_topics.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(128), doc="the research model key")
    content: Mapped[dict] = mapped_column(JSONDocument, doc="{angles: [{angle, facts, quotes, sources}]}")
    angles: Mapped[int] = mapped_column(Integer)
    sources: Mapped[int] = mapped_column(Integer)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = created_column()
    __table_args__ = (UniqueConstraint("topic_id", "model"),)


class EssayPersona(ExperimentBase):
    """A student identity, reusable across topics (see EssayPersonaKeyword and PersonaUsage)."""

    __tablename__ = "essay_personas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str | None] = mapped_column(Text)
    background: Mapped[str] = mapped_column(String(200), index=True, doc="e.g. first-generation student")
    strengths: Mapped[list] = mapped_column(JSONDocument)
    weaknesses: Mapped[list] = mapped_column(JSONDocument)
    interests: Mapped[list] = mapped_column(JSONDocument)
    model: Mapped[str] = mapped_column(String(128), doc="model key that wrote the persona")
    created_for_topic_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{EXPERIMENT}.essay_topics.id", ondelete="SET NULL")
    )
    request_key: Mapped[str] = mapped_column(String(64), unique=True, doc="the call's cache key: one persona per call")
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = created_column()


class EssayPersonaAttribute(ExperimentBase):
    """A persona's attributes one per row, normalised (lower case, trimmed), for indexed lookups."""

    __tablename__ = "essay_persona_attributes"
    persona_id: Mapped[int] = mapped_column(
        ForeignKey(f"{EXPERIMENT}.essay_personas.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True, doc="strength | weakness | interest")
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    __table_args__ = (Index("ix_essay_persona_attributes_kind_value", "kind", "value"),)


class EssayPersonaKeyword(ExperimentBase):
    """The keywords of a persona's interests and background (repository.keywords), the index behind
    topic compatibility: a topic's keywords find their personas without reading the others."""

    __tablename__ = "essay_persona_keywords"
    persona_id: Mapped[int] = mapped_column(
        ForeignKey(f"{EXPERIMENT}.essay_personas.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True, doc="interest | background")
    position: Mapped[int] = mapped_column(Integer, primary_key=True, doc="which interest (0 for the background)")
    keyword: Mapped[str] = mapped_column(String(64), primary_key=True)
    __table_args__ = (Index("ix_essay_persona_keywords_keyword", "keyword", "kind"),)


class EssayPrompt(ExperimentBase):
    """Prompts stored once by hash: a base prompt (topic, stance) is shared by many essays."""

    __tablename__ = "essay_prompts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), doc="base | modulated")
    text: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = created_column()


class GenerationRun(ExperimentBase):
    """One row per run of the essays asset: what it was asked to do and what it did."""

    __tablename__ = "generation_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(String(64), doc="the Dagster run")
    topic_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.essay_topics.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(128))
    temperature: Mapped[float | None] = mapped_column(Float)
    pending: Mapped[int] = mapped_column(Integer, doc="essays pending when the run started")
    written: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), doc="running | finished | interrupted | failed")
    started: Mapped[datetime] = created_column()
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Essay(ExperimentBase):
    """One planned essay (a grid cell of a topic, with its persona and prompts); ``content`` stays
    NULL until it is written, so a re-run writes only what is pending."""

    __tablename__ = "essays"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.essay_topics.id", ondelete="CASCADE"))
    seed_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.research_seeds.id"))
    stance_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.stances.id"))
    evidence_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.evidence_patterns.id"))
    style_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.style_parameters.id"))
    quality_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.quality_levels.id"))
    replicate: Mapped[int] = mapped_column(Integer, default=0, doc="0 unless the plan is larger than the grid")
    persona_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.essay_personas.id"), index=True)
    base_prompt_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.essay_prompts.id"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.essay_prompts.id"), doc="the modulated prompt")
    prompt_hash: Mapped[str] = mapped_column(String(64), doc="sha256 of the modulated prompt")
    plan_position: Mapped[int] = mapped_column(Integer, doc="order in the topic's seeded plan")
    content: Mapped[str | None] = mapped_column(Text, doc="NULL while pending")
    word_count: Mapped[int | None] = mapped_column(Integer)
    model_name: Mapped[str | None] = mapped_column(String(128), doc="the writer's model key")
    temperature: Mapped[float | None] = mapped_column(Float)
    generation_run_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{EXPERIMENT}.generation_runs.id", ondelete="SET NULL"), doc="the run that wrote it"
    )
    simulated: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text, doc="why the last attempt failed")
    created: Mapped[datetime] = created_column()
    written: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index(
            "uq_essays_topic_cell",
            "topic_id",
            "stance_id",
            "evidence_id",
            "style_id",
            "quality_id",
            "replicate",
            unique=True,
        ),
    )


class PersonaUsage(ExperimentBase):
    """Every use of a persona: written with the planned essay, in the same transaction. A persona
    writes at most one essay per topic (unique persona, topic)."""

    __tablename__ = "persona_usage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    persona_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.essay_personas.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.essay_topics.id", ondelete="CASCADE"))
    stance_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.stances.id"))
    essay_id: Mapped[int] = mapped_column(ForeignKey(f"{EXPERIMENT}.essays.id", ondelete="CASCADE"), unique=True)
    compatibility: Mapped[float] = mapped_column(Float, doc="the persona's score for the topic when cast")
    created: Mapped[datetime] = created_column()
    __table_args__ = (
        UniqueConstraint("persona_id", "topic_id"),
        Index("ix_persona_usage_topic_id", "topic_id"),
    )
