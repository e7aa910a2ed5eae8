"""Benchmark: the persona study's answering step through the OpenAI Batch API against online calls.

    .venv/bin/python benchmarks/batch_mode.py                    # 20,000 experiments
    .venv/bin/python benchmarks/batch_mode.py --people 400       # 2,000, quicker

Sets up N reference people x 5 personas (written by the simulator) with the Big Five registered,
on PostgreSQL, then answers every experiment twice, each time in a fresh process and from the
same pending state: online (the real `openai` SDK, 32 at a time) and in batch mode (one JSONL
upload, one batch, polled, output file read), both against the test suite's fake OpenAI server in
its own process (50 ms latency online; a batch completes 1 s after it is created). Reports wall
time, the client's CPU time, the time waiting for the batch, answers written and the writer's time
in the database, peak memory, and the cost of each at gpt-4o's list prices (batch: half).
PostgreSQL: $BENCH_POSTGRES_URL (default the local server, database personality_assets_bench_batch).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("PERSONALITY_ASSETS_DATA_DIR", tempfile.mkdtemp())

from persona_study import Log, fresh_target  # the same fresh database as the persona study benchmark
from sqlalchemy import text

from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.defs.persona_study.answering import answer_questionnaires
from personality_assets.defs.persona_study.personas import generate_personas
from personality_assets.defs.persona_study.registration import RegistrationConfig, register_experiments
from personality_assets.llm.config import ModelConfig, ModelsConfig
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.providers import Providers
from personality_assets.llm.providers.openai import OpenAIProvider
from personality_assets.llm.providers.simulated import SimulatedProvider
from personality_assets.populations.load import LoadOptions, load_population
from personality_assets.populations.sample import sample_answers
from personality_assets.questionnaires import all_questionnaires

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/personality_assets_bench_batch"
MODEL = "bench"
PRICES = {
    "price_input_per_million": 2.5,
    "price_output_per_million": 10.0,
    "price_batch_input_per_million": 1.25,
    "price_batch_output_per_million": 5.0,
}


def models(provider: str, mode: str = "online") -> ModelsConfig:
    model = ModelConfig(
        key=MODEL,
        provider=provider,
        model_id="gpt-bench" if provider == "openai" else "simulated-bench",
        cache=provider == "simulated",
        max_concurrency=32,
        mode=mode,
        batch_poll_seconds=0.5,
        batch_wait_seconds=600,
        **PRICES,
    )
    return ModelsConfig(default_model=MODEL, models={MODEL: model})


def setup(url: str, people: int) -> None:
    target = fresh_target(url)
    frame = sample_answers(list(all_questionnaires().values()), size=people, seed=20)
    path = Path(tempfile.mkdtemp()) / "bench.csv"
    frame.write_csv(path)
    load_population(target, "bench", LoadOptions(path=str(path)), log=lambda m: None)
    engine = CallEngine(models("simulated"), Providers(simulated=SimulatedProvider()), target=target, log=Log())
    generate_personas(engine, target, MODEL, "bench", personas_per_person=5)
    register_experiments(target, models("simulated"), MODEL, "bench", RegistrationConfig(["bigfive"]))


def reset(target: DatabaseTarget) -> None:
    """Every experiment pending again, as before the first answering run."""
    schema = target.experiment_schema
    with experiment_transaction(target) as connection:
        for table in ("eval_questionnaires", "experiment_request_metadata", "llm_batch_requests", "llm_batches"):
            connection.execute(text(f"DELETE FROM {schema}.{table}"))
        connection.execute(text(f"DELETE FROM {schema}.llm_calls WHERE provider = 'openai'"))
        connection.execute(text(f"UPDATE {schema}.experiments_list SET succeeded = NULL, llm_explanation = NULL"))


def answer(url: str, mode: str, base_url: str) -> None:
    """In a child process: one answering run; prints its figures as JSON."""
    target = DatabaseTarget(url)
    provider = OpenAIProvider(api_key="sk-bench", base_url=base_url)
    engine = CallEngine(models("openai", mode), Providers(openai=provider), target=target, log=Log())
    wall, cpu = time.perf_counter(), time.process_time()
    summary = answer_questionnaires(engine, target, MODEL, "bench")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with experiment_transaction(target) as connection:
        answers = connection.execute(
            text(f"SELECT count(*) FROM {target.experiment_schema}.eval_questionnaires")
        ).scalar()
    high_water = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    figures = {
        "experiments": summary.calls,
        "ok": summary.ok,
        "batched": summary.batched,
        "answers": answers,
        "wall_s": wall,
        "cpu_s": cpu,
        "writer_s": summary.storage_s,
        "cost_usd": summary.cost_usd,
        "peak_mb": int(high_water.split()[1]) / 1024,
    }
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=4000, help="reference people (x 5 personas = experiments)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        answer(args.pg_url, *args.child)
        return
    started = time.perf_counter()
    setup(args.pg_url, args.people)
    print(f"set up {args.people * 5:,} experiments in {time.perf_counter() - started:.0f} s")
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "serve_fake_openai.py"),
            "--latency",
            "0.05",
            "--batch-seconds",
            "1",
            "--study-replies",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    base_url = server.stdout.readline().strip()
    results = {}
    try:
        for mode in ("online", "batch"):
            reset(DatabaseTarget(args.pg_url))
            command = [sys.executable, __file__, "--pg-url", args.pg_url, "--child", mode, base_url]
            completed = subprocess.run(command, capture_output=True, text=True)
            if completed.returncode:
                sys.exit(completed.stderr[-3000:])
            results[mode] = json.loads(completed.stdout.splitlines()[-1])
    finally:
        server.stdin.close()
        server.wait()
    print("| mode | experiments | answers written | wall | client CPU | writer in the database | peak memory | cost |")
    print("|---|---|---|---|---|---|---|---|")
    for mode, r in results.items():
        print(
            f"| {mode} | {r['experiments']:,} ({r['batched']:,} from the batch) | {r['answers']:,} | {r['wall_s']:.1f} s "
            f"| {r['cpu_s']:.1f} s | {r['writer_s']:.1f} s | {r['peak_mb']:.0f} MB | ${r['cost_usd']:.2f} |"
        )
    online, batch = results["online"], results["batch"]
    print(
        f"\nbatch vs online: client CPU {batch['cpu_s'] / online['cpu_s']:.2f}x, cost {batch['cost_usd'] / online['cost_usd']:.2f}x"
    )


if __name__ == "__main__":
    main()
