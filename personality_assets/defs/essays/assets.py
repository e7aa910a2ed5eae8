"""The essay track as assets: essay_dimensions (the dimensions file synced into the database), then
per topic (an essay_topic partition): research_seeds -> essay_personas (the plan, with a persona cast
for each essay) -> essays (written, checked, exported to parquet)."""

import re
import zlib

import dagster as dg
import polars as pl
from pydantic import Field

from personality_assets import settings
from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.essays import Essay, EssayPersona, ResearchSeed
from personality_assets.defs.essays import columns, plots
from personality_assets.defs.essays.checks import ESSAY_CHECKS, essay_checks
from personality_assets.defs.essays.dimensions import (
    DIMENSION_TABLES,
    active_levels,
    load_dimensions,
    sync_dimensions,
)
from personality_assets.defs.essays.generation import (
    PlanSettings,
    cast_essays,
    research_seed,
    topic_row,
    write_essays,
)
from personality_assets.defs.essays.partitions import essay_topic_partitions
from personality_assets.defs.essays.tables import (
    dangling_dimensions,
    grid_coverage,
    level_counts,
    quality_ranges,
    reuse_statistics,
    topic_essays,
    word_count_table,
)
from personality_assets.defs.metadata import explorer_link, figure_metadata, sql_table_schema, table_metadata
from personality_assets.defs.outputs import output_path
from personality_assets.defs.partitions import partition_key
from personality_assets.defs.resources import LLMEngineResource, ResearchDatabase
from personality_assets.defs.steps import ModelKey, SpendCapConfig, model_key_field, model_step, step

GROUP = "essays"
# What every step of a topic shares: its group and a partition per topic.
TOPIC_STEP = {"group_name": GROUP, "partitions_def": essay_topic_partitions}

# The topic_essays column of each dimension.
LEVEL_COLUMNS = {
    "stance": "stances",
    "evidence": "evidence_patterns",
    "style": "style_parameters",
    "quality": "quality_levels",
}


def topic_slug(topic: str) -> str:
    """A file name for a topic: its words, and a hash so two topics never share one."""
    words = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")[:60]
    return f"{words}-{zlib.crc32(topic.encode()):08x}"


def essays_parquet(topic: str):
    return output_path(settings.data_dir(), "parquet", "essays", f"topic={topic_slug(topic)}.parquet")


def essay_figure(topic: str, name: str):
    return output_path(settings.data_dir(), "parquet", "essays", "figures", f"{topic_slug(topic)}_{name}.png")


@step(group_name=GROUP, kinds={"sql", "yaml"})
def essay_dimensions(research_db: ResearchDatabase) -> dg.MaterializeResult:
    """The diversity dimensions (stances, evidence patterns, style parameters, quality levels) from
    the dimensions file ($PERSONALITY_ASSETS_ESSAY_DIMENSIONS, data/essay_dimensions.yaml or the
    shipped defaults) into the research database. Levels removed from the file stay, inactive."""
    path = settings.essay_dimensions_file()
    dimensions = load_dimensions(path)
    with experiment_transaction(research_db.target) as connection:
        outcome = sync_dimensions(connection, dimensions)
    tables = {
        name: table_metadata(
            pl.DataFrame([level.model_dump(exclude={"parameters"}) for level in getattr(dimensions, name)]),
            columns.DIMENSION_LEVELS,
        )
        for name in DIMENSION_TABLES
    }
    return dg.MaterializeResult(
        metadata={
            "file": dg.MetadataValue.path(str(path)),
            "grid_size": dimensions.grid_size,
            "added": outcome.added,
            "updated": outcome.updated,
            "deactivated": outcome.deactivated,
            **tables,
        }
    )


class ResearchSeedsConfig(SpendCapConfig):
    research_model: ModelKey = model_key_field("model key (models.yaml) of the research model")
    angles: int = Field(default=12, ge=3, le=30, description="angles the research model is asked to cover")


