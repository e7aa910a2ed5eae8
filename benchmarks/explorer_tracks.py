"""Benchmark: the results explorer's value-alignment and essay pages at scale.

    .venv/bin/python benchmarks/explorer_tracks.py                                   # 100 batches x 1,000 entries; 100,000 essays
    .venv/bin/python benchmarks/explorer_tracks.py --batches 10 --essays 10000       # quicker

Values: writes N batch folders in the track's layout (journal_entries, judge_passes with 3 passes,
consensus_labels made by the track's own consensus function, judge_labels, persona_details, and the
registry) and times the list's queries (``values.entries_page``: lazy scans filtered and sliced)
and an entry's page (``values.entry``).

Essays: materialises one topic on the simulator with the track's assets (8 essays), copies its
essays as replicates (doubling) up to at least --essays rows in the database, and times ``essays.essays_page`` (paged
and counted in SQL) and ``essays.essay`` on SQLite and on PostgreSQL
($PERSONALITY_ASSETS_BENCH_POSTGRES_URL, default the local server's personality_assets_bench;
fresh schemas, dropped afterwards). Each figure is the median of 5 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/personality_assets_bench"
TOPIC = "Should homework be optional in secondary school?"


def median_s(call, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_values(root: str, batches: int, entries: int) -> None:
    from personality_assets.defs.values.agreement import consensus_labels
    from personality_assets.defs.values.assets import DETAILS_SCHEMA, REGISTRY, batch_file, label_file
    from personality_assets.defs.values.contract import REGISTRY_SCHEMA, VALUE_COLUMNS, VALUE_NAMES
    from personality_assets.defs.values.generation import ENTRY_SCHEMA, PASS_SCHEMA
    from personality_assets.store.parquet import ParquetStore

    store, rng = ParquetStore(root), np.random.default_rng(1)
    per_persona = 10
    registries = []
    for b in range(batches):
        batch = f"b{b:04d}"
        ids = [f"{b:04x}{i:04x}" for i in range(entries // per_persona)]
        entry_rows = pl.DataFrame(
            {
                "persona_id": [i for i in ids for _ in range(per_persona)],
                "t_index": [t for _ in ids for t in range(per_persona)],
                "date": [(date(2025, 1, 1) + timedelta(days=t)).isoformat() for _ in ids for t in range(per_persona)],
                "title": "A day",
                "entry": "I helped my neighbour carry her shopping and then read for an hour. " * 4,
                "nudge_kind": None,
                "nudge_question": None,
                "nudge_answer": None,
                "session": "entry",
            }
        ).cast(ENTRY_SCHEMA)
        first = rng.choice([-1, 0, 1], size=(entry_rows.height, 10), p=[0.07, 0.76, 0.17])
        passes = []
        for k in range(3):  # each pass changes a label 3% of the time
            labels = np.where(rng.random(first.shape) < 0.03, rng.choice([-1, 0, 1], size=first.shape), first)
            passes.append(
                entry_rows.select("persona_id", "t_index").with_columns(
                    pl.lit(k, pl.Int64).alias("pass"),
                    *(pl.Series(column, labels[:, i]) for i, column in enumerate(VALUE_COLUMNS)),
                    pl.lit(json.dumps({"benevolence": "helped a neighbour"})).alias("rationales_json"),
                )
            )
        passes = pl.concat(passes).cast(PASS_SCHEMA)
        dated = passes.join(entry_rows.select("persona_id", "t_index", "date"), on=["persona_id", "t_index"])
        store.write(batch_file(batch, "journal_entries"), entry_rows)
        store.write(batch_file(batch, "judge_passes"), passes)
        store.write(batch_file(batch, "judge_labels"), label_file(passes, entry_rows))
        store.write(batch_file(batch, "consensus_labels"), consensus_labels(dated))
        store.write(
            batch_file(batch, "persona_details"),
            pl.DataFrame(
                {
                    "persona_id": ids,
                    "background": "A teacher who lives with her family.",
                    "core_value_keys": [["benevolence"]] * len(ids),
                    "planned_entries": per_persona,
                    "first_date": date(2025, 1, 1),
                    "seed": b,
                    "writer_model": "simulated",
                },
                schema=DETAILS_SCHEMA,
            ),
        )
        registries.append(
            pl.DataFrame(
                {
                    "persona_id": ids,
                    "name": "A Person",
                    "age": "25-34",
                    "profession": "Teacher",
                    "culture": "East Asian",
                    "core_values": [[VALUE_NAMES["benevolence"]]] * len(ids),
                    "entry_count": per_persona,
                    "created_at": datetime.now(UTC),
                    "stage_synthetic": True,
                    "stage_wrangled": True,
                    "stage_labeled": True,
                    "nudge_enabled": False,
                }
            ).cast(REGISTRY_SCHEMA)
        )
    store.write(REGISTRY, pl.concat(registries))


def bench_values(batches: int, entries: int) -> None:
    from personality_assets.explorer import values

    root = tempfile.mkdtemp()
    start = time.perf_counter()
    write_values(root, batches, entries)
    print(f"values: {batches:,} batches x {entries:,} entries written in {time.perf_counter() - start:.1f} s")
    from personality_assets.store.parquet import ParquetStore

    store = ParquetStore(root)
    total = values.entries_page(store, values.ValueFilter(), size=1)[1]
    last = -(-total // values.PAGE_SIZE)
    some = store.read("batches/b0000/journal_entries.parquet").row(5, named=True)
    cases = [
        ("first page, no filter", values.ValueFilter(), 1),
        (f"last page (page {last:,}), no filter", values.ValueFilter(), last),
        ("one batch", values.ValueFilter(batch="b0000"), 1),
        ("one persona", values.ValueFilter(persona=some["persona_id"]), 1),
        ("benevolence +1", values.ValueFilter(value="benevolence", label="+1"), 1),
        ("passes disagree", values.ValueFilter(agreement="disagree"), 1),
    ]
    print(f"\n| values list ({total:,} entries) | matches | median |\n|---|---|---|")
    for name, selected, page in cases:
        matches = values.entries_page(store, selected, page)[1]
        print(
            f"| {name} | {matches:,} | {median_s(lambda s=selected, p=page: values.entries_page(store, s, p)):.3f} s |"
        )
    elapsed = median_s(lambda: values.entry(store, "b0000", some["persona_id"], some["t_index"]))
    print(f"| an entry's page (values.entry) | 1 | {elapsed:.3f} s |")


def bench_essays(url: str, essays: int, label: str) -> None:
    import dagster as dg
    from sqlalchemy import func, insert, select, text

    from personality_assets.db import migrate
    from personality_assets.db.engine import (
        DatabaseTarget,
        dispose_engines,
        experiment_transaction,
        reference_transaction,
    )
    from personality_assets.db.tables.essays import Essay
    from personality_assets.defs.essays.assets import essay_dimensions, essay_personas, research_seeds
    from personality_assets.defs.essays.assets import essays as essays_asset
    from personality_assets.defs.resources import LLMEngineResource, ResearchDatabase
    from personality_assets.explorer import essays as pages
    from personality_assets.explorer.queries import read_only

    if url.startswith("postgresql"):  # the benchmark database, created when missing (as benchmarks/essays.py does)
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        server = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            name = make_url(url).database
            if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        server.dispose()
    suffix = uuid.uuid4().hex[:8]
    target = DatabaseTarget(url, reference_schema=f"ref_{suffix}", experiment_schema=f"exp_{suffix}")
    migrate.upgrade(target)
    try:
        db = ResearchDatabase(
            url=target.url, reference_schema=target.reference_schema, experiment_schema=target.experiment_schema
        )
        resources = {"research_db": db, "llm": LLMEngineResource(research_db=db, progress_every_s=60)}
        instance = dg.DagsterInstance.ephemeral()
        assert dg.materialize([essay_dimensions], resources=resources, instance=instance).success
        instance.add_dynamic_partitions("essay_topic", [TOPIC])
        assert dg.materialize(
            [research_seeds, essay_personas, essays_asset],
            partition_key=TOPIC,
            resources=resources,
            instance=instance,
            run_config={"ops": {"essay_personas": {"config": {"essays": 8}}}},
        ).success
        table = Essay.__table__
        copied = [c for c in table.c if c.name not in ("id", "replicate", "plan_position")]
        with experiment_transaction(target) as connection:
            originals = connection.execute(select(func.count()).select_from(table)).scalar_one()
            copies = 1  # doubling: each round copies every essay as new replicates
            while originals * copies < essays:
                source = select(*copied, table.c.replicate + copies, table.c.plan_position + copies * originals)
                connection.execute(
                    insert(table).from_select([*(c.name for c in copied), "replicate", "plan_position"], source)
                )
                copies *= 2
            rows = connection.execute(select(func.count()).select_from(table)).scalar_one()
            one = connection.execute(select(table.c.id, table.c.persona_id).limit(1)).one()
            if target.dialect == "postgresql":
                connection.execute(text(f'ANALYZE "{target.experiment_schema}".essays'))
        with read_only(target) as connection:
            first = pages.essays_page(connection, pages.EssayFilter(), 1, 1)[0][0]
            pages_total = -(-rows // pages.PAGE_SIZE)
            cases = [
                ("first page, no filter", pages.EssayFilter(), 1),
                (f"last page (page {pages_total:,}), no filter", pages.EssayFilter(), pages_total),
                ("one stance", pages.EssayFilter(stance=first["stance"]), 1),
                ("stance and quality", pages.EssayFilter(stance=first["stance"], quality=first["quality"]), 1),
                ("one persona", pages.EssayFilter(persona=str(one.persona_id)), 1),
            ]
            print(f"\n| essays list, {label} ({rows:,} essays) | matches | median |\n|---|---|---|")
            for name, selected, page in cases:
                matches = pages.essays_page(connection, selected, page)[1]
                elapsed = median_s(lambda s=selected, p=page: pages.essays_page(connection, s, p))
                print(f"| {name} | {matches:,} | {elapsed:.3f} s |")
            elapsed = median_s(lambda: pages.essay(connection, one.id))
            print(f"| an essay's page (essays.essay) | 1 | {elapsed:.3f} s |")
    finally:
        if target.dialect == "postgresql":
            with reference_transaction(target) as connection:  # the reference schema's guards let only loaders drop it
                for schema in target.schema_map.values():
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        dispose_engines(target)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--entries", type=int, default=1000, help="journal entries per batch")
    parser.add_argument("--essays", type=int, default=100_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--only", choices=["values", "essays"], help="one of the two tracks")
    args = parser.parse_args()
    data = tempfile.mkdtemp()
    os.environ["PERSONALITY_ASSETS_DATA_DIR"] = data  # the simulator's calls and parquet exports go here
    if args.only != "essays":
        bench_values(args.batches, args.entries)
    if args.only == "values":
        return
    bench_essays(f"sqlite:///{data}/research.sqlite", args.essays, "SQLite")
    if not args.skip_postgres:
        bench_essays(os.environ.get("PERSONALITY_ASSETS_BENCH_POSTGRES_URL", DEFAULT_URL), args.essays, "PostgreSQL")


if __name__ == "__main__":
    main()
