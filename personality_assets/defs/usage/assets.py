"""Usage: what every model call cost and how it went, per day (``llm_usage``, a daily partition)
and over every day (``llm_usage_rollup``), from llm_calls and llm_cache_hits. Tables go to
<data dir>/usage/ as parquet; figures inline in the metadata."""

from datetime import date

import dagster as dg
import polars as pl

from personality_assets import settings
from personality_assets.db.engine import experiment_transaction
from personality_assets.defs.metadata import figure_entry, table_entries, table_metadata
from personality_assets.defs.partitions import partition_key
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.defs.usage import plots
from personality_assets.defs.usage.report import (
    COST_DIGITS,
    USAGE_COLUMNS,
    USAGE_SCHEMA,
    day_bounds,
    read_cache_hits,
    read_calls,
    usage_table,
)

GROUP = "usage"
# Today is a partition too (end_offset=1): its usage so far.
usage_days = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_offset=1)


def usage_dir():
    path = settings.data_dir() / "usage"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dg.asset(group_name=GROUP, partitions_def=usage_days, kinds={"sql", "parquet"})
def llm_usage(context: dg.AssetExecutionContext, research_db: ResearchDatabase) -> dg.MaterializeResult:
    """The day's model calls per model, provider, purpose and run: calls, ok/failed/invalid,
    retries, cache hits, tokens, cost (input, output, total, at the price in force when each call
    was made), latency p50/p95/p99, and the share of JSON replies invalid the first time."""
    day = date.fromisoformat(partition_key(context))
    start, end = day_bounds(day)
    with experiment_transaction(research_db.target) as connection:
        calls = read_calls(connection, start, end)
        hits = read_cache_hits(connection, start, end)
    table = usage_table(calls, hits).with_columns(pl.lit(day).alias("day"))
    path = usage_dir() / f"day={day.isoformat()}.parquet"
    table.write_parquet(path)
    per_model = (
        table.group_by("model").agg(pl.col("calls", "cache_hits", "cost_usd").sum()).sort("cost_usd", descending=True)
    )
    metadata = {
        "dagster/row_count": table.height,
        "calls": int(table["calls"].sum()),
        "cache_hits": int(table["cache_hits"].sum()),
        "cost_usd": round(float(table["cost_usd"].sum()), 6),
        "parquet": dg.MetadataValue.path(str(path)),
        "per_model": table_metadata(per_model, USAGE_COLUMNS, precise=COST_DIGITS),
        **table_entries("usage", table.drop("day"), USAGE_COLUMNS, precise=COST_DIGITS),
    }
    figure = plots.latency_distribution(calls, usage_dir() / f"latency_{day.isoformat()}.png")
    metadata |= figure_entry("latency_plot", figure, "Call latency per model")
    return dg.MaterializeResult(metadata=metadata)


# Eager, except that it waits for no missing day: every day since usage_days' start is a partition
# of llm_usage, and the days before the first recorded call (or with no call, or not yet
# materialised) never will be, so eager's "no dependency missing" would never hold. Instead: once
# a day is materialised, and whenever one is again.
ROLLUP_CONDITION = (
    dg.AutomationCondition.eager()
    .replace(
        ~dg.AutomationCondition.any_deps_missing(),
        dg.AutomationCondition.any_deps_match(~dg.AutomationCondition.missing()).with_label("a day materialised"),
    )
    .with_label("eager from the first materialised day")
)


@dg.asset(
    group_name=GROUP,
    deps=[llm_usage],
    kinds={"parquet"},
    automation_condition=ROLLUP_CONDITION,
)
def llm_usage_rollup() -> dg.MaterializeResult:
    """Every materialised day of llm_usage in one table, with spend per model over time
    (cost per day per model as a figure; cost per model as numbers the UI charts over runs)."""
    files = sorted(usage_dir().glob("day=*.parquet"))
    schema = {**USAGE_SCHEMA, "day": pl.Date}
    days = pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame(schema=schema)
    path = usage_dir() / "usage_rollup.parquet"
    days.write_parquet(path)
    daily = days.group_by("day", "model").agg(pl.col("calls", "cost_usd").sum()).sort("day", "model")
    per_model = days.group_by("model").agg(
        pl.col("calls", "cache_hits", "input_tokens", "output_tokens", "cost_usd").sum()
    )
    metadata = {
        "dagster/row_count": days.height,
        "days": days["day"].n_unique(),
        "cost_usd": round(float(days["cost_usd"].sum()), 6),
        "parquet": dg.MetadataValue.path(str(path)),
        "per_model": table_metadata(per_model.sort("cost_usd", descending=True), USAGE_COLUMNS, precise=COST_DIGITS),
        **{f"cost_usd/{row['model']}": round(row["cost_usd"], 6) for row in per_model.iter_rows(named=True)},
    }
    # None when every cost is 0 (simulated models): no empty chart, no entry.
    figure = plots.cost_per_day(daily, usage_dir() / "cost_per_day.png")
    metadata |= figure_entry("cost_per_day_plot", figure, "Cost per day per model")
    return dg.MaterializeResult(metadata=metadata)


usage_job = dg.define_asset_job(
    "usage", selection=dg.AssetSelection.assets(llm_usage), partitions_def=usage_days, description="One day's usage."
)
# Yesterday's usage each morning (off by default: turn it on under Automation); the rollup follows.
usage_schedule = dg.build_schedule_from_partitioned_job(
    usage_job,
    hour_of_day=1,
    description="Materialises llm_usage for the day before, at 01:00 UTC (the rollup follows). Off by default.",
)
