"""The shared rate limiter (PERSONALITY_ASSETS_REDIS_URL): one budget for every process using an
account, kept in a real Redis (a private redis-server per test), checked on the local server's
own clock."""

import subprocess
import sys
import threading
import time

import pytest

from personality_assets.llm.ratelimit import SharedLimiterUnavailable
from personality_assets_tests.conftest import ROOT
from personality_assets_tests.llm_servers import openai_server  # noqa: F401 - fixture
from personality_assets_tests.redis_server import redis_server  # noqa: F401 - fixture
from personality_assets_tests.test_llm_engine import _engine, _models, _requests, _stored


def _busiest_window(times: list[float], window: float) -> int:
    """The most requests any half-open window of ``window`` seconds saw."""
    times = sorted(times)
    busiest, start = 0, 0
    for end, arrived in enumerate(times):
        while times[start] <= arrived - window:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


def _worker(server, redis_url, count, prefix, rpm, window, *more) -> subprocess.Popen:
    command = [sys.executable, "-m", "personality_assets_tests.limiter_worker", server.base_url, redis_url]
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
    assert _busiest_window(arrivals, window) <= rpm
    assert max(arrivals) - min(arrivals) >= (50 / rpm - 1) * window


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
    models = _models(cache=True, rpm=100000, max_concurrency=2)
    requests = _requests(60)

    def stop_redis_after(n):
        while openai_server.request_count < n:
            time.sleep(0.005)
        redis_server.stop()

    stopper = threading.Thread(target=stop_redis_after, args=(15,))
    stopper.start()
    with pytest.raises(SharedLimiterUnavailable, match="cannot be reached.*run again once Redis is back"):
        _engine(db_target, models, openai_server.base_url, redis_url=redis_server.url).run(requests)
    stopper.join()
    stored = len(_stored(db_target))
    assert 15 <= stored < 60 and stored >= openai_server.request_count - 2  # at most the two in flight lost
    assert redis_server.url.split("@")[-1] not in str(_stored(db_target))
    redis_server.start()
    summary = _engine(db_target, models, openai_server.base_url, redis_url=redis_server.url).run(requests)
    assert (summary.ok, summary.cached) == (60, stored)
    assert openai_server.request_count <= 60 + 2
