"""The essay track: diversity dimensions (stances, evidence patterns, style parameters, quality
levels), topics, research seeds, student personas with their indexed attributes and keywords,
prompts by hash, generation runs, essays and persona usage.

Revision ID: e0006
Revises: e0005
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "e0006"
down_revision = "e0005"
branch_labels = None
depends_on = None

S = "experiment"  # symbolic; the connection maps it to the real schema name
JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")
DIMENSIONS = ("stances", "evidence_patterns", "style_parameters", "quality_levels")


def _created(name: str = "created") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _fk(column: str, table: str, ondelete: str | None = None, nullable: bool = False) -> sa.Column:
    return sa.Column(column, sa.Integer, sa.ForeignKey(f"{S}.{table}.id", ondelete=ondelete), nullable=nullable)


def _dimension(name: str, *extra: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        *extra,
        schema=S,
    )


def upgrade() -> None:
    _dimension("stances", sa.Column("polarity", sa.Integer, nullable=False))
    _dimension("evidence_patterns")
    _dimension("style_parameters", sa.Column("parameters", JSONDocument))
    _dimension(
        "quality_levels",
        sa.Column("min_words", sa.Integer, nullable=False),
        sa.Column("max_words", sa.Integer, nullable=False),
    )
    op.create_table(
        "essay_topics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(300), nullable=False, unique=True),
        sa.Column("keywords", JSONDocument),
        _created(),
        schema=S,
    )
    op.create_table(
        "research_seeds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _fk("topic_id", "essay_topics", "CASCADE"),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("content", JSONDocument, nullable=False),
        sa.Column("angles", sa.Integer, nullable=False),
        sa.Column("sources", sa.Integer, nullable=False),
        sa.Column("simulated", sa.Boolean, nullable=False),
        _created(),
        sa.UniqueConstraint("topic_id", "model"),
        schema=S,
    )
    op.create_table(
        "essay_personas",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text),
        sa.Column("background", sa.String(200), nullable=False),
        sa.Column("strengths", JSONDocument, nullable=False),
        sa.Column("weaknesses", JSONDocument, nullable=False),
        sa.Column("interests", JSONDocument, nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        _fk("created_for_topic_id", "essay_topics", "SET NULL", nullable=True),
        sa.Column("request_key", sa.String(64), nullable=False, unique=True),
        sa.Column("simulated", sa.Boolean, nullable=False),
        _created(),
        schema=S,
    )
    op.create_index("ix_essay_personas_background", "essay_personas", ["background"], schema=S)
    for table, kind_doc in (("essay_persona_attributes", "value"), ("essay_persona_keywords", "keyword")):
        columns = [
            sa.Column(
                "persona_id",
                sa.Integer,
                sa.ForeignKey(f"{S}.essay_personas.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("kind", sa.String(16), primary_key=True),
            sa.Column("position", sa.Integer, primary_key=True),
        ]
        if kind_doc == "value":
            columns.append(sa.Column("value", sa.String(200), nullable=False))
        else:
            columns.append(sa.Column("keyword", sa.String(64), primary_key=True))
        op.create_table(table, *columns, schema=S)
    op.create_index("ix_essay_persona_attributes_kind_value", "essay_persona_attributes", ["kind", "value"], schema=S)
    op.create_index("ix_essay_persona_keywords_keyword", "essay_persona_keywords", ["keyword", "kind"], schema=S)
    op.create_table(
        "essay_prompts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        _created(),
        schema=S,
    )
    op.create_table(
        "generation_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64)),
        _fk("topic_id", "essay_topics", "CASCADE"),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("temperature", sa.Float),
        sa.Column("pending", sa.Integer, nullable=False),
        sa.Column("written", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Float, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),
        _created("started"),
        sa.Column("finished", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_table(
        "essays",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _fk("topic_id", "essay_topics", "CASCADE"),
        _fk("seed_id", "research_seeds"),
        _fk("stance_id", "stances"),
        _fk("evidence_id", "evidence_patterns"),
        _fk("style_id", "style_parameters"),
        _fk("quality_id", "quality_levels"),
        sa.Column("replicate", sa.Integer, nullable=False, server_default="0"),
        _fk("persona_id", "essay_personas"),
        _fk("base_prompt_id", "essay_prompts"),
        _fk("prompt_id", "essay_prompts"),
        sa.Column("prompt_hash", sa.String(64), nullable=False),
        sa.Column("plan_position", sa.Integer, nullable=False),
        sa.Column("content", sa.Text),
        sa.Column("word_count", sa.Integer),
        sa.Column("model_name", sa.String(128)),
        sa.Column("temperature", sa.Float),
        _fk("generation_run_id", "generation_runs", "SET NULL", nullable=True),
        sa.Column("simulated", sa.Boolean),
        sa.Column("error", sa.Text),
        _created(),
        sa.Column("written", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_index(
        "uq_essays_topic_cell",
        "essays",
        ["topic_id", "stance_id", "evidence_id", "style_id", "quality_id", "replicate"],
        unique=True,
        schema=S,
    )
    op.create_index("ix_essays_persona_id", "essays", ["persona_id"], schema=S)
    op.create_table(
        "persona_usage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _fk("persona_id", "essay_personas", "CASCADE"),
        _fk("topic_id", "essay_topics", "CASCADE"),
        _fk("stance_id", "stances"),
        sa.Column(
            "essay_id",
            sa.Integer,
            sa.ForeignKey(f"{S}.essays.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("compatibility", sa.Float, nullable=False),
        _created(),
        sa.UniqueConstraint("persona_id", "topic_id"),
        schema=S,
    )
    op.create_index("ix_persona_usage_topic_id", "persona_usage", ["topic_id"], schema=S)


def downgrade() -> None:
    for table in (
        "persona_usage",
        "essays",
        "generation_runs",
        "essay_prompts",
        "essay_persona_keywords",
        "essay_persona_attributes",
        "essay_personas",
        "research_seeds",
        "essay_topics",
        *reversed(DIMENSIONS),
    ):
        op.drop_table(table, schema=S)