@model_step(
    **TOPIC_STEP,
    kinds={"sql"},
    metadata={"dagster/column_schema": sql_table_schema(ResearchSeed)},
)
def research_seeds(
    context: dg.AssetExecutionContext,
    config: ResearchSeedsConfig,
    research_db: ResearchDatabase,
    llm: LLMEngineResource,
) -> dg.MaterializeResult:
    """Facts, quotes and sources on the topic from several angles, by the research model (any
    OpenAI-compatible endpoint, e.g. a search-backed one), validated as JSON. Asked for once per
    topic and model; offline, the simulator returns plausible seeds marked [simulated]."""
    topic = partition_key(context)
    outcome = research_seed(
        llm.engine(context, config.max_cost_usd), research_db.target, topic, config.research_model, config.angles
    )
    if outcome.seed_id is None:
        reasons = "; ".join(outcome.summary.errors) or "no valid reply"
        raise dg.Failure(f"the research model {config.research_model!r} gave no valid seed for {topic!r}: {reasons}")
    seeds = ResearchSeed.__table__
    with experiment_transaction(research_db.target) as connection:
        seed = connection.execute(seeds.select().where(seeds.c.id == outcome.seed_id)).mappings().one()
    angles = pl.DataFrame(
        [
            {
                "angle": a["angle"],
                "facts": len(a["facts"]),
                "quotes": len(a["quotes"]),
                "sources": len(a["sources"]),
                "first fact": a["facts"][0][:120],
            }
            for a in seed["content"]["angles"]
        ]
    )
    return dg.MaterializeResult(
        metadata={
            "seed_id": outcome.seed_id,
            "asked_now": outcome.created,
            "angles": seed["angles"],
            "sources": seed["sources"],
            "simulated": bool(seed["simulated"]),
            "angles_table": table_metadata(angles, columns.ANGLES),
            **outcome.summary.metadata(),
        }
    )


class EssayPlanConfig(SpendCapConfig):
    essays: int | None = Field(
        default=None, ge=1, description="essays for the topic: a balanced sample of the grid; default the whole grid"
    )
    seed: int | None = Field(default=None, description="the plan's seed; default derived from the topic")
    persona_model: ModelKey = model_key_field("model key that writes new personas")
    research_model: ModelKey = model_key_field("whose research seed the prompts draw on")
    min_compatibility: float = Field(
        default=0.3, gt=0, le=1, description="lowest topic compatibility for reuse (above 0: a shared keyword at least)"
    )
    max_uses: int = Field(default=10, ge=1, description="most essays one persona writes, over all topics")


