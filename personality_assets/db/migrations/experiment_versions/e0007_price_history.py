"""Price history and call accounting: model_pricing (prices with effective dates, one current row
per model) and its view current_model_pricing; llm_calls gains the price it was costed at, the
cost broken into input and output and whether the first reply was valid JSON; llm_cache_hits
counts the requests answered from the cache (no call, so no llm_calls row).

Revision ID: e0007
Revises: e0006
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from personality_assets.db.migrations.helpers import real_schema

revision = "e0007"
down_revision = "e0006"
branch_labels = None
depends_on = None

S = "experiment"  # symbolic; the connection maps it to the real schema name


def upgrade() -> None:
    op.create_table(
        "model_pricing",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_model_id", sa.String(256), nullable=False),
        sa.Column("input_per_million", sa.Float, nullable=False),
        sa.Column("output_per_million", sa.Float, nullable=False),
        sa.Column("batch_input_per_million", sa.Float),
        sa.Column("batch_output_per_million", sa.Float),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_to", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("model", "effective_from"),
        schema=S,
    )
    # At most one price in force per model (both engines support partial indexes).
    op.create_index(
        "uq_model_pricing_current",
        "model_pricing",
        ["model"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("effective_to IS NULL"),
        sqlite_where=sa.text("effective_to IS NULL"),
    )
    schema = real_schema(S)
    prefix = f'"{schema}".' if op.get_context().dialect.name == "postgresql" else ""  # SQLite: same file only
    op.execute(
        f"""CREATE VIEW "{schema}".current_model_pricing AS
        SELECT id, model, provider, provider_model_id, input_per_million, output_per_million,
               batch_input_per_million, batch_output_per_million, effective_from
        FROM {prefix}model_pricing WHERE effective_to IS NULL"""
    )
    op.create_table(
        "llm_cache_hits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
        schema=S,
    )
    op.create_index("ix_llm_cache_hits_created", "llm_cache_hits", ["created"], schema=S)
    columns = (
        sa.Column("pricing_id", sa.Integer),
        sa.Column("input_cost_usd", sa.Float),
        sa.Column("output_cost_usd", sa.Float),
        sa.Column("json_valid_first", sa.Boolean),
    )
    for column in columns:
        op.add_column("llm_calls", column, schema=schema)
    op.create_index("ix_llm_calls_created", "llm_calls", ["created"], schema=S)


def downgrade() -> None:
    schema = real_schema(S)
    op.drop_index("ix_llm_calls_created", "llm_calls", schema=S)
    for column in ("json_valid_first", "output_cost_usd", "input_cost_usd", "pricing_id"):
        op.drop_column("llm_calls", column, schema=schema)
    op.drop_table("llm_cache_hits", schema=S)
    op.execute(f'DROP VIEW "{schema}".current_model_pricing')
    op.drop_index("uq_model_pricing_current", "model_pricing", schema=S)
    op.drop_table("model_pricing", schema=S)
