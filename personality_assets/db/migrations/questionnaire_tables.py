"""Questionnaire definition tables, created in both schemas by their first migrations.

Part of migrations r0001 and e0001: frozen. A later change to these tables is a new migration.
"""

import sqlalchemy as sa
from alembic import op


def create_questionnaire_tables(S: str) -> None:
    op.create_table(
        "questionnaires",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("scoring", sa.String(32), nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("min_answer", sa.Integer, nullable=False),
        sa.Column("max_answer", sa.Integer, nullable=False),
        sa.Column("definition_sha256", sa.String(64), nullable=False),
        schema=S,
    )
    op.create_table(
        "questionnaire_items",
        sa.Column("questionnaire", sa.String(64), primary_key=True),
        sa.Column("question_number", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("scale", sa.String(32), nullable=False),
        sa.Column("key", sa.String(16), nullable=False),
        sa.Column("text", sa.Text),
        sa.ForeignKeyConstraint(
            ["questionnaire"],
            [f"{S}.questionnaires.name"],
            ondelete="CASCADE",
            name="fk_questionnaire_items_questionnaire",
        ),
        schema=S,
    )
    op.create_table(
        "questionnaire_answer_codes",
        sa.Column("questionnaire", sa.String(64), primary_key=True),
        sa.Column("answer", sa.Integer, primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["questionnaire"],
            [f"{S}.questionnaires.name"],
            ondelete="CASCADE",
            name="fk_questionnaire_answer_codes_questionnaire",
        ),
        schema=S,
    )