@model_step(
    **TOPIC_STEP,
    deps=[essay_dimensions, research_seeds],
    kinds={"sql"},
    metadata={"dagster/column_schema": sql_table_schema(EssayPersona)},
)
def essay_personas(
    context: dg.AssetExecutionContext, config: EssayPlanConfig, research_db: ResearchDatabase, llm: LLMEngineResource
) -> dg.MaterializeResult:
    """The topic's essay plan (the stance x evidence x style x quality grid, or a balanced seeded
    sample of it) with a student persona cast for every essay: stored personas that fit the topic
    first (compatibility score, not yet used for it, under the use cap), new ones written by the
    persona model for the rest. Essays are registered pending, with their prompts and persona_usage."""
    topic = partition_key(context)
    target = research_db.target
    plan = PlanSettings(**config.model_dump(exclude={"max_cost_usd"}))
    outcome = cast_essays(llm.engine(context, config.max_cost_usd), target, topic, plan)
    if config.essays is not None and outcome.already_planned > config.essays:
        context.log.warning(
            f"the topic already has {outcome.already_planned} planned essays, more than essays={config.essays}: "
            "a plan never shrinks, so all of them stay planned and the essays step writes them all"
        )
    with experiment_transaction(target) as connection:
        essays = topic_essays(connection, topic_row(connection, topic)["id"])
        statistics = reuse_statistics(connection)
    cast = essays.group_by("persona_id", "persona_background").len().sort("len", descending=True)
    metadata = {
        "dagster/row_count": essays.height,
        "planned_now": outcome.planned,
        "already_planned": outcome.already_planned,
        "reused_personas": outcome.reused,
        "resumed_personas": outcome.resumed,
        "new_personas": outcome.new_personas,
        "selection_seconds": round(outcome.selection_s, 4),
        "backgrounds": table_metadata(
            essays.group_by("persona_background").len().sort("len", descending=True).rename({"len": "essays"}),
            columns.BACKGROUNDS,
        ),
        "personas_cast": cast.height,
        **{f"repository/{key}": value for key, value in statistics.items()},
        **outcome.summary.metadata(),
    }
    if outcome.unfilled:
        raise dg.Failure(
            f"{outcome.unfilled} of the plan's essays have no persona (the persona model's replies failed: "
            f"{dict(outcome.summary.errors)}); the {outcome.planned} cast are stored: run again to fill the rest",
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


class EssaysConfig(SpendCapConfig):
    writer_model: ModelKey = model_key_field("model key (models.yaml) that writes the essays")
    temperature: float | None = Field(default=None, ge=0, le=2, description="default: the writer model's own")
    near_duplicate_threshold: float = Field(
        default=0.5, gt=0, le=1, description="highest word-trigram Jaccard similarity two essays of a topic may have"
    )


@model_step(
    **TOPIC_STEP,
    deps=[essay_personas],
    kinds={"sql", "parquet"},
    check_specs=ESSAY_CHECKS,
    metadata={"dagster/column_schema": sql_table_schema(Essay)},
)
def essays(
    context: dg.AssetExecutionContext, config: EssaysConfig, research_db: ResearchDatabase, llm: LLMEngineResource
) -> dg.MaterializeResult:
    """The topic's pending essays, written by the writer model as their personas at their stance,
    evidence pattern, style and quality level (one generation_runs row per run). Only pending
    essays are asked for, so a re-run or a resumed run pays for nothing twice. Exported with their
    dimensions to data/parquet/essays/topic=<topic>.parquet."""
    topic = partition_key(context)
    target = research_db.target
    outcome = write_essays(
        llm.engine(context, config.max_cost_usd),
        target,
        topic,
        config.writer_model,
        config.temperature,
        context.run.run_id,
    )
    with experiment_transaction(target) as connection:
        topic_id = topic_row(connection, topic)["id"]
        frame = topic_essays(connection, topic_id)
        dangling = dangling_dimensions(connection, topic_id)
        statistics = reuse_statistics(connection)
        levels = active_levels(connection)
    # Tables and figures list levels in the dimensions file's order.
    order = {column: [level.key for level in levels[name]] for column, name in LEVEL_COLUMNS.items()}
    ranges = quality_ranges(levels)
    path = essays_parquet(topic)
    frame.write_parquet(path)
    written = frame.filter(pl.col("content").is_not_null())
    cells, share = grid_coverage(written, order)
    metadata = {
        "dagster/row_count": frame.height,
        "written": written.height,
        "grid_cells_covered": cells,
        "grid_share_covered": share,
        "pending_at_start": outcome.pending,
        "parquet": dg.MetadataValue.path(str(path)),
        "explorer": explorer_link("/essays", topic=str(topic_id)),
    }
    if outcome.generation_run_id is None:
        writers = ", ".join(sorted(set(written["model_name"]))) or "nobody"
        context.log.info(
            f"nothing pending: the topic's {written.height} essays are written (by {writers}); writer_model applies "
            "to pending essays only, so a plan extended with essays: N is where another writer comes in"
        )
    else:
        metadata["generation_run_id"] = outcome.generation_run_id
    if written.height:  # figures first: the UI lists metadata in this order
        metadata["essays_per_dimension_plot"] = figure_metadata(
            plots.essays_per_dimension(written, order, essay_figure(topic, "dimensions")), "Essays per dimension level"
        )
        metadata["word_count_plot"] = figure_metadata(
            plots.word_counts(written, ranges, essay_figure(topic, "word_counts")),
            "Word counts per quality level",
        )
        metadata["preview"] = table_metadata(
            written.select("id", "stance", "evidence", "style", "quality", "word_count", "persona_background").head(5),
            columns.PREVIEW,
        )
    metadata |= {
        **{
            f"essays_per_{column}": table_metadata(table, columns.level_count_columns(column))
            for column, table in level_counts(written, order).items()
        },
        "word_counts": table_metadata(word_count_table(written, ranges), columns.WORD_COUNTS),
        "mean_word_count": round(float(written["word_count"].mean()), 1) if written.height else 0.0,
        **{f"repository/{key}": value for key, value in statistics.items()},
        **outcome.summary.metadata(),
    }
    return dg.MaterializeResult(
        metadata=metadata, check_results=essay_checks(frame, dangling, config.near_duplicate_threshold)
    )
