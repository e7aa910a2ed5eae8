"""Benchmark: the results explorer's pages over a study of the original's scale, on PostgreSQL.

    .venv/bin/python benchmarks/explorer.py            # builds the study once (about 8 minutes), then times
    .venv/bin/python benchmarks/explorer.py --rebuild  # the same, building the study again

The study is the reports benchmark's (benchmarks/reports.py's build(): 826 synthetic people ×
4 conditions × 5 simulated models × 3 repetitions × 2 questionnaires: 99,120 experiments,
3,667,440 answers), in its own database. Each page is requested through Starlette's TestClient
(the app in-process, the database over TCP) several times; the median and the slowest are printed.
PostgreSQL: $BENCH_POSTGRES_URL (default the local server, database personality_assets_bench_explorer).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/personality_assets_bench_explorer"
REPEATS = 7


def pages(connection) -> list[tuple[str, str]]:
    """(what, URL) of the pages timed, with ids taken from the middle of the study."""
    persona = connection.execute(
        text("SELECT id FROM experiments.personas ORDER BY id OFFSET (SELECT count(*) / 2 FROM experiments.personas)")
    ).scalar()
    experiment = connection.execute(
        text("SELECT experiment_id FROM experiments.experiments_list WHERE personality_id = :p ORDER BY 1"),
        {"p": persona},
    ).scalar()
    compare = (
        "/compare?questionnaire=bigfive&scale=EXT&a_model=sim1&a_population=bench826&b_model=sim2&b_population=bench826"
    )
    return [
        ("experiments, first page", "/experiments"),
        (
            "experiments, filtered (model, questionnaire, answered), page 20",
            "/experiments?model=sim3&questionnaire=bigfive&status=answered&page=20",
        ),
        ("experiments, failed", "/experiments?status=failed"),
        ("persona page (6 experiments)", f"/personas/{persona}"),
        ("experiment page", f"/experiments/{experiment}"),
        ("compare, Big Five EXT, sim1 vs sim2, page 1", compare),
        ("compare, page 10", compare + "&page=10"),
        (
            "compare, every model pooled, base vs MaxN",
            "/compare?questionnaire=bigfive&scale=EXT&a_population=bench826&b_population=bench826_maxN",
        ),
        ("failures page", "/failures"),
        ("persona search", "/personas?q=teacher"),
    ]


def time_pages(url: str) -> None:
    from starlette.testclient import TestClient

    from personality_assets.db.engine import DatabaseTarget
    from personality_assets.explorer.app import create_app

    client = TestClient(create_app(DatabaseTarget(url)))
    with create_engine(url).connect() as connection:
        targets = pages(connection)
    print("\n| page | median | slowest |")
    print("|---|---|---|")
    for what, path in targets:
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - start)
            if response.status_code != 200:
                sys.exit(f"{path}: HTTP {response.status_code}\n{response.text[:2000]}")
        print(f"| {what} (`{path}`) | {statistics.median(times) * 1000:,.0f} ms | {max(times) * 1000:,.0f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=826)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG))
    args = parser.parse_args()
    os.environ["PERSONALITY_ASSETS_DATABASE_URL"] = args.pg_url
    os.environ.setdefault("PERSONALITY_ASSETS_DATA_DIR", str(ROOT / "benchmarks" / "out" / "explorer"))
    parsed = make_url(args.pg_url)
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": parsed.database}
        ).first()
    if args.rebuild or not exists:
        from reports import build

        start = time.perf_counter()
        build(args.pg_url, args.people, conditions=False)
        print(f"study built in {time.perf_counter() - start:.0f} s")
    if not args.build_only:
        time_pages(args.pg_url)


if __name__ == "__main__":
    main()
