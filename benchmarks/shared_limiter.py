"""Benchmark: four populations of one model under one provider limit, one run after another (the
one-run-per-model limit without the shared limiter), in parallel with the shared limiter, and on
1 and 2 Celery workers.

    .venv/bin/python benchmarks/shared_limiter.py                  # about 17 minutes
    .venv/bin/python benchmarks/shared_limiter.py --configs parallel --max-concurrency 16

The provider is the test suite's fake OpenAI server in its own process, enforcing its own limit
(--limit-rpm, default 3,000 a minute, refilled evenly as OpenAI's, on its own clock; 429 with
Retry-After past it) with 200 ms latency and answering as the persona study's model would. Each
configuration starts from nothing (a fresh instance database and research schemas on
PostgreSQL), loads four synthetic populations of --people people (default 1,125: 9,000 requests
in all, three minutes at the limit), then runs the whole persona study (personas, registrations,
answers, scores) for gpt4o on each, configured at the provider's limit (rpm 3,000) with
--max-concurrency calls in flight per process (default 8, as in models.yaml).

Reports wall time, requests the server accepted, the share of the limit used (requests per minute
over the time the run held the budget, from its first request until its last one left the 60 s
window, as a share of the limit: a client sending exactly the limit every minute scores 100%),
the busiest 60 s window on the server's clock, and 429s.
Needs PostgreSQL, Redis (6379) and RabbitMQ (5672), as the test suite does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from personality_assets.populations.sample import sample_answers
from personality_assets.questionnaires import all_questionnaires

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/personality_assets_bench_limiter"
POPULATIONS = ["bench1", "bench2", "bench3", "bench4"]
IN_PROCESS = ["--config-json", '{"execution":{"config":{"in_process":{}}}}']
REDIS_URL = "redis://127.0.0.1:6379/2"


def busiest_window(times: list[float], window: float = 60.0) -> int:
    times, start, busiest = sorted(times), 0, 0
    for end, arrived in enumerate(times):
        while times[start] <= arrived - window:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


def new_database(url: str, name: str) -> None:
    server = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()


def environment(pg_url: str, home: Path, base_url: str, args, shared: bool) -> dict:
    url, suffix = make_url(pg_url), uuid.uuid4().hex[:8]
    instance_db = f"{url.database}_instance_{suffix}"
    new_database(pg_url, instance_db)
    home.mkdir(parents=True)
    shutil.copy(ROOT / "dagster.scale.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONALITY_ASSETS_", "DAGSTER_"))}
    env |= {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USER": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_PG_DB": instance_db,
        "PERSONALITY_ASSETS_DATA_DIR": str(home / "data"),
        "PERSONALITY_ASSETS_DATABASE_URL": pg_url,
        "PERSONALITY_ASSETS_REFERENCE_SCHEMA": f"ref_{suffix}",
        "PERSONALITY_ASSETS_EXPERIMENT_SCHEMA": f"exp_{suffix}",
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": base_url,
        "PERSONALITY_ASSETS_MODEL_GPT4O_RPM": str(args.limit_rpm),
        "PERSONALITY_ASSETS_MODEL_GPT4O_MAX_CONCURRENCY": str(args.max_concurrency),
        "PERSONALITY_ASSETS_MODEL_GPT4O_TPM": "1000000000",
    }
    if shared:
        env["PERSONALITY_ASSETS_REDIS_URL"] = REDIS_URL
    return env


def run(command: list[str], env: dict) -> None:
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if completed.returncode:
        sys.exit(f"{command} failed:\n{completed.stderr[-3000:]}")


def launch_all(commands: list[list[str]], env: dict, at_once: bool) -> None:
    if not at_once:
        for command in commands:
            run(command, env)
        return
    processes = [
        subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    errors = [process.communicate()[1] for process in processes]
    if any(process.returncode for process in processes):
        sys.exit("\n".join(e[-2000:] for e in errors))


def measure(config: str, args) -> dict:
    home = Path(tempfile.mkdtemp()) / "home"
    log = home.parent / "server.json"
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "serve_fake_openai.py"), "--latency", str(args.latency)]
        + ["--study-replies", "--limit-rpm", str(args.limit_rpm), "--log", str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    base_url = server.stdout.readline().strip()
    env = environment(args.pg_url, home, base_url, args, shared=config != "sequential")
    launch = [str(BIN / "dg"), "launch", "-m", "personality_assets.definitions"]
    incoming = home / "data" / "populations" / "incoming"
    incoming.mkdir(parents=True)
    for seed, population in enumerate(POPULATIONS):
        sample_answers(list(all_questionnaires().values()), size=args.people, seed=seed).write_csv(
            incoming / f"{population}.csv"
        )
    run([sys.executable, "-m", "personality_assets.cli", "populations", "add", *POPULATIONS], env)
    run([sys.executable, "-m", "personality_assets.cli", "models", "add", "gpt4o"], env)
    run([*launch, "--assets", "questionnaires", *IN_PROCESS], env)
    for population in POPULATIONS:
        run([*launch, "--job", "load_population", "--partition", population, *IN_PROCESS], env)
    subprocess.run(["redis-cli", "-n", "2", "flushdb"], check=True, capture_output=True)

    workers = []
    if config.startswith("celery"):
        for i in range(int(config[len("celery") :])):
            command = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", "celery.yaml"]
            command += ["-n", f"bench{i}-{uuid.uuid4().hex[:6]}", "--", "--concurrency", "1"]
            workers.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        time.sleep(8)  # the workers connect to the broker
        study = [
            ["--job", "persona_study_celery", "--partition", f"gpt4o|{p}", "--config", "celery.yaml"]
            for p in POPULATIONS
        ]
    else:
        study = [["--job", "persona_study", "--partition", f"gpt4o|{p}", *IN_PROCESS] for p in POPULATIONS]
    started = time.perf_counter()
    try:
        launch_all([[*launch, *arguments] for arguments in study], env, at_once=config != "sequential")
    finally:
        wall = time.perf_counter() - started
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait()
        server.stdin.close()
        server.wait()
    served = json.loads(log.read_text())
    times = [r["time"] for r in served["requests"]]
    # The run holds the budget from its first request until its last one leaves the window.
    held_minutes = (max(times) - min(times) + 60) / 60
    return {
        "config": config,
        "wall_s": wall,
        "requests": len(times),
        "rate_share": len(times) / held_minutes / args.limit_rpm,
        "busiest_60s": busiest_window(times),
        "rate_limited": served["rate_limited"],
    }


LABELS = {
    "sequential": "one after another (no shared limiter)",
    "parallel": "4 at once, shared limiter",
    "celery1": "Celery, 1 worker, shared limiter",
    "celery2": "Celery, 2 workers, shared limiter",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--limit-rpm", type=int, default=3000)
    parser.add_argument("--people", type=int, default=1125, help="people per population (2 requests each)")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--max-concurrency", type=int, default=8, help="calls in flight per process")
    parser.add_argument("--configs", default="sequential,parallel,celery1,celery2")
    args = parser.parse_args()
    url = make_url(args.pg_url)
    try:
        new_database(args.pg_url, url.database)
    except Exception:
        pass  # it exists
    rows = [measure(config, args) for config in args.configs.split(",")]
    print(f"| runs | wall | requests | share of the limit ({args.limit_rpm:,} rpm) used | busiest 60 s | 429s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        share_429 = r["rate_limited"] / (r["requests"] + r["rate_limited"])
        print(
            f"| {LABELS[r['config']]} | {r['wall_s']:.0f} s | {r['requests']:,} | {r['rate_share']:.0%} "
            f"| {r['busiest_60s']:,} | {r['rate_limited']:,} ({share_429:.1%}) |"
        )


if __name__ == "__main__":
    main()
