"""Benchmark: the essay track end to end on the simulator, on PostgreSQL, with a large persona repository.

    .venv/bin/python benchmarks/essays.py                          # 10 topics x the full grid, 10,000 personas
    .venv/bin/python benchmarks/essays.py --topics 2 --personas 1000   # quicker

Stores N student personas (the repository), then materialises research_seeds -> essay_personas ->
essays for each topic with Dagster (in process, an ephemeral instance), the default plan being the
whole 5 x 4 x 4 x 4 grid (320 essays a topic). Reports essays per second end to end, the persona
selection time per essay (the repository's compatibility query, as essay_personas runs it), the
same query's plan on PostgreSQL (index use), and the peak memory of the process that ran the
topics. Uses fresh schemas on $PERSONALITY_ASSETS_BENCH_POSTGRES_URL (default: the local server)
and drops them afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text

from personality_assets.db import migrate
from personality_assets.db.engine import DatabaseTarget, experiment_transaction, reference_transaction

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/personality_assets_bench"
TOPICS = [
    "Should social media be banned for teenagers?",
    "Should college tuition be free for every student?",
    "Should homework be banned in primary schools?",
    "Should teenagers be allowed to vote in national elections?",
    "Should cities ban cars from their centres?",
    "Should schools replace textbooks with tablets?",
    "Should zoos be closed for the sake of animal welfare?",
    "Should college athletes be paid?",
    "Should social media companies pay for the news they show?",
    "Should public transport be free in cities?",
]
INTERESTS = (
    "social justice, technology ethics, climate policy, music production, public health, basketball, "
    "community organising, video games, economics, history, chemistry, creative writing, immigration law, "
    "urban gardening, psychology, film studies, animal welfare, public transport, college sports, news media, "
    "teenager mental health, voting rights, city planning, digital learning, student debt, car culture"
).split(", ")
BACKGROUNDS = (
    "first-generation college student",
    "STEM major taking a humanities course",
    "international student",
    "returning adult student",
    "student athlete",
    "honours student in political science",
    "community college transfer student",
    "art and design major",
)


def target_for(url: str) -> DatabaseTarget:
    suffix = uuid.uuid4().hex[:8]
    return DatabaseTarget(url, reference_schema=f"bench_ref_{suffix}", experiment_schema=f"bench_exp_{suffix}")


def store_personas(target: DatabaseTarget, count: int) -> float:
    from personality_assets.defs.essays.repository import NewPersona, add_persona

    rng = random.Random(11)
    started = time.perf_counter()
    with experiment_transaction(target) as connection:
        for i in range(count):
            persona = NewPersona(
                f"Student {i}",
                rng.choice(BACKGROUNDS),
                ["clear structure", "vivid examples"],
                ["weak transitions"],
                rng.sample(INTERESTS, rng.randint(2, 4)),
            )
            add_persona(connection, persona, "simulated", f"bench-{i}", True)
    return time.perf_counter() - started


def selection_query(target: DatabaseTarget, topic: str, repeats: int = 30) -> dict:
    """The compatibility query essay_personas runs, alone: its median time and PostgreSQL's plan."""
    from sqlalchemy.dialects import postgresql

    from personality_assets.defs.essays.repository import compatible_personas, compatible_personas_query, keywords

    words = keywords(topic)
    times = []
    with experiment_transaction(target) as connection:
        for _ in range(repeats):
            started = time.perf_counter()
            found = compatible_personas(connection, words, None, 0.3, 10, limit=320)
            times.append(time.perf_counter() - started)
    # The same statement, explained: which indexes PostgreSQL uses to find the candidates.
    plan = []
    if target.dialect == "postgresql":
        query = compatible_personas_query(words, None, 0.3, 10, limit=320)
        compiled = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        # The models name the schema symbolically; EXPLAIN takes plain SQL, so name the real one.
        compiled = re.sub(r"\bexperiment\.", f'"{target.experiment_schema}".', compiled)
        with experiment_transaction(target) as connection:
            plan = [row[0] for row in connection.execute(text(f"EXPLAIN {compiled}"))]
    indexes = sorted({part for line in plan for part in line.split() if part.startswith(("ix_", "uq_", "pk_"))})
    return {"median_s": statistics.median(times), "candidates": len(found), "indexes": indexes}


