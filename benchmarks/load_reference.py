"""Benchmark: load a file in the exact Open Psychometrics layout through the asset's own code path.

    .venv/bin/python benchmarks/load_reference.py                 # full size: 1,015,341 rows
    .venv/bin/python benchmarks/load_reference.py --rows 100000   # quicker

Generates the file once (benchmarks/out/, synthetic), then, each in a fresh process so peak
memory is the load's own: loads it into PostgreSQL and into SQLite with
``personality_assets.populations.load.load_population`` (what the reference_questionnaires asset
calls), and, as the ceiling, times a bare ``COPY`` of the same long-format rows into the same
PostgreSQL table. Prints a markdown table for docs/benchmarks.md.
PostgreSQL: $BENCH_POSTGRES_URL (default the local server, database personality_assets_bench).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

OUT = Path(__file__).parent / "out"
FULL_ROWS = 1_015_341
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/personality_assets_bench"
POPULATION = "bench"


def _target(engine: str, pg_url: str):
    from personality_assets.db.engine import DatabaseTarget

    url = pg_url if engine == "postgresql" else f"sqlite:///{OUT / 'bench.sqlite'}"
    return DatabaseTarget(url, reference_schema="bench_reference", experiment_schema="bench_experiments")


def _prepare(engine: str, pg_url: str):
    from personality_assets.db import migrate
    from personality_assets.questionnaires import all_questionnaires
    from personality_assets.questionnaires.store import store_questionnaires

    if engine == "postgresql":
        url = make_url(pg_url)
        server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            # Start from an empty database every time, so no earlier load is deleted inside the timing.
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    else:
        for stale in OUT.glob("bench*.sqlite"):
            stale.unlink()
    target = _target(engine, pg_url)
    migrate.upgrade(target)
    store_questionnaires(target, list(all_questionnaires().values()))
    return target


def child_load(engine: str, path: str, pg_url: str) -> dict:
    from personality_assets.populations.load import LoadOptions, load_population

    target = _prepare(engine, pg_url)
    start = time.perf_counter()
    result = load_population(target, POPULATION, LoadOptions(path=path), log=lambda message: None)
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "answers": result.answers,
        "respondents": result.respondents,
        "excluded": result.exclusions.total,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_bare_copy(pg_url: str) -> dict:
    """Export the loaded rows (untimed), truncate the table, then time one bare COPY of them back."""
    from personality_assets.db.engine import reference_transaction
    from personality_assets.db.tables.reference import ReferenceQuestionnaire
    from personality_assets.populations.load import ANSWER_COLUMNS

    target = _target("postgresql", pg_url)
    table = target.qualified(ReferenceQuestionnaire.__table__)
    rows_file = OUT / "long_rows.tsv"
    columns = ", ".join(ANSWER_COLUMNS)
    with reference_transaction(target) as connection:
        cursor = connection.connection.driver_connection.cursor()
        with (
            open(rows_file, "wb") as handle,
            cursor.copy(f"COPY (SELECT {columns} FROM {table} WHERE population = '{POPULATION}') TO STDOUT") as copy,
        ):
            for block in copy:
                handle.write(block)
        # TRUNCATE, not DELETE: the COPY must go into a clean table and index, as the load did.
        cursor.execute(f"TRUNCATE {table}")
    with reference_transaction(target) as connection:
        cursor = connection.connection.driver_connection.cursor()
        start = time.perf_counter()
        with open(rows_file, "rb") as handle, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            while block := handle.read(1 << 20):
                copy.write(block)
        wall = time.perf_counter() - start
        answers = cursor.execute(f"SELECT count(*) FROM {table} WHERE population = '{POPULATION}'").fetchone()[0]
    rows_file.unlink()
    return {
        "wall_s": wall,
        "answers": answers,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _in_child(*args: str) -> dict:
    output = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=FULL_ROWS)
    parser.add_argument("--pg-url", default=__import__("os").environ.get("BENCH_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--engines", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = child_load(rest[0], rest[1], args.pg_url) if kind == "load" else child_bare_copy(args.pg_url)
        print(json.dumps(result))
        return

    from personality_assets.populations.open_psychometrics_file import write_open_psychometrics_file

    OUT.mkdir(exist_ok=True)
    path = OUT / f"data-final-{args.rows}.csv"
    if not path.exists():
        start = time.perf_counter()
        write_open_psychometrics_file(path, args.rows)
        print(
            f"generated {path} ({args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - start:.1f} s",
            flush=True,
        )

    results = {}
    for engine in args.engines:
        results[engine] = _in_child("--pg-url", args.pg_url, "--child", "load", engine, str(path))
        print(f"{engine}: {results[engine]}", flush=True)
        if engine == "postgresql":
            results["bare COPY"] = _in_child("--pg-url", args.pg_url, "--child", "copy")
            print(f"bare COPY: {results['bare COPY']}", flush=True)

    print(
        f"\n{args.rows:,} file rows -> {results[args.engines[0]]['respondents']:,} complete respondents, "
        f"{results[args.engines[0]]['answers']:,} long-format answers\n"
    )
    print("| path | wall time | answers/s | peak memory | vs bare COPY |")
    print("|---|---|---|---|---|")
    ceiling = results.get("bare COPY", {}).get("wall_s")
    for name, result in results.items():
        ratio = f"{result['wall_s'] / ceiling:.2f}x" if ceiling else "n/a"
        print(
            f"| {name} | {result['wall_s']:.1f} s | {result['answers'] / result['wall_s']:,.0f} | "
            f"{result['peak_rss_mb']:,.0f} MB | {ratio} |"
        )


if __name__ == "__main__":
    main()
