"""What a load leaves out of a population: reference_exclusions (file rows and people per reason),
reference_populations.excluded_people, and reference_incomplete_answers (the answers of people left
out for skipping an item, so a scale's reference alpha can use everyone complete on that scale).

Revision ID: r0003
Revises: r0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from personality_assets.db.migrations.helpers import real_schema

revision = "r0003"
down_revision = "r0002"
branch_labels = None
depends_on = None

S = "reference"  # symbolic; the connection maps it to the real schema name
NEW_TABLES = ("reference_exclusions", "reference_incomplete_answers")


def upgrade() -> None:
    op.add_column(
        "reference_populations",
        sa.Column("excluded_people", sa.Integer, server_default=sa.text("0"), nullable=False),
        schema=real_schema(S),
    )
    op.create_table(
        "reference_exclusions",
        sa.Column("population", sa.String(128), primary_key=True),
        sa.Column("reason", sa.String(128), primary_key=True),
        sa.Column("file_rows", sa.Integer, nullable=False),
        sa.Column("people", sa.Integer),
        schema=S,
    )
    # No foreign keys, as reference_questionnaires (r0001): written by COPY, validated by the loaders.
    op.create_table(
        "reference_incomplete_answers",
        sa.Column("population", sa.String(128), primary_key=True),
        sa.Column("personality_id", sa.Integer, primary_key=True),
        sa.Column("questionnaire", sa.String(64), primary_key=True),
        sa.Column("question_number", sa.Integer, primary_key=True),
        sa.Column("answer", sa.Integer, nullable=False),
        schema=S,
    )
    if op.get_context().dialect.name == "postgresql":
        schema = real_schema(S)
        for table in NEW_TABLES:  # r0001's write guard
            op.execute(
                f"""CREATE TRIGGER refuse_writes BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
                ON "{schema}".{table} FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".refuse_reference_writes()"""
            )


def downgrade() -> None:
    for table in NEW_TABLES:
        op.drop_table(table, schema=S)
    op.drop_column("reference_populations", "excluded_people", schema=real_schema(S))
