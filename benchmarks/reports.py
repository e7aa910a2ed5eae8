"""Benchmark: every report asset over a study of the original's shape, on PostgreSQL.

    .venv/bin/python benchmarks/reports.py               # builds the study once (about 8 minutes), then times
    .venv/bin/python benchmarks/reports.py --rebuild     # the same, building the study again
    .venv/bin/python benchmarks/reports.py --conditions  # the study under 3 item orders x 2 option orders

The study: 826 synthetic reference people, their MaxN, MaxP and random-baseline populations
(4 conditions), 5 simulated models, one persona per person and model, 3 repetitions of each of
2 questionnaires (EPQR-A, 24 items; IPIP Big Five, 50 items): 16,520 personas, 99,120
experiments, 3,667,440 answers, built through the same pipeline functions the assets call. With
--conditions, each persona answers each questionnaire once under each of 6 presentations (the
items as defined and in 2 seeded shuffles, the answer scale ascending and reversed): 198,240
experiments, 7,334,880 answers. Each report asset is then materialised with Dagster in a fresh
process (1,000 bootstrap resamples for alpha), which reports its wall time and peak resident memory.
PostgreSQL: $BENCH_POSTGRES_URL (default the local server, database personality_assets_bench_reports,
or personality_assets_bench_conditions with --conditions).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/personality_assets_bench_reports"
CONDITIONS_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/personality_assets_bench_conditions"
MODELS = [f"sim{i}" for i in range(1, 6)]
BASE = "bench826"
CONDITIONS = [BASE, f"{BASE}_maxN", f"{BASE}_maxP", f"{BASE}_random"]
REPORTS = [
    "scale_score_report",
    "reliability_report",
    "validity_report",
    "agreement_report",
    "distribution_report",
    "demographics_report",
    "robustness_report",
    "response_style_report",
    "study_report",
]


def build(url: str, people: int, conditions: bool) -> None:
    from personality_assets.db import migrate
    from personality_assets.db.engine import DatabaseTarget
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
    from personality_assets.questionnaires import all_questionnaires
    from personality_assets.questionnaires.store import store_questionnaires

    class Log:
        def info(self, message: str) -> None:
            pass

    parsed = make_url(url)
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    target = DatabaseTarget(url)
    migrate.upgrade(target)
    store_questionnaires(target, list(all_questionnaires().values()))
    population_file = Path(tempfile.mkdtemp()) / f"{BASE}.csv"
    sample_answers(list(all_questionnaires().values()), size=people, seed=826).write_csv(population_file)
    load_population(target, BASE, LoadOptions(path=str(population_file)), log=lambda m: None)
    for condition in CONDITIONS[1:]:
        load_population(target, condition, log=lambda m: None)
    models = ModelsConfig(
        default_model=MODELS[0],
        models={
            key: ModelConfig(key=key, provider="simulated", model_id=f"simulated-{key}", cache=True, max_concurrency=32)
            for key in MODELS
        },
    )
    engine = CallEngine(models, Providers(simulated=SimulatedProvider()), target=target, log=Log())
    questionnaires = ["epqr_a", "bigfive"]
    registration = (
        RegistrationConfig(questionnaires, item_order="shuffled", orders=2, option_orders=["ascending", "descending"])
        if conditions
        else RegistrationConfig(questionnaires, repetitions=3)
    )
    for model in MODELS:
        for condition in CONDITIONS:
            start = time.perf_counter()
            generate_personas(engine, target, model, condition)
            register_experiments(target, models, model, condition, registration)
            answer_questionnaires(engine, target, model, condition)
            scores = score_partition(partition_answers(target, model, condition), reference_answers(target, condition))
            store_scores(target, model, condition, scores)
            print(f"  built {model} x {condition} in {time.perf_counter() - start:.0f} s", flush=True)
    with create_engine(url).connect() as connection:
        counts = {
            table: connection.execute(text(f"SELECT count(*) FROM experiments.{table}")).scalar_one()
            for table in ("personas", "experiments_list", "eval_questionnaires", "questionnaire_scores")
        }
    print("study:", json.dumps(counts))


def materialise(name: str) -> None:
    """In a fresh process: materialise one report asset, print wall time and peak memory as JSON."""
    import dagster as dg

    from personality_assets.defs.persona_study.reports import assets as reports
    from personality_assets.defs.resources import ResearchDatabase

    instance = dg.DagsterInstance.ephemeral()
    upstream = [getattr(reports, other) for other in REPORTS if other != name]
    start = time.perf_counter()
    result = dg.materialize(
        [getattr(reports, name), *upstream],
        selection=[name],
        resources={"research_db": ResearchDatabase()},
        instance=instance,
        raise_on_error=True,
    )
    wall = time.perf_counter() - start
    assert result.success
    # VmHWM: this process image's own peak (ru_maxrss would carry the forking parent's over exec).
    high_water = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    peak = int(high_water.split()[1]) / 1024
    print(json.dumps({"asset": name, "wall_s": wall, "peak_mb": peak}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=826)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--conditions", action="store_true", help="3 item orders x 2 option orders, 1 repetition")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--asset", help=argparse.SUPPRESS)  # the per-asset subprocess
    args = parser.parse_args()
    args.pg_url = args.pg_url or (CONDITIONS_PG if args.conditions else DEFAULT_PG)
    os.environ["PERSONALITY_ASSETS_DATABASE_URL"] = args.pg_url
    os.environ.setdefault("PERSONALITY_ASSETS_DATA_DIR", str(ROOT / "benchmarks" / "out" / "reports"))
    if args.asset:
        materialise(args.asset)
        return
    parsed = make_url(args.pg_url)
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": parsed.database}
        ).first()
    if args.rebuild or not exists:
        start = time.perf_counter()
        build(args.pg_url, args.people, args.conditions)
        print(f"study built in {time.perf_counter() - start:.0f} s")
    rows = []
    for name in REPORTS:
        completed = subprocess.run(
            [sys.executable, __file__, "--asset", name, "--pg-url", args.pg_url],
            capture_output=True,
            text=True,
            env=os.environ,
        )
        if completed.returncode:
            sys.exit(f"{name} failed:\n{completed.stderr[-3000:]}")
        rows.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    print("\n| report asset | wall | peak memory |")
    print("|---|---|---|")
    for row in rows:
        print(f"| `{row['asset']}` | {row['wall_s']:.1f} s | {row['peak_mb']:,.0f} MB |")
    total = sum(row["wall_s"] for row in rows)
    print(f"| all {len(rows)} | {total:.1f} s | {max(row['peak_mb'] for row in rows):,.0f} MB (largest) |")


if __name__ == "__main__":
    main()
