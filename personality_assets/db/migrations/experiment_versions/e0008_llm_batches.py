"""Provider batch APIs: llm_batches (one per batch submitted, recorded before the provider hears of
it) and llm_batch_requests (which requests it carries, by cache key); llm_calls.batch_id says which
batch answered a call (NULL: online).

Revision ID: e0008
Revises: e0007
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from personality_assets.db.migrations.helpers import real_schema

revision = "e0008"
down_revision = "e0007"
branch_labels = None
depends_on = None

S = "experiment"  # symbolic; the connection maps it to the real schema name


def upgrade() -> None:
    op.create_table(
        "llm_batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("local_id", sa.String(36), nullable=False, unique=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("provider_batch_id", sa.String(256)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_table(
        "llm_batch_requests",
        sa.Column(
            "batch_id",
            sa.Integer,
            sa.ForeignKey(f"{S}.llm_batches.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("cache_key", sa.String(64), primary_key=True),
        schema=S,
    )
    op.create_index("ix_llm_batch_requests_cache_key", "llm_batch_requests", ["cache_key"], schema=S)
    op.add_column("llm_calls", sa.Column("batch_id", sa.Integer), schema=real_schema(S))


def downgrade() -> None:
    op.drop_column("llm_calls", "batch_id", schema=real_schema(S))
    op.drop_table("llm_batch_requests", schema=S)
    op.drop_table("llm_batches", schema=S)
