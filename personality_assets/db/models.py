"""SQLAlchemy models of the research database.

Two schemas, named symbolically here and mapped to real names at connection time
(``schema_translate_map``): ``reference`` (reference populations and questionnaire
definitions; written only by the reference loaders) and ``experiment`` (personas,
experiments, answers; the user picks its real name, so several experiments can share one
reference schema). On PostgreSQL these are schemas; on SQLite attached database files.

Answer ranges of experiment answers are enforced by the database: every eval_questionnaires row
has a composite foreign key to its questionnaire's answer codes and items. Reference answers are
bulk-loaded and validated by the loaders (see ReferenceQuestionnaire).
SQLite cannot point a foreign key into another attached file, so each schema keeps its own
copy of the questionnaire definitions (written by the ``questionnaires`` asset).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

REFERENCE = "reference"
EXPERIMENT = "experiment"

JSONDocument = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ReferenceBase(DeclarativeBase):
    metadata = MetaData(schema=REFERENCE, naming_convention=NAMING)


class ExperimentBase(DeclarativeBase):
    metadata = MetaData(schema=EXPERIMENT, naming_convention=NAMING)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class _QuestionnaireColumns:
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    scoring: Mapped[str] = mapped_column(String(32))
    item_count: Mapped[int] = mapped_column(Integer)
    min_answer: Mapped[int] = mapped_column(Integer)
    max_answer: Mapped[int] = mapped_column(Integer)
    definition_sha256: Mapped[str] = mapped_column(String(64))


class _ItemColumns:
    questionnaire: Mapped[str] = mapped_column(String(64), primary_key=True)
    question_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    scale: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)


class _AnswerCodeColumns:
    questionnaire: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(Text)


# --- reference schema -------------------------------------------------------------------------


class RefQuestionnaire(_QuestionnaireColumns, ReferenceBase):
    __tablename__ = "questionnaires"


class RefQuestionnaireItem(_ItemColumns, ReferenceBase):
    __tablename__ = "questionnaire_items"
    __table_args__ = (
        ForeignKeyConstraint(["questionnaire"], [f"{REFERENCE}.questionnaires.name"], ondelete="CASCADE"),
    )


class RefAnswerCode(_AnswerCodeColumns, ReferenceBase):
    __tablename__ = "questionnaire_answer_codes"
    __table_args__ = (
        ForeignKeyConstraint(["questionnaire"], [f"{REFERENCE}.questionnaires.name"], ondelete="CASCADE"),
    )


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
    loaded: Mapped[datetime] = _created()


class ReferenceQuestionnaire(ReferenceBase):
    """Reference answers in long format. Question text, scale (category) and key live in
    ``questionnaire_items``; the view ``reference_questionnaires_labelled`` has the seed's
    full shape (personality_id, question_number, question, category, key, answer).
    No foreign keys (see migration r0001): the loaders validate every row before writing."""

    __tablename__ = "reference_questionnaires"
    population: Mapped[str] = mapped_column(String(128), primary_key=True)
    personality_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire: Mapped[str] = mapped_column(String(64), primary_key=True)
    question_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer: Mapped[int] = mapped_column(Integer, nullable=False)


# --- experiment schema ------------------------------------------------------------------------


class ExpQuestionnaire(_QuestionnaireColumns, ExperimentBase):
    __tablename__ = "questionnaires"


class ExpQuestionnaireItem(_ItemColumns, ExperimentBase):
    __tablename__ = "questionnaire_items"
    __table_args__ = (
        ForeignKeyConstraint(["questionnaire"], [f"{EXPERIMENT}.questionnaires.name"], ondelete="CASCADE"),
    )


class ExpAnswerCode(_AnswerCodeColumns, ExperimentBase):
    __tablename__ = "questionnaire_answer_codes"
    __table_args__ = (
        ForeignKeyConstraint(["questionnaire"], [f"{EXPERIMENT}.questionnaires.name"], ondelete="CASCADE"),
    )


class Persona(ExperimentBase):
    __tablename__ = "personas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ref_personality_id: Mapped[int] = mapped_column(
        Integer, index=True, doc="the reference person's personality_id (reference_questionnaires)"
    )
    ref_population: Mapped[str | None] = mapped_column(String(128), doc="the reference population")
    population: Mapped[str] = mapped_column(
        String(128), index=True, doc="persona population tag, generated_{model}_{population}"
    )
    model: Mapped[str] = mapped_column(String(128), index=True, doc="model key that wrote the persona")
    name: Mapped[str | None] = mapped_column(Text)
    age: Mapped[int | None] = mapped_column(Integer)
    gender: Mapped[str | None] = mapped_column(String(64), index=True, doc="cleaned into a category (demographics.py)")
    gender_original: Mapped[str | None] = mapped_column(Text, doc="as the model wrote it")
    sexual_orientation: Mapped[str | None] = mapped_column(String(64), doc="cleaned into a category (demographics.py)")
    sexual_orientation_original: Mapped[str | None] = mapped_column(Text, doc="as the model wrote it")
    race: Mapped[str | None] = mapped_column(String(64), index=True, doc="cleaned into a category (demographics.py)")
    race_original: Mapped[str | None] = mapped_column(Text, doc="as the model wrote it")
    ethnicity: Mapped[str | None] = mapped_column(Text)
    religious_belief: Mapped[str | None] = mapped_column(Text)
    occupation: Mapped[str | None] = mapped_column(Text)
    political_orientation: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, doc="the persona's description, used in the system role")
    persona_number: Mapped[int] = mapped_column(
        Integer, default=0, doc="0..N-1 personas per reference person (personas_per_person)"
    )
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, doc="written by the offline simulator")
    created: Mapped[datetime] = _created()
    __table_args__ = (
        Index(
            "uq_personas_model_ref_persona",
            "model",
            "ref_population",
            "ref_personality_id",
            "persona_number",
            unique=True,
        ),
    )


class ExperimentsGroup(ExperimentBase):
    __tablename__ = "experiments_groups"
    experiments_group_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[datetime] = _created()
    description: Mapped[str | None] = mapped_column(Text)
    system_role: Mapped[str | None] = mapped_column(Text)
    base_prompt: Mapped[str | None] = mapped_column(Text)
    temperature: Mapped[float | None] = mapped_column(Float)
    top_p: Mapped[float | None] = mapped_column(Float)
    concluded: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    processed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Registration finds its group again by the hash of its configuration (idempotent re-runs).
    config_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    model: Mapped[str | None] = mapped_column(String(128))
    population: Mapped[str | None] = mapped_column(String(128))
    questionnaire: Mapped[str | None] = mapped_column(String(64))
    # Versions of the packages that shape results when the group was registered (migration e0005).
    package_versions: Mapped[dict | None] = mapped_column(JSONDocument)


class ExperimentsList(ExperimentBase):
    """One experiment: a persona answering a questionnaire once (``repeated`` numbers repetitions).

    ``personality_id`` holds the **persona's id** (``personas.id``), as in the original study's
    runner, not a reference person's; ``population`` is the persona population tag
    (``generated_<model>_<population>``). The reference person is ``personas.ref_personality_id``.
    """

    __tablename__ = "experiments_list"
    experiment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiments_group_id: Mapped[int] = mapped_column(
        ForeignKey(f"{EXPERIMENT}.experiments_groups.experiments_group_id", ondelete="CASCADE"), index=True
    )
    questionnaire: Mapped[str] = mapped_column(ForeignKey(f"{EXPERIMENT}.questionnaires.name"))
    language_instructions: Mapped[str | None] = mapped_column(String(32))
    language_questionnaire: Mapped[str | None] = mapped_column(String(32))
    model_provider: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    population: Mapped[str] = mapped_column(String(128), doc="persona population tag, generated_{model}_{population}")
    personality_id: Mapped[int] = mapped_column(
        Integer, index=True, doc="the persona's id (personas.id), not a reference person's"
    )
    repeated: Mapped[int] = mapped_column(Integer, default=0, doc="repetition number, 0..repetitions-1")
    succeeded: Mapped[bool | None] = mapped_column(
        Boolean, doc="true once answered; NULL while pending (also after a failed attempt)"
    )
    llm_explanation: Mapped[str | None] = mapped_column(Text, doc="why the last attempt failed")
    repo_sha: Mapped[str | None] = mapped_column(String(64), doc="git commit of the code that registered it")
    created: Mapped[datetime] = _created()
    updated: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), onupdate=func.now())
    # Target of eval_questionnaires' composite key, so an answer row names its questionnaire.
    __table_args__ = (
        UniqueConstraint("experiment_id", "questionnaire"),
        Index(
            "uq_experiments_list_group_persona_repeated",
            "experiments_group_id",
            "personality_id",
            "repeated",
            unique=True,
        ),
    )


class EvalQuestionnaire(ExperimentBase):
    __tablename__ = "eval_questionnaires"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(
        Integer, index=True, doc="the experiment (experiments_list.experiment_id)"
    )
    questionnaire: Mapped[str] = mapped_column(String(64))
    question_number: Mapped[int] = mapped_column(Integer, index=True)
    answer: Mapped[int] = mapped_column(Integer, doc="answer code, one of the questionnaire's codes")
    created: Mapped[datetime] = _created()
    __table_args__ = (
        UniqueConstraint("experiment_id", "question_number"),  # one answer per experiment and question
        ForeignKeyConstraint(
            ["experiment_id", "questionnaire"],
            [f"{EXPERIMENT}.experiments_list.experiment_id", f"{EXPERIMENT}.experiments_list.questionnaire"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["questionnaire", "question_number"],
            [f"{EXPERIMENT}.questionnaire_items.questionnaire", f"{EXPERIMENT}.questionnaire_items.question_number"],
        ),
        ForeignKeyConstraint(
            ["questionnaire", "answer"],
            [
                f"{EXPERIMENT}.questionnaire_answer_codes.questionnaire",
                f"{EXPERIMENT}.questionnaire_answer_codes.answer",
            ],
        ),
    )


class ExperimentRequestMetadata(ExperimentBase):
    __tablename__ = "experiment_request_metadata"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey(f"{EXPERIMENT}.experiments_list.experiment_id", ondelete="CASCADE"), index=True
    )
    request_json: Mapped[dict | None] = mapped_column(JSONDocument)
    response_json: Mapped[dict | None] = mapped_column(JSONDocument)
    request_metadata: Mapped[dict | None] = mapped_column(JSONDocument)
    created: Mapped[datetime] = _created()


class LLMCall(ExperimentBase):
    """Every model call (one row per request, after its retries) with tokens, latency, cost and
    status. Successful rows double as the response cache, looked up by ``cache_key``."""

    __tablename__ = "llm_calls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[datetime] = _created()
    run_id: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(32))
    provider_model_id: Mapped[str] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(String(32))
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    tag: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # ok | invalid | failed
    attempts: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    cost_usd: Mapped[float] = mapped_column(Float)
    simulated: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    response_text: Mapped[str | None] = mapped_column(Text)
    request_json: Mapped[dict | None] = mapped_column(JSONDocument)
    response_json: Mapped[dict | None] = mapped_column(JSONDocument)


class QuestionnaireScore(ExperimentBase):
    """Scale score of one experiment, with the reference person's score on the same scale."""

    __tablename__ = "questionnaire_scores"
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey(f"{EXPERIMENT}.experiments_list.experiment_id", ondelete="CASCADE"), primary_key=True
    )
    scale: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(128))
    population: Mapped[str] = mapped_column(String(128))
    questionnaire: Mapped[str] = mapped_column(String(64))
    experiments_group_id: Mapped[int | None] = mapped_column(Integer, index=True)  # its configuration
    persona_id: Mapped[int] = mapped_column(Integer)
    ref_personality_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    reference_score: Mapped[float | None] = mapped_column(Float)
    difference: Mapped[float | None] = mapped_column(Float)
