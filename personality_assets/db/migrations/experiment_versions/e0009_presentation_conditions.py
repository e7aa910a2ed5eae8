"""experiments_groups.item_order, option_order, wording and presentation: how the questionnaire
was presented to the group's personas (item order, answer-scale direction, wording), with the
seed and the order behind a shuffled one. Existing groups get the base levels, which is how they
were presented.

Revision ID: e0009
Revises: e0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from personality_assets.db.migrations.helpers import real_schema

revision = "e0009"
down_revision = "e0008"
branch_labels = None
depends_on = None

COLUMNS = (
    ("item_order", sa.String(32), "as_defined"),
    ("option_order", sa.String(16), "ascending"),
    ("wording", sa.String(64), "original"),
)


def upgrade() -> None:
    schema = real_schema("experiment")
    for name, kind, base in COLUMNS:
        op.add_column("experiments_groups", sa.Column(name, kind, nullable=False, server_default=base), schema=schema)
    presentation = sa.Column("presentation", sa.JSON().with_variant(JSONB(), "postgresql"))
    op.add_column("experiments_groups", presentation, schema=schema)


def downgrade() -> None:
    for name in ("presentation", *(name for name, _, _ in COLUMNS)):
        op.drop_column("experiments_groups", name, schema=real_schema("experiment"))
