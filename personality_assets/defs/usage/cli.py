"""Commands of model usage: what the calls cost over a date range."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import polars as pl
import typer

from personality_assets.db.engine import experiment_transaction
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.defs.usage.report import day_bounds, read_cache_hits, read_calls, usage_table

app = typer.Typer()


@app.command()
def usage(
    start: Annotated[
        str | None, typer.Option("--from", help="first day, YYYY-MM-DD (default: six days before --to)")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="last day, YYYY-MM-DD (default: today, UTC)")] = None,
    by_run: Annotated[bool, typer.Option("--by-run", help="one row per Dagster run as well")] = False,
) -> None:
    """Calls, tokens, cost and latency per model and purpose for a date range."""
    try:
        last = date.fromisoformat(end) if end else datetime.now(UTC).date()
        first = date.fromisoformat(start) if start else last - timedelta(days=6)
    except ValueError as exc:
        print(f"dates are YYYY-MM-DD: {exc}", file=sys.stderr)
        sys.exit(2)
    begin, finish = day_bounds(first)[0], day_bounds(last)[1]
    with experiment_transaction(ResearchDatabase().target) as connection:
        table = usage_table(read_calls(connection, begin, finish), read_cache_hits(connection, begin, finish), by_run)
    columns = ["model", "purpose", *(["run_id"] if by_run else []), "calls", "ok", "failed", "invalid", "retries"]
    columns += ["cache_hits", "input_tokens", "output_tokens", "cost_usd", "latency_p50_ms", "latency_p95_ms"]
    columns += ["latency_p99_ms", "json_invalid_first_share"]
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_width_chars=250, fmt_str_lengths=36):
        print(f"Model usage {first} .. {last} (UTC days, inclusive):")
        print(
            table.select(columns).with_columns(pl.col("^latency.*$", "cost_usd").round(4))
            if table.height
            else "no calls"
        )
        print(
            f"total: {int(table['calls'].sum()):,} calls, {int(table['cache_hits'].sum()):,} cache hits, "
            f"${float(table['cost_usd'].sum()):.4f}"
        )
