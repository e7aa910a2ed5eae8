"""What model calls cost and how they went, from ``llm_calls`` and ``llm_cache_hits``: per model,
provider, purpose and run (or over a date range, without runs). No Dagster here: the usage assets
and the CLI's ``usage`` command both read through :func:`usage_table`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import polars as pl
from sqlalchemy import Connection, func, select

from personality_assets.db.tables.usage import LLMCacheHits, LLMCall

CALL_SCHEMA = {
    "model": pl.String,
    "provider": pl.String,
    "purpose": pl.String,
    "run_id": pl.String,
    "status": pl.String,
    "attempts": pl.Int64,
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "latency_ms": pl.Float64,
    "cost_usd": pl.Float64,
    "input_cost_usd": pl.Float64,
    "output_cost_usd": pl.Float64,
    "json_valid_first": pl.Boolean,
}
USAGE_SCHEMA = {
    "model": pl.String,
    "provider": pl.String,
    "purpose": pl.String,
    "run_id": pl.String,
    "calls": pl.UInt32,
    "ok": pl.UInt32,
    "failed": pl.UInt32,
    "invalid": pl.UInt32,
    "retries": pl.Int64,
    "cache_hits": pl.Int64,
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "input_cost_usd": pl.Float64,
    "output_cost_usd": pl.Float64,
    "cost_usd": pl.Float64,
    "latency_p50_ms": pl.Float64,
    "latency_p95_ms": pl.Float64,
    "latency_p99_ms": pl.Float64,
    "json_invalid_first_share": pl.Float64,
}
# What each column means, for the UI's tables.
USAGE_COLUMNS = {
    "model": "model called",
    "provider": "provider serving the model",
    "purpose": "what the calls were for (personas, questionnaire, ...)",
    "run_id": "Dagster run that made the calls",
    "calls": "calls made (one per request after its retries)",
    "ok": "calls with a valid reply",
    "failed": "calls that got no reply",
    "invalid": "calls whose reply stayed invalid after retries",
    "retries": "retries made",
    "cache_hits": "requests answered from the response cache (no call)",
    "input_tokens": "input tokens",
    "output_tokens": "output tokens",
    "input_cost_usd": "cost of the input tokens, USD",
    "output_cost_usd": "cost of the output tokens, USD",
    "cost_usd": "cost, USD (at the price in force when each call was made)",
    "latency_p50_ms": "median latency of a call, ms",
    "latency_p95_ms": "95th percentile of the latency, ms",
    "latency_p99_ms": "99th percentile of the latency, ms",
    "json_invalid_first_share": "share of JSON replies invalid the first time",
}
# Costs keep six decimals in the UI's tables (a call costs fractions of a cent).
COST_DIGITS = {name: 6 for name in ("input_cost_usd", "output_cost_usd", "cost_usd")}


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _naive_for_sqlite(connection: Connection, moment: datetime) -> datetime:
    # SQLite stores UTC without a zone; comparing with an aware value would compare strings wrongly.
    return moment.replace(tzinfo=None) if connection.dialect.name == "sqlite" else moment


def read_calls(connection: Connection, start: datetime, end: datetime) -> pl.DataFrame:
    table = LLMCall.__table__
    query = select(*(table.c[name] for name in CALL_SCHEMA)).where(
        table.c.created >= _naive_for_sqlite(connection, start), table.c.created < _naive_for_sqlite(connection, end)
    )
    rows = connection.execute(query).all()
    return pl.DataFrame(rows, schema=CALL_SCHEMA, orient="row")


def read_cache_hits(connection: Connection, start: datetime, end: datetime) -> pl.DataFrame:
    table = LLMCacheHits.__table__
    keys = (table.c.model, table.c.provider, table.c.purpose, table.c.run_id)
    query = (
        select(*keys, func.sum(table.c.hits).label("cache_hits"))
        .where(
            table.c.created >= _naive_for_sqlite(connection, start),
            table.c.created < _naive_for_sqlite(connection, end),
        )
        .group_by(*keys)
    )
    schema = {
        "model": pl.String,
        "provider": pl.String,
        "purpose": pl.String,
        "run_id": pl.String,
        "cache_hits": pl.Int64,
    }
    return pl.DataFrame([tuple(row) for row in connection.execute(query)], schema=schema, orient="row")


def usage_table(calls: pl.DataFrame, hits: pl.DataFrame, by_run: bool = True) -> pl.DataFrame:
    """One row per model, provider, purpose (and run): counts, tokens, cost, latency quantiles, and
    the share of JSON replies that failed validation the first time."""
    keys = ["model", "provider", "purpose"] + (["run_id"] if by_run else [])
    summary = calls.group_by(keys).agg(
        pl.len().alias("calls"),
        (pl.col("status") == "ok").sum().alias("ok"),
        (pl.col("status") == "failed").sum().alias("failed"),
        (pl.col("status") == "invalid").sum().alias("invalid"),
        (pl.col("attempts") - 1).clip(lower_bound=0).sum().alias("retries"),
        pl.col("input_tokens").sum(),
        pl.col("output_tokens").sum(),
        pl.col("input_cost_usd").fill_null(0).sum(),
        pl.col("output_cost_usd").fill_null(0).sum(),
        pl.col("cost_usd").sum(),
        pl.col("latency_ms").quantile(0.5, "linear").alias("latency_p50_ms"),
        pl.col("latency_ms").quantile(0.95, "linear").alias("latency_p95_ms"),
        pl.col("latency_ms").quantile(0.99, "linear").alias("latency_p99_ms"),
        (~pl.col("json_valid_first")).mean().alias("json_invalid_first_share"),
    )
    hits = hits.group_by(keys).agg(pl.col("cache_hits").sum())
    table = summary.join(hits, on=keys, how="full", coalesce=True, nulls_equal=True)
    schema = {name: dtype for name, dtype in USAGE_SCHEMA.items() if by_run or name != "run_id"}
    counts = ["calls", "ok", "failed", "invalid", "retries", "cache_hits", "input_tokens", "output_tokens"]
    return (
        table.with_columns(pl.col(counts).fill_null(0), pl.col("^.*cost_usd$").fill_null(0.0))
        .select(list(schema))
        .cast(schema)
        .sort(keys, nulls_last=True)
    )
