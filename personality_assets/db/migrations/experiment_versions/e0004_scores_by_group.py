"""questionnaire_scores.experiments_group_id: keep the scores of different configurations apart.

Revision ID: e0004
Revises: e0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "e0004"
down_revision = "e0003"
branch_labels = None
depends_on = None


def _real_schema() -> str:
    # ALTER TABLE is not passed through schema_translate_map: name the real schema.
    return op.get_context().config.attributes["schemas"]["experiment"]


def upgrade() -> None:
    schema = _real_schema()
    op.add_column("questionnaire_scores", sa.Column("experiments_group_id", sa.Integer), schema=schema)
    op.create_index("ix_questionnaire_scores_group", "questionnaire_scores", ["experiments_group_id"], schema=schema)


def downgrade() -> None:
    schema = _real_schema()
    op.drop_index("ix_questionnaire_scores_group", "questionnaire_scores", schema=schema)
    op.drop_column("questionnaire_scores", "experiments_group_id", schema=schema)
