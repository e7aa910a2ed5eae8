"""llm_calls: every model call with its accounting; also the response cache.

Revision ID: e0002
Revises: e0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "e0002"
down_revision = "e0001"
branch_labels = None
depends_on = None

S = "experiment"
JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_model_id", sa.String(256), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("cache_key", sa.String(64), nullable=False),
        sa.Column("tag", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("simulated", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("response_text", sa.Text),
        sa.Column("request_json", JSONDocument),
        sa.Column("response_json", JSONDocument),
        sa.CheckConstraint("status IN ('ok', 'invalid', 'failed')", name="ck_llm_calls_status"),
        schema=S,
    )
    op.create_index("ix_llm_calls_cache_key", "llm_calls", ["cache_key"], schema=S)
    op.create_index("ix_llm_calls_model_created", "llm_calls", ["model", "created"], schema=S)


def downgrade() -> None:
    op.drop_table("llm_calls", schema=S)
