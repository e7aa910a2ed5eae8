"""questionnaire_scores.experiments_group_id: keep the scores of different configurations apart.

Revision ID: e0004
Revises: e0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from personality_assets.db.migrations.helpers import real_schema

revision = "e0004"
down_revision = "e0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = real_schema("experiment")
    op.add_column("questionnaire_scores", sa.Column("experiments_group_id", sa.Integer), schema=schema)
    op.create_index("ix_questionnaire_scores_group", "questionnaire_scores", ["experiments_group_id"], schema=schema)


def downgrade() -> None:
    schema = real_schema("experiment")
    op.drop_index("ix_questionnaire_scores_group", "questionnaire_scores", schema=schema)
    op.drop_column("questionnaire_scores", "experiments_group_id", schema=schema)
