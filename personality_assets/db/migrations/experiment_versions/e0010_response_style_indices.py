"""response_style_indices: the response-style indices (acquiescence, extreme and midpoint
responding, straight-lining) of every persona experiment and reference person, per
questionnaire and presentation, as the response-style report last computed them.

Revision ID: e0010
Revises: e0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "e0010"
down_revision = "e0009"
branch_labels = None
depends_on = None

S = "experiment"  # symbolic; the connection maps it to the real schema name


def upgrade() -> None:
    op.create_table(
        "response_style_indices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("respondent", sa.String(16), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("condition", sa.String(128), nullable=False),
        sa.Column("experiment_id", sa.Integer),
        sa.Column("persona_id", sa.Integer),
        sa.Column("personality_id", sa.Integer, nullable=False),
        sa.Column("questionnaire", sa.String(64), nullable=False),
        sa.Column("item_order", sa.String(64), nullable=False),
        sa.Column("option_order", sa.String(16), nullable=False),
        sa.Column("wording", sa.String(64), nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("acquiescence_mean", sa.Float),
        sa.Column("acquiescence_pairs", sa.Float),
        sa.Column("extreme_share", sa.Float),
        sa.Column("midpoint_share", sa.Float),
        sa.Column("longest_run", sa.Integer, nullable=False),
        sa.Column("modal_share", sa.Float, nullable=False),
        schema=S,
    )
    op.create_index(
        "ix_response_style_indices_model_condition", "response_style_indices", ["model", "condition"], schema=S
    )


def downgrade() -> None:
    op.drop_table("response_style_indices", schema=S)
