"""The persona study's tables (experiment schema): personas, experiment groups and experiments,
their answers (the database enforces each answer's range: a composite foreign key to its
questionnaire's items and answer codes), request metadata and scale scores."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from personality_assets.db.tables.base import EXPERIMENT, ExperimentBase, JSONDocument, created_column


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
    created: Mapped[datetime] = created_column()
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
    created: Mapped[datetime] = created_column()
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
    # How the questionnaire was presented (migration e0009; defs/persona_study/presentation.py):
    # each factor's level, and the seed and item order behind a shuffled one.
    item_order: Mapped[str] = mapped_column(
        String(32), default="as_defined", server_default="as_defined", doc="as_defined or shuffled_<k>"
    )
    option_order: Mapped[str] = mapped_column(
        String(16), default="ascending", server_default="ascending", doc="ascending, or descending (scale reversed)"
    )
    wording: Mapped[str] = mapped_column(
        String(64), default="original", server_default="original", doc="a variant of the wordings file"
    )
    presentation: Mapped[dict | None] = mapped_column(
        JSONDocument, doc='{"seed": ..., "order": [question numbers as shown]} (order null: as defined)'
    )


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
    created: Mapped[datetime] = created_column()
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
    created: Mapped[datetime] = created_column()
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
    created: Mapped[datetime] = created_column()


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
