"""Reference schema: questionnaire definitions, populations and their long-format answers.

Revision ID: r0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from personality_assets.db.migrations.helpers import real_schema
from personality_assets.db.migrations.questionnaire_tables import create_questionnaire_tables

revision = "r0001"
down_revision = None
branch_labels = ("reference",)
depends_on = None

S = "reference"  # symbolic; the connection maps it to the real schema name


def upgrade() -> None:
    create_questionnaire_tables(S)
    op.create_table(
        "reference_populations",
        sa.Column("population", sa.String(128), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_format", sa.String(32), nullable=False),
        sa.Column("synthetic", sa.Boolean, nullable=False),
        sa.Column("derived_from", sa.String(128)),
        sa.Column("respondents", sa.Integer, nullable=False),
        sa.Column("answers", sa.Integer, nullable=False),
        sa.Column("excluded_rows", sa.Integer, nullable=False),
        sa.Column("loaded", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        schema=S,
    )
    # No per-row foreign keys here: a population is millions of rows written by COPY, and
    # PostgreSQL checks foreign keys row by row (they doubled the load time). The loaders, the
    # only writers, validate every row against the questionnaire definition instead.
    op.create_table(
        "reference_questionnaires",
        sa.Column("population", sa.String(128), primary_key=True),
        sa.Column("personality_id", sa.Integer, primary_key=True),
        sa.Column("questionnaire", sa.String(64), primary_key=True),
        sa.Column("question_number", sa.Integer, primary_key=True),
        sa.Column("answer", sa.Integer, nullable=False),
        schema=S,
    )
    schema = real_schema(S)
    postgres = op.get_context().dialect.name == "postgresql"
    # SQLite views may only name tables of their own (attached) file, unqualified.
    prefix = f'"{schema}".' if postgres else ""
    op.execute(
        f"""CREATE VIEW "{schema}".reference_questionnaires_labelled AS
        SELECT r.population, r.personality_id, r.questionnaire, r.question_number,
               i.text AS question, i.scale AS category, i.key, r.answer
        FROM {prefix}reference_questionnaires r
        JOIN {prefix}questionnaire_items i
          ON i.questionnaire = r.questionnaire AND i.question_number = r.question_number"""
    )
    if postgres:
        # Statement-level guard: experiment code cannot write the reference schema by accident.
        op.execute(
            f"""CREATE FUNCTION "{schema}".refuse_reference_writes() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF coalesce(current_setting('personality_assets.reference_writer', true), '') <> 'on' THEN
                RAISE EXCEPTION 'the reference schema is read-only: % on %.% refused (only reference loaders write it)',
                  TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
              END IF;
              RETURN NULL;
            END $$"""
        )
        for table in (
            "questionnaires",
            "questionnaire_items",
            "questionnaire_answer_codes",
            "reference_populations",
            "reference_questionnaires",
        ):
            op.execute(
                f"""CREATE TRIGGER refuse_writes BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
                ON "{schema}".{table} FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".refuse_reference_writes()"""
            )


def downgrade() -> None:
    schema = real_schema(S)
    op.execute(f'DROP VIEW "{schema}".reference_questionnaires_labelled')
    for table in (
        "reference_questionnaires",
        "reference_populations",
        "questionnaire_answer_codes",
        "questionnaire_items",
        "questionnaires",
    ):
        op.drop_table(table, schema=S)
    if op.get_context().dialect.name == "postgresql":
        op.execute(f'DROP FUNCTION "{schema}".refuse_reference_writes()')
