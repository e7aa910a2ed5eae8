"""Persona experiment pipeline: idempotency keys, and the questionnaire_scores table.

Revision ID: e0003
Revises: e0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from personality_assets.db.migrations.helpers import real_schema

revision = "e0003"
down_revision = "e0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    S = real_schema("experiment")
    # Unique indexes rather than constraints: SQLite cannot add a constraint to an existing table.
    op.add_column("personas", sa.Column("persona_number", sa.Integer, nullable=False, server_default="0"), schema=S)
    op.add_column("personas", sa.Column("simulated", sa.Boolean, nullable=False, server_default=sa.false()), schema=S)
    op.create_index(
        "uq_personas_model_ref_persona",
        "personas",
        ["model", "ref_population", "ref_personality_id", "persona_number"],
        unique=True,
        schema=S,
    )
    op.add_column("experiments_groups", sa.Column("config_hash", sa.String(64)), schema=S)
    op.add_column("experiments_groups", sa.Column("model", sa.String(128)), schema=S)
    op.add_column("experiments_groups", sa.Column("population", sa.String(128)), schema=S)
    op.add_column("experiments_groups", sa.Column("questionnaire", sa.String(64)), schema=S)
    op.create_index("uq_experiments_groups_config_hash", "experiments_groups", ["config_hash"], unique=True, schema=S)
    op.create_index(
        "uq_experiments_list_group_persona_repeated",
        "experiments_list",
        ["experiments_group_id", "personality_id", "repeated"],
        unique=True,
        schema=S,
    )
    op.create_table(
        "questionnaire_scores",
        sa.Column("experiment_id", sa.Integer, primary_key=True),
        sa.Column("scale", sa.String(32), primary_key=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("population", sa.String(128), nullable=False),
        sa.Column("questionnaire", sa.String(64), nullable=False),
        sa.Column("persona_id", sa.Integer, nullable=False),
        sa.Column("ref_personality_id", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reference_score", sa.Float),
        sa.Column("difference", sa.Float),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            [f"{S}.experiments_list.experiment_id"],
            ondelete="CASCADE",
            name="fk_questionnaire_scores_experiment",
        ),
        schema=S,
    )
    op.create_index(
        "ix_questionnaire_scores_model_population", "questionnaire_scores", ["model", "population"], schema=S
    )


def downgrade() -> None:
    S = real_schema("experiment")
    op.drop_table("questionnaire_scores", schema=S)
    op.drop_index("uq_experiments_list_group_persona_repeated", "experiments_list", schema=S)
    op.drop_index("uq_experiments_groups_config_hash", "experiments_groups", schema=S)
    for column in ("questionnaire", "population", "model", "config_hash"):
        op.drop_column("experiments_groups", column, schema=S)
    op.drop_index("uq_personas_model_ref_persona", "personas", schema=S)
    op.drop_column("personas", "simulated", schema=S)
    op.drop_column("personas", "persona_number", schema=S)
