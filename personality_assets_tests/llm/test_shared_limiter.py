"""The shared rate limiter (PERSONALITY_ASSETS_REDIS_URL): one budget for every process using an
account, kept in a real Redis (a private redis-server per test), checked on the local server's
own clock."""

import asyncio
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import redis
from sqlalchemy import func, select

from personality_assets.db.engine import experiment_transaction
from personality_assets.llm.ratelimit import RedisLimiter, SharedLimiterUnavailable
from personality_assets_tests.support.engine import (
    busiest_window,
    chat_requests,
    engine_with_fakes,
    models_config,
    stored_calls,
)
from personality_assets_tests.support.helpers import ROOT, run_at_once


def _worker(server, redis_url, count, prefix, rpm, window, *more) -> subprocess.Popen:
    command = [sys.executable, "-m", "personality_assets_tests.support.limiter_worker", server.base_url, redis_url]
    command += [str(count), prefix, str(rpm), str(window), *map(str, more)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_share_one_budget(openai_server, redis_server):
    openai_server.configure(latency=0.02)
    rpm, window = 10, 1.0
    workers = [_worker(openai_server, redis_server.url, 25, name, rpm, window) for name in ("first", "second")]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["25", "25"]
    arrivals = [r["time"] for r in openai_server.requests]
    assert len(arrivals) == 50
    # Alone, each process would send 10 a second; together they stay at 10.
    assert busiest_window(arrivals, window) <= rpm
    assert max(arrivals) - min(arrivals) >= (50 / rpm - 1) * window


def test_two_keys_of_one_account_in_two_processes_keep_the_stricter_limit(openai_server, redis_server):
    """Two model keys on one account (same endpoint and model id), rpm 600 and 300, each in its own
    process: no 60 s window on the server's clock sees more than 300 of their requests."""
    openai_server.configure(latency=0.3)  # slow enough that both processes are sending at once
    workers = [
        _worker(openai_server, redis_server.url, 300, name, rpm, 60) for name, rpm in (("loose", 600), ("strict", 300))
    ]
    try:
        senders, last_count, quiet_since = set(), -1, time.monotonic()
        deadline = time.monotonic() + 90
        while senders != {"loose", "strict"} or time.monotonic() - quiet_since < 3:
            assert time.monotonic() < deadline, [w.poll() for w in workers]
            time.sleep(0.1)
            requests = list(openai_server.requests)
            senders = {r["json"]["messages"][-1]["content"].split()[0] for r in requests}
            if len(requests) != last_count:
                last_count, quiet_since = len(requests), time.monotonic()
        # Both sent, then waited for the window to move on: the account's minute held 300.
        assert busiest_window([r["time"] for r in requests], 60) == len(requests) == 300
    finally:
        for worker in workers:
            worker.kill()
            worker.communicate()


def test_a_killed_process_s_slots_come_back_after_their_lease(openai_server, redis_server):
    """Two shared slots, both held by a process killed mid-call: the next process waits for the
    leases (the model's timeout + 6 s) to end, then finishes."""
    openai_server.configure(fault_rate=1.0, fault_kinds=["hang"], hang_seconds=30)
    holder = _worker(openai_server, redis_server.url, 2, "holder", 1000, 60, 2, 1)
    deadline = time.monotonic() + 30
    while openai_server.request_count < 2:
        assert time.monotonic() < deadline and holder.poll() is None
        time.sleep(0.02)
    holder.kill()
    holder.wait()
    killed_at = time.monotonic()
    openai_server.configure(fault_rate=0.0)
    follower = _worker(openai_server, redis_server.url, 3, "follower", 1000, 60, 2, 1)
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0 and out.strip() == "3", err
    first_follower_request = min(r["time"] for r in openai_server.requests[2:])
    assert first_follower_request - killed_at >= 1 + 6 - 1.5  # the lease, less the holder's head start


def test_redis_stopping_mid_run_fails_clearly_and_a_rerun_finishes(db_target, openai_server, redis_server):
    openai_server.configure(latency=0.05)
    models = models_config(cache=True, rpm=100000, max_concurrency=2)
    requests = chat_requests(60)

    def stop_redis_after(n):
        while openai_server.request_count < n:
            time.sleep(0.005)
        redis_server.stop()

    stopper = threading.Thread(target=stop_redis_after, args=(15,))
    stopper.start()
    with pytest.raises(SharedLimiterUnavailable, match="cannot be reached.*run again once Redis is back"):
        engine_with_fakes(db_target, models, openai_server.base_url, redis_url=redis_server.url).run(requests)
    stopper.join()
    stored = len(stored_calls(db_target))
    assert 15 <= stored < 60 and stored >= openai_server.request_count - 2  # at most the two in flight lost
    assert redis_server.url.split("@")[-1] not in str(stored_calls(db_target))
    redis_server.start()
    summary = engine_with_fakes(db_target, models, openai_server.base_url, redis_url=redis_server.url).run(requests)
    assert (summary.ok, summary.cached) == (60, stored)
    assert openai_server.request_count <= 60 + 2


def test_a_redis_restarted_empty_still_counts_the_calls_of_the_window(db_target, openai_server, redis_server):
    """Redis restarted without its data loses the window; the next run counts the calls the research
    database stored within it, so the server never sees two windows' worth at once."""
    openai_server.configure(latency=0.01)
    models, window = models_config(rpm=10, max_concurrency=4), 3.0
    first = engine_with_fakes(
        db_target, models, openai_server.base_url, redis_url=redis_server.url, rate_window_s=window
    )
    assert first.run(chat_requests(10)).ok == 10
    redis_server.stop()
    redis_server.start()
    second = engine_with_fakes(
        db_target, models, openai_server.base_url, redis_url=redis_server.url, rate_window_s=window
    )
    assert second.run(chat_requests(20)[10:]).ok == 10
    arrivals = [r["time"] for r in openai_server.requests]
    assert len(arrivals) == 20 and busiest_window(arrivals, window) <= 10


def test_a_release_keeps_the_other_reservations_until_their_leases_end(redis_server):
    """Releasing one call must not let the account's keys expire before the leases of the calls
    still in flight (a lease can outlast the window by far: the model's timeout + 6 s)."""
    limiter = RedisLimiter(("openai", "x", "m"), 100, None, 1.0, None, 300.0, redis_server.url)

    async def hold_two_release_one():
        first = await limiter.acquire(10)
        await limiter.acquire(10)
        await limiter.release(first, 10)
        await limiter.aclose()

    asyncio.run(hold_two_release_one())
    client = redis.Redis.from_url(redis_server.url)
    in_flight_key = limiter.keys[0]
    assert client.zcard(in_flight_key) == 1
    assert client.pttl(in_flight_key) > 300_000  # beyond the lease of the call still in flight


# --- two Dagster runs of one model at once ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
def test_two_materialize_processes_of_one_model_stay_under_its_limit_together(
    tmp_path, openai_server, redis_server, monkeypatch
):
    """The answering step for two populations of gpt4o as two `dagster asset materialize` processes
    at once (the research database on PostgreSQL), rpm 40 over a 2-second window: no window on the
    server's clock sees more, every experiment is answered once."""
    import dagster as dg

    from personality_assets.db import migrate
    from personality_assets.db.tables.persona_study import EvalQuestionnaire, ExperimentsList
    from personality_assets.defs.persona_study.assets import experiment_registrations, personas
    from personality_assets_tests.support.databases import unique_target
    from personality_assets_tests.support.helpers import POSTGRES_URL, require_postgres
    from personality_assets_tests.support.study import load_populations, study_reply, study_resources

    require_postgres()
    target = unique_target(POSTGRES_URL)
    migrate.upgrade(target)
    openai_server.configure(reply=study_reply, latency=0.02)
    # Personas and registrations in this process, unhurried.
    monkeypatch.setenv("PERSONALITY_ASSETS_MODEL_GPT4O_RPM", "100000")
    monkeypatch.setenv("PERSONALITY_ASSETS_MODEL_GPT4O_TPM", "100000000")
    resources = study_resources(target, monkeypatch, openai_url=openai_server.base_url)
    instance = dg.DagsterInstance.ephemeral()
    populations = ["sample", "sample_random"]
    load_populations(resources, instance, populations)
    instance.add_dynamic_partitions("model", ["gpt4o"])
    partitions = [dg.MultiPartitionKey({"model": "gpt4o", "population": p}) for p in populations]
    for partition in partitions:
        assert dg.materialize(
            [personas, experiment_registrations],
            partition_key=partition,
            resources=resources,
            instance=instance,
            run_config={"ops": {"personas": {"config": {"max_people": 100}}}},
        ).success
    with experiment_transaction(target) as connection:
        experiments = connection.execute(select(func.count()).select_from(ExperimentsList)).scalar_one()
    assert experiments == 200

    # The answers: two processes, one shared budget.
    rpm, window = 40, 2.0
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "PERSONALITY_ASSETS_"))},
        "DAGSTER_HOME": str(tmp_path / "home"),
        "PERSONALITY_ASSETS_DATA_DIR": str(tmp_path / "data"),
        "PERSONALITY_ASSETS_DATABASE_URL": target.url,
        "PERSONALITY_ASSETS_REFERENCE_SCHEMA": target.reference_schema,
        "PERSONALITY_ASSETS_EXPERIMENT_SCHEMA": target.experiment_schema,
        "PERSONALITY_ASSETS_REDIS_URL": redis_server.url,
        "OPENAI_API_KEY": "sk-test-parallel",
        "OPENAI_BASE_URL": openai_server.base_url,
        "PERSONALITY_ASSETS_MODEL_GPT4O_MAX_CONCURRENCY": "4",
        "PERSONALITY_ASSETS_MODEL_GPT4O_RPM": str(rpm),
        "PERSONALITY_ASSETS_MODEL_GPT4O_TPM": "100000000",
    }
    (tmp_path / "home").mkdir()
    cli = [sys.executable, "-m", "personality_assets.cli"]
    subprocess.run([*cli, "populations", "add", *populations], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*cli, "models", "add", "gpt4o"], cwd=ROOT, env=env, check=True, capture_output=True)
    config = json.dumps(
        {"execution": {"config": {"in_process": {}}}, "resources": {"llm": {"config": {"rate_window_s": window}}}}
    )
    materialize = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "personality_assets.definitions"]
    asked_before = openai_server.request_count
    answer = [*materialize, "--config-json", config, "--select", "questionnaire_answers", "--partition"]
    run_at_once([[*answer, f"gpt4o|{p}"] for p in populations], env)

    arrivals = [r["time"] for r in openai_server.requests[asked_before:]]
    assert len(arrivals) == experiments  # each asked once
    assert busiest_window(arrivals, window) <= rpm
    # Both at once, yet only as fast as one budget allows.
    assert max(arrivals) - min(arrivals) >= (experiments / rpm - 1) * window
    with experiment_transaction(target) as connection:
        answered = connection.execute(
            select(func.count()).select_from(ExperimentsList).where(ExperimentsList.succeeded.is_(True))
        ).scalar_one()
        answers = connection.execute(select(func.count()).select_from(EvalQuestionnaire)).scalar_one()
    assert answered == experiments and answers == experiments * 50
