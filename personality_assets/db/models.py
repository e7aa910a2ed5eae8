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
    text,
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
    excluded_people: Mapped[int] = mapped_column(Integer, server_default=text("0"))  # see reference_exclusions
    loaded: Mapped[datetime] = _created()


class ReferenceExclusion(ReferenceBase):
    """What a load left out of a population, per reason: file rows, and people where the reason
    leaves whole people out (a wide file's row is a person; a long CSV's bad row is not)."""

    __tablename__ = "reference_exclusions"
    population: Mapped[str] = mapped_column(String(128), primary_key=True)
    reason: Mapped[str] = mapped_column(String(128), primary_key=True)
    file_rows: Mapped[int] = mapped_column(Integer)
    people: Mapped[int | None] = mapped_column(Integer)


class ReferenceIncompleteAnswer(ReferenceBase):
    """Answers of the people a load left out of a population for skipping an item
    (``require_complete``): not part of the population the persona study uses, kept so that a
    scale's reference α uses everyone who answered every item of that scale."""

    __tablename__ = "reference_incomplete_answers"
    population: Mapped[str] = mapped_column(String(128), primary_key=True)
    personality_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire: Mapped[str] = mapped_column(String(64), primary_key=True)
    question_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer: Mapped[int] = mapped_column(Integer, nullable=False)


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
            name="fk_eval_questionnaires_experiment",  # the names e0001 gave them
        ),
        ForeignKeyConstraint(
            ["questionnaire", "question_number"],
            [f"{EXPERIMENT}.questionnaire_items.questionnaire", f"{EXPERIMENT}.questionnaire_items.question_number"],
            name="fk_eval_questionnaires_item",
        ),
        ForeignKeyConstraint(
            ["questionnaire", "answer"],
            [
                f"{EXPERIMENT}.questionnaire_answer_codes.questionnaire",
                f"{EXPERIMENT}.questionnaire_answer_codes.answer",
            ],
            name="fk_eval_questionnaires_answer_code",
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
    # Migration e0007: accounting.
    pricing_id: Mapped[int | None] = mapped_column(Integer, doc="the model_pricing row the cost was computed with")
    input_cost_usd: Mapped[float | None] = mapped_column(Float)
    output_cost_usd: Mapped[float | None] = mapped_column(Float)
    json_valid_first: Mapped[bool | None] = mapped_column(
        Boolean, doc="the first reply was valid JSON (NULL when no JSON was asked for)"
    )
    batch_id: Mapped[int | None] = mapped_column(Integer, doc="the llm_batches row that answered it (NULL: online)")
    __table_args__ = (
        Index("ix_llm_calls_model_created", "model", "created"),  # migration e0002
        Index("ix_llm_calls_created", "created"),  # e0007: usage by day
    )


class LLMCacheHits(ExperimentBase):
    """Requests answered from the response cache (no call: no llm_calls row), counted per writer
    transaction, run, model and purpose (migration e0007)."""

    __tablename__ = "llm_cache_hits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    run_id: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(32))
    hits: Mapped[int] = mapped_column(Integer)


class LLMBatch(ExperimentBase):
    """A batch submitted to a provider's batch API (migration e0008). Recorded, with its requests,
    before the provider is asked, so a process killed at any point never submits them twice."""

    __tablename__ = "llm_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    local_id: Mapped[str] = mapped_column(String(36), unique=True, doc="ours; sent as the batch's metadata")
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    provider_batch_id: Mapped[str | None] = mapped_column(String(256), doc="NULL until the provider accepted it")
    status: Mapped[str] = mapped_column(String(16), doc="preparing | submitted | collected | failed")
    requests: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(64), doc="the Dagster run that submitted it")
    error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = _created()
    updated: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LLMBatchRequest(ExperimentBase):
    __tablename__ = "llm_batch_requests"
    batch_id: Mapped[int] = mapped_column(
        ForeignKey(f"{EXPERIMENT}.llm_batches.id", ondelete="CASCADE"), primary_key=True
    )
    cache_key: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class ModelPricing(ExperimentBase):
    """Prices with effective dates (migration e0007): the row in force has no ``effective_to``.
    A call's cost is computed with the row in force when it is made, so a later price never
    rewrites it; ``current_model_pricing`` is the view of the rows in force."""

    __tablename__ = "model_pricing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(32))
    provider_model_id: Mapped[str] = mapped_column(String(256))
    input_per_million: Mapped[float] = mapped_column(Float, doc="USD per million input tokens")
    output_per_million: Mapped[float] = mapped_column(Float, doc="USD per million output tokens")
    batch_input_per_million: Mapped[float | None] = mapped_column(Float)
    batch_output_per_million: Mapped[float | None] = mapped_column(Float)
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    effective_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint("model", "effective_from"),
        Index(
            "uq_model_pricing_current",
            "model",
            unique=True,
            postgresql_where=text("effective_to IS NULL"),
            sqlite_where=text("effective_to IS NULL"),
        ),
    )


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


# --- experiment schema: the essay track (migration e0006) --------------------------------------


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
    created: Mapped[datetime] = _created()


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
    created: Mapped[datetime] = _created()
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
    created: Mapped[datetime] = _created()


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
    created: Mapped[datetime] = _created()


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
    started: Mapped[datetime] = _created()
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
    created: Mapped[datetime] = _created()
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
    created: Mapped[datetime] = _created()
    __table_args__ = (
        UniqueConstraint("persona_id", "topic_id"),
        Index("ix_persona_usage_topic_id", "topic_id"),
    )
