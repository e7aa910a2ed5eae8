"""experiments_groups.package_versions: the versions of the packages that shape results (openai,
boto3, dagster, polars), recorded when a group is registered, beside the experiments' git SHA.

Revision ID: e0005
Revises: e0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from personality_assets.db.migrations.helpers import real_schema

revision = "e0005"
down_revision = "e0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    column = sa.Column("package_versions", sa.JSON().with_variant(JSONB(), "postgresql"))
    op.add_column("experiments_groups", column, schema=real_schema("experiment"))


def downgrade() -> None:
    op.drop_column("experiments_groups", "package_versions", schema=real_schema("experiment"))
