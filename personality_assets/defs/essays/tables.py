"""What the essay track's assets read back: a topic's essays with their dimensions, and the persona
repository's reuse statistics."""

from __future__ import annotations

import polars as pl
from sqlalchemy import Connection, func, or_, select

from personality_assets.db.tables.essays import (
    Essay,
    EssayPersona,
    EssayTopic,
    EvidencePattern,
    PersonaUsage,
    QualityLevel,
    Stance,
    StyleParameter,
)


def topic_essays(connection: Connection, topic_id: int) -> pl.DataFrame:
    """Every planned essay of the topic, in plan order, with its dimension keys (written or not)."""
    essays, personas, topics = Essay.__table__, EssayPersona.__table__, EssayTopic.__table__
    stance, evidence, style, quality = (m.__table__ for m in (Stance, EvidencePattern, StyleParameter, QualityLevel))
    query = (
        select(
            essays.c.id,
            topics.c.topic,
            stance.c.key.label("stance"),
            evidence.c.key.label("evidence"),
            style.c.key.label("style"),
            quality.c.key.label("quality"),
            essays.c.replicate,
            essays.c.persona_id,
            personas.c.background.label("persona_background"),
            essays.c.seed_id,
            essays.c.base_prompt_id,
            essays.c.prompt_id,
            essays.c.prompt_hash,
            essays.c.content,
            essays.c.word_count,
            quality.c.min_words,
            quality.c.max_words,
            essays.c.model_name,
            essays.c.temperature,
            essays.c.simulated,
            essays.c.generation_run_id,
            essays.c.error,
            essays.c.written,
        )
        .join(topics, topics.c.id == essays.c.topic_id)
        .join(stance, stance.c.id == essays.c.stance_id)
        .join(evidence, evidence.c.id == essays.c.evidence_id)
        .join(style, style.c.id == essays.c.style_id)
        .join(quality, quality.c.id == essays.c.quality_id)
        .join(personas, personas.c.id == essays.c.persona_id)
        .where(essays.c.topic_id == topic_id)
        .order_by(essays.c.plan_position)
    )
    return pl.read_database(query, connection, infer_schema_length=None)


def dangling_dimensions(connection: Connection, topic_id: int) -> int:
    """Essays of the topic whose dimension ids name no stored level (the foreign keys should make
    this 0; the check says so rather than trusting them, e.g. on a database without them)."""
    essays = Essay.__table__
    tables = {
        "stance_id": Stance,
        "evidence_id": EvidencePattern,
        "style_id": StyleParameter,
        "quality_id": QualityLevel,
    }
    conditions = [
        essays.c[column].not_in(select(model.__table__.c.id).scalar_subquery()) for column, model in tables.items()
    ]
    query = select(func.count()).where(essays.c.topic_id == topic_id, or_(*conditions))
    return connection.execute(query).scalar_one()


def reuse_statistics(connection: Connection) -> dict[str, float | int]:
    """The repository's reuse: personas, personas used, essays per used persona, topics per persona."""
    personas, usage = EssayPersona.__table__, PersonaUsage.__table__
    per_persona = select(usage.c.persona_id, func.count().label("uses")).group_by(usage.c.persona_id).subquery()
    total = connection.execute(select(func.count()).select_from(personas)).scalar_one()
    row = connection.execute(
        select(
            func.count(),
            func.coalesce(func.sum(per_persona.c.uses), 0),
            func.coalesce(func.max(per_persona.c.uses), 0),
            func.count().filter(per_persona.c.uses > 1),
        )
    ).one()
    used, uses, most, reused = (int(value) for value in row)  # PostgreSQL sums are Decimal
    return {
        "personas": total,
        "personas_used": used,
        "personas_reused": reused,
        "essays_cast": uses,
        "mean_uses_per_used_persona": round(uses / used, 3) if used else 0.0,
        "most_uses": most,
    }


# --- what the essays asset shows (levels in the dimensions file's order) ------------------------------


def quality_ranges(levels: dict) -> pl.DataFrame:
    """quality, min_words, max_words of each active quality level (``active_levels``), in order."""
    return pl.DataFrame(
        [(level.key, level.extra["min_words"], level.extra["max_words"]) for level in levels["quality_levels"]],
        schema={"quality": pl.String, "min_words": pl.Int64, "max_words": pl.Int64},
        orient="row",
    )


def level_counts(written: pl.DataFrame, order: dict[str, list[str]]) -> dict[str, pl.DataFrame]:
    """Essays per level of each dimension column (stance, evidence, style, quality), zeros included."""
    return {
        column: pl.DataFrame({column: keys})
        .join(written.group_by(column).len().rename({"len": "essays"}), on=column, how="left")
        .fill_null(0)
        for column, keys in order.items()
    }


def word_count_table(written: pl.DataFrame, ranges: pl.DataFrame) -> pl.DataFrame:
    """Per quality level: essays, min / median / max word count, and the level's range."""
    stats = written.group_by("quality").agg(
        pl.len().alias("essays"),
        pl.col("word_count").min().alias("min"),
        pl.col("word_count").median().alias("median"),
        pl.col("word_count").max().alias("max"),
    )
    return (
        ranges.join(stats, on="quality", how="inner", maintain_order="left")
        .rename({"min_words": "range_min", "max_words": "range_max"})
        .select("quality", "essays", "min", "median", "max", "range_min", "range_max")
    )


def grid_coverage(written: pl.DataFrame, order: dict[str, list[str]]) -> tuple[int, float]:
    """Distinct grid cells the written essays cover, and their share of the grid."""
    size = 1
    for keys in order.values():
        size *= len(keys)
    cells = written.select(*order).n_unique() if written.height else 0
    return cells, round(cells / size, 4) if size else 0.0