def run_topics(url: str, reference_schema: str, experiment_schema: str, topics: int, essays: int | None) -> None:
    """In a child process: the track for each topic; prints figures and the process's peak memory."""
    import dagster as dg

    from personality_assets.defs.essays.assets import essay_dimensions, essay_personas, research_seeds
    from personality_assets.defs.essays.assets import essays as essays_asset
    from personality_assets.defs.resources import LLMEngineResource, ResearchDatabase

    resources = {
        "research_db": (
            research_db := ResearchDatabase(
                url=url, reference_schema=reference_schema, experiment_schema=experiment_schema
            )
        ),
        "llm": LLMEngineResource(research_db=research_db, progress_every_s=60),
    }
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([essay_dimensions], resources=resources, instance=instance).success
    instance.add_dynamic_partitions("essay_topic", TOPICS[:topics])
    config = {"ops": {"essay_personas": {"config": {"essays": essays}}}} if essays else {}
    written = selection = 0.0
    reused = new = 0
    started = time.perf_counter()
    for topic in TOPICS[:topics]:
        result = dg.materialize(
            [research_seeds, essay_personas, essays_asset],
            partition_key=topic,
            resources=resources,
            instance=instance,
            run_config=config,
        )
        metadata = {
            m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()}
            for m in result.get_asset_materialization_events()
            for m in [m.event_specific_data.materialization]
        }
        written += metadata["essays"]["written"]
        selection += metadata["essay_personas"]["selection_seconds"]
        reused += metadata["essay_personas"]["reused_personas"]
        new += metadata["essay_personas"]["new_personas"]
        failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
        assert not failed, f"{topic}: checks failed: {failed}"
    wall = time.perf_counter() - started
    high_water = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    print(
        json.dumps(
            {
                "essays": int(written),
                "wall_s": wall,
                "selection_s": selection,
                "reused": reused,
                "new": new,
                "peak_mb": int(high_water.split()[1]) / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topics", type=int, default=10, choices=range(1, len(TOPICS) + 1))
    parser.add_argument("--personas", type=int, default=10_000, help="personas stored before the topics run")
    parser.add_argument("--essays", type=int, help="essays per topic (default: the whole grid, 320)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = os.environ.get("PERSONALITY_ASSETS_BENCH_POSTGRES_URL", DEFAULT_URL)
    if args.child:
        run_topics(*args.child, args.topics, args.essays)
        return

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    if url.startswith("postgresql"):  # the benchmark database itself, once
        server = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            name = make_url(url).database
            if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        server.dispose()
    target = target_for(url)
    try:
        migrate.upgrade(target)
        stored_s = store_personas(target, args.personas)
        print(f"stored {args.personas:,} personas in {stored_s:.1f} s")
        alone = selection_query(target, TOPICS[0])
        print(
            f"compatibility query alone, {args.personas:,} personas: median {alone['median_s'] * 1000:.1f} ms "
            f"for up to 320 candidates ({alone['candidates']} found); indexes in PostgreSQL's plan: {alone['indexes']}"
        )
        env = {**os.environ, "PERSONALITY_ASSETS_DATA_DIR": str(Path("/tmp") / f"essays_bench_{uuid.uuid4().hex[:6]}")}
        child = [sys.executable, __file__, "--topics", str(args.topics), "--child", url, target.reference_schema]
        child += [target.experiment_schema] + (["--essays", str(args.essays)] if args.essays else [])
        completed = subprocess.run(child, capture_output=True, text=True, env=env)
        if completed.returncode:
            sys.exit(completed.stderr[-3000:])
        figures = json.loads(completed.stdout.splitlines()[-1])
        essays = figures["essays"]
        print(
            f"{args.topics} topics, {essays:,} essays end to end in {figures['wall_s']:.1f} s: "
            f"{essays / figures['wall_s']:.0f} essays/s; persona selection {figures['selection_s'] * 1000:.0f} ms in all, "
            f"{figures['selection_s'] / essays * 1e6:.0f} us per essay; personas reused {figures['reused']:,}, "
            f"new {figures['new']:,}; peak memory {figures['peak_mb']:.0f} MB"
        )
    finally:
        with reference_transaction(target) as connection:
            if target.dialect == "postgresql":
                for schema in target.schema_map.values():
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
