"""Benchmark: the persona study at the original study's scale, on PostgreSQL, with the simulator.

    .venv/bin/python benchmarks/persona_study.py                  # 826 people x 5 models x 5 personas
    .venv/bin/python benchmarks/persona_study.py --personas-per-person 1   # quicker

826 synthetic reference people (the size of the original spain826), 5 simulated models, N personas
per person: persona generation, registration, answering (50 Big Five items each) and scoring,
through the same pipeline functions the assets call. Reports registrations/s, answers written/s
and the time the writer spent in the database, against a bare bulk insert of the same answer
rows into the same table in the same run (executemany, and COPY); scoring time; peak memory.
PostgreSQL: $BENCH_POSTGRES_URL (default the local server, database personality_assets_bench_study).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PERSONALITY_ASSETS_DATA_DIR", tempfile.mkdtemp())

from personality_assets.db import migrate
from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.db.tables.persona_study import EvalQuestionnaire
from personality_assets.defs.persona_study.answering import answer_questionnaires, partition_answers
from personality_assets.defs.persona_study.personas import generate_personas
from personality_assets.defs.persona_study.reference import reference_answers
from personality_assets.defs.persona_study.registration import RegistrationConfig, register_experiments
from personality_assets.defs.persona_study.scoring import score_partition, store_scores
from personality_assets.llm.config import ModelConfig, ModelsConfig
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.providers import Providers
from personality_assets.llm.providers.simulated import SimulatedProvider
from personality_assets.populations.load import LoadOptions, load_population
from personality_assets.populations.sample import sample_answers
from personality_assets.questionnaires import all_questionnaires, get_questionnaire, score
from personality_assets.questionnaires.store import store_questionnaires

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/personality_assets_bench_study"
MODELS = [f"sim{i}" for i in range(1, 6)]


class Log:
    def info(self, message: str) -> None:
        pass


def fresh_target(url: str) -> DatabaseTarget:
    parsed = make_url(url)
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    target = DatabaseTarget(url)
    migrate.upgrade(target)
    store_questionnaires(target, list(all_questionnaires().values()))
    return target


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=826)
    parser.add_argument("--personas-per-person", type=int, default=5)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG))
    args = parser.parse_args()
    target = fresh_target(args.pg_url)
    rows = []

    people = sample_answers(list(all_questionnaires().values()), size=args.people, seed=826)
    population_file = Path(tempfile.mkdtemp()) / "bench826.csv"
    people.write_csv(population_file)
    load_population(target, "bench826", LoadOptions(path=str(population_file)), log=lambda m: None)

    models = ModelsConfig(
        default_model=MODELS[0],
        models={
            key: ModelConfig(key=key, provider="simulated", model_id=f"simulated-{key}", cache=True, max_concurrency=32)
            for key in MODELS
        },
    )
    engine = CallEngine(models, Providers(simulated=SimulatedProvider()), target=target, log=Log())

    start = time.perf_counter()
    made = 0
    for model in MODELS:
        made += generate_personas(engine, target, model, "bench826", personas_per_person=args.personas_per_person).new
    wall = time.perf_counter() - start
    rows.append(("personas (simulated model calls + writes)", made, wall, "personas"))

    start = time.perf_counter()
    registered = 0
    for model in MODELS:
        counts = register_experiments(target, models, model, "bench826", RegistrationConfig(["bigfive"]))
        registered += int(counts["new"].sum())
    wall = time.perf_counter() - start
    rows.append(("registrations", registered, wall, "experiments"))

    start = time.perf_counter()
    storage = 0.0
    for model in MODELS:
        summary = answer_questionnaires(engine, target, model, "bench826")
        storage += summary.storage_s
    answering_wall = time.perf_counter() - start
    with experiment_transaction(target) as connection:
        answers = connection.execute(
            text(f"SELECT count(*) FROM {target.experiment_schema}.eval_questionnaires")
        ).scalar_one()
    rows.append(("answering (calls + all writes)", answers, answering_wall, "answers"))
    rows.append(("  of which writer time in the database", answers, storage, "answers"))

    # The same answer rows, bare, into the same table: executemany, then COPY.
    table = target.qualified(EvalQuestionnaire.__table__)
    with experiment_transaction(target) as connection:
        frame = pl.read_database(
            text(f"SELECT experiment_id, questionnaire, question_number, answer FROM {table}"), connection
        )
    records = frame.to_dicts()
    bare = {}
    for method in ("executemany", "COPY"):
        with experiment_transaction(target) as connection:
            connection.execute(text(f"DELETE FROM {table}"))
        start = time.perf_counter()
        with experiment_transaction(target) as connection:
            if method == "executemany":
                connection.execute(insert(EvalQuestionnaire), records)
            else:
                cursor = connection.connection.driver_connection.cursor()
                with cursor.copy(
                    f"COPY {table} (experiment_id, questionnaire, question_number, answer) FROM STDIN"
                ) as copy:
                    copy.write(frame.write_csv(separator="\t", include_header=False))
        bare[method] = time.perf_counter() - start
        rows.append((f"bare bulk insert of the same answers ({method})", len(records), bare[method], "answers"))

    start = time.perf_counter()
    scored = 0
    for model in MODELS:
        scores = score_partition(partition_answers(target, model, "bench826"), reference_answers(target, "bench826"))
        store_scores(target, model, "bench826", scores)
        scored += scores.height
    rows.append(("scoring all partitions (read, score, store)", scored, time.perf_counter() - start, "scale scores"))

    long = frame.rename({"experiment_id": "personality_id"})
    million = pl.concat([long] * max(1, -(-1_000_000 // max(long.height, 1))))[:1_000_000]
    start = time.perf_counter()
    result = score(million, get_questionnaire("bigfive"), by=["personality_id"])
    rows.append(("score() on 1,000,000 answers in memory", 1_000_000, time.perf_counter() - start, "answers"))
    del result

    print(
        f"{args.people} people x {len(MODELS)} models x {args.personas_per_person} personas; peak memory "
        f"{peak_mb():,.0f} MB\n"
    )
    print("| step | rows | wall | rows/s |")
    print("|---|---|---|---|")
    for name, count, wall, unit in rows:
        print(f"| {name} | {count:,} {unit} | {wall:.2f} s | {count / wall:,.0f} |")
    print(
        f"\nwriter time vs bare executemany: {storage / bare['executemany']:.2f}x; vs COPY: {storage / bare['COPY']:.2f}x"
    )


if __name__ == "__main__":
    main()
