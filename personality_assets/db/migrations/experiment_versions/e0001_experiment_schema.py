"""Experiment schema: questionnaire definitions, personas, experiments, answers, request metadata.

Revision ID: e0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from personality_assets.db.migrations.questionnaire_tables import create_questionnaire_tables

revision = "e0001"
down_revision = None
branch_labels = ("experiment",)
depends_on = None

S = "experiment"  # symbolic; the connection maps it to the real schema name
JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")


def _created() -> sa.Column:
    return sa.Column("created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    create_questionnaire_tables(S)
    op.create_table(
        "personas",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ref_personality_id", sa.Integer, nullable=False),
        sa.Column("ref_population", sa.String(128)),
        sa.Column("population", sa.String(128), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("age", sa.Integer),
        sa.Column("gender", sa.String(64)),
        sa.Column("gender_original", sa.Text),
        sa.Column("sexual_orientation", sa.String(64)),
        sa.Column("sexual_orientation_original", sa.Text),
        sa.Column("race", sa.String(64)),
        sa.Column("race_original", sa.Text),
        sa.Column("ethnicity", sa.Text),
        sa.Column("religious_belief", sa.Text),
        sa.Column("occupation", sa.Text),
        sa.Column("political_orientation", sa.Text),
        sa.Column("location", sa.Text),
        sa.Column("description", sa.Text),
        _created(),
        schema=S,
    )
    for column in ("ref_personality_id", "population", "model", "gender", "race"):
        op.create_index(f"ix_personas_{column}", "personas", [column], schema=S)

    op.create_table(
        "experiments_groups",
        sa.Column("experiments_group_id", sa.Integer, primary_key=True, autoincrement=True),
        _created(),
        sa.Column("description", sa.Text),
        sa.Column("system_role", sa.Text),
        sa.Column("base_prompt", sa.Text),
        sa.Column("temperature", sa.Float),
        sa.Column("top_p", sa.Float),
        sa.Column("concluded", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("processed", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=S,
    )
    op.create_table(
        "experiments_list",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("experiments_group_id", sa.Integer, nullable=False),
        sa.Column("questionnaire", sa.String(64), nullable=False),
        sa.Column("language_instructions", sa.String(32)),
        sa.Column("language_questionnaire", sa.String(32)),
        sa.Column("model_provider", sa.String(64)),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("population", sa.String(128), nullable=False),
        sa.Column("personality_id", sa.Integer, nullable=False),
        sa.Column("repeated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("succeeded", sa.Boolean),
        sa.Column("llm_explanation", sa.Text),
        sa.Column("repo_sha", sa.String(64)),
        _created(),
        sa.Column("updated", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["experiments_group_id"],
            [f"{S}.experiments_groups.experiments_group_id"],
            ondelete="CASCADE",
            name="fk_experiments_list_group",
        ),
        sa.ForeignKeyConstraint(
            ["questionnaire"], [f"{S}.questionnaires.name"], name="fk_experiments_list_questionnaire"
        ),
        sa.UniqueConstraint("experiment_id", "questionnaire", name="uq_experiments_list_experiment_id_questionnaire"),
        schema=S,
    )
    op.create_index("ix_experiments_list_experiments_group_id", "experiments_list", ["experiments_group_id"], schema=S)
    op.create_index("ix_experiments_list_personality_id", "experiments_list", ["personality_id"], schema=S)

    op.create_table(
        "eval_questionnaires",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("questionnaire", sa.String(64), nullable=False),
        sa.Column("question_number", sa.Integer, nullable=False),
        sa.Column("answer", sa.Integer, nullable=False),
        _created(),
        sa.UniqueConstraint(
            "experiment_id", "question_number", name="uq_eval_questionnaires_experiment_id_question_number"
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id", "questionnaire"],
            [f"{S}.experiments_list.experiment_id", f"{S}.experiments_list.questionnaire"],
            ondelete="CASCADE",
            name="fk_eval_questionnaires_experiment",
        ),
        sa.ForeignKeyConstraint(
            ["questionnaire", "question_number"],
            [f"{S}.questionnaire_items.questionnaire", f"{S}.questionnaire_items.question_number"],
            name="fk_eval_questionnaires_item",
        ),
        sa.ForeignKeyConstraint(
            ["questionnaire", "answer"],
            [f"{S}.questionnaire_answer_codes.questionnaire", f"{S}.questionnaire_answer_codes.answer"],
            name="fk_eval_questionnaires_answer_code",
        ),
        schema=S,
    )
    op.create_index("ix_eval_questionnaires_experiment_id", "eval_questionnaires", ["experiment_id"], schema=S)
    op.create_index("ix_eval_questionnaires_question_number", "eval_questionnaires", ["question_number"], schema=S)

    op.create_table(
        "experiment_request_metadata",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("request_json", JSONDocument),
        sa.Column("response_json", JSONDocument),
        sa.Column("request_metadata", JSONDocument),
        _created(),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            [f"{S}.experiments_list.experiment_id"],
            ondelete="CASCADE",
            name="fk_experiment_request_metadata_experiment",
        ),
        schema=S,
    )
    op.create_index(
        "ix_experiment_request_metadata_experiment_id", "experiment_request_metadata", ["experiment_id"], schema=S
    )


def downgrade() -> None:
    for table in (
        "experiment_request_metadata",
        "eval_questionnaires",
        "experiments_list",
        "experiments_groups",
        "personas",
        "questionnaire_answer_codes",
        "questionnaire_items",
        "questionnaires",
    ):
        op.drop_table(table, schema=S)
