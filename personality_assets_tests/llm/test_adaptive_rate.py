"""Adapting to the provider: its rate-limit headers pause new calls before a 429, and a 429 storm
shrinks the share of the configured limits used (AIMD), which answers grow back, never past them.
Over real HTTP against the local server enforcing its own limit on its own clock."""

import pytest

from personality_assets.llm import ratelimit
from personality_assets.llm.ratelimit import AdaptiveRate
from personality_assets.llm.types import RateLimitHint
from personality_assets_tests.support.engine import busiest_window, chat_requests, engine_with_fakes, models_config


def _limiter_for(server):
    (limiter,) = [v for k, v in ratelimit._SHARED.items() if k[:2] == ("openai", server.base_url)]
    return limiter


def test_aimd_halves_once_per_burst_and_grows_back_never_past_the_limit(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
    rate = AdaptiveRate(increase=0.1)
    for _ in range(15):  # one burst of 429s: one signal
        rate.on_throttled()
    assert rate.share == 0.5 and rate.limit(100) == 50 and rate.throttled == 15
    clock[0] += 1.0
    rate.on_throttled(retry_after=2.0)
    assert rate.share == 0.25 and rate.paused_until == 103.0
    for _ in range(20):
        rate.on_answer(None, in_flight=4, next_tokens=100)
    assert rate.share == 1.0 and rate.limit(100) == 100 and rate.limit(None) is None
    for _ in range(20):
        clock[0] += 1.0
        rate.on_throttled()
    assert rate.share == 0.05 and rate.limit(10) == 1  # the floor, and never no call at all
    # The provider's headers: a window nearly spent pauses until its reset.
    rate.paused_until = 0.0
    rate.on_answer(RateLimitHint(remaining_requests=10, reset_requests_s=5.0), in_flight=4, next_tokens=100)
    assert rate.paused_until == 0.0
    rate.on_answer(RateLimitHint(remaining_requests=3, reset_requests_s=5.0), in_flight=4, next_tokens=100)
    assert rate.paused_until == clock[0] + 5.0
    rate.on_answer(RateLimitHint(remaining_tokens=100, reset_tokens_s=9.0), in_flight=4, next_tokens=100)
    assert rate.paused_until == clock[0] + 9.0
    # With the provider's limit known, only until what the calls need has refilled: OpenAI's reset
    # is the time until the whole limit is back, at an even rate.
    rate.paused_until = 0.0
    hint = RateLimitHint(remaining_requests=3, reset_requests_s=5.0, limit_requests=103)
    rate.on_answer(hint, in_flight=4, next_tokens=100)
    assert rate.paused_until == pytest.approx(clock[0] + 5.0 * 2 / 100)
    hint = RateLimitHint(remaining_tokens=100, reset_tokens_s=9.0, limit_tokens=1000)
    rate.on_answer(hint, in_flight=4, next_tokens=100)
    assert rate.paused_until == pytest.approx(clock[0] + 9.0 * 300 / 900)


def test_a_sparse_429_or_one_with_budget_left_does_not_shrink_the_share(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
    rate = AdaptiveRate()
    for _ in range(3):  # one 429 among many answers: a fault, not our rate
        for _ in range(30):
            rate.on_answer(None, in_flight=4, next_tokens=100)
        clock[0] += 1.0
        rate.on_throttled(retry_after=2.0)
    assert (rate.share, rate.paused_until, rate.throttled) == (1.0, 0.0, 3)
    # A run of 429s whose headers say the provider's window has room: not our rate either.
    left = RateLimitHint(remaining_requests=500, remaining_tokens=90_000, limit_requests=600, limit_tokens=100_000)
    for _ in range(10):
        clock[0] += 1.0
        rate.on_throttled(retry_after=2.0, hint=left, tokens=100)
    assert (rate.share, rate.paused_until) == (1.0, 0.0)
    # Without room for the request's tokens it is our rate: a storm of those shrinks the share.
    spent = RateLimitHint(remaining_requests=500, remaining_tokens=50, limit_requests=600, limit_tokens=100_000)
    for _ in range(15):
        clock[0] += 1.0
        rate.on_throttled(retry_after=2.0, hint=spent, tokens=100)
    assert rate.share < 1.0 and rate.paused_until == clock[0] + 2.0


def test_sparse_429s_leave_the_whole_configured_rate(db_target, openai_server):
    """One request in twenty gets a 429 that is not the server's limit (no limit, no headers): each
    is retried after its Retry-After, and the engine still fills each window with the configured rpm."""
    openai_server.configure(latency=0.01, fault_rate=0.05, fault_kinds=["429"], retry_after=0.05)
    rpm, window = 40, 1.0
    engine = engine_with_fakes(
        db_target, models_config(rpm=rpm, max_concurrency=8, max_attempts=8), openai_server.base_url
    )
    engine.rate_window_s = window
    assert engine.run(chat_requests(150)).ok == 150
    assert sum(1 for r in openai_server.requests if r["fault"]) >= 3
    assert busiest_window([r["time"] for r in openai_server.requests], window) == rpm
    assert _limiter_for(openai_server).adaptive.share == 1.0


def test_429s_with_budget_left_in_the_headers_leave_the_whole_configured_rate(db_target, openai_server):
    """A 429 in three, each with headers saying the server's window has room (as a provider's 429
    for an overloaded model): retried, never taken for our rate."""
    openai_server.limit_rpm, openai_server.limit_window = 10_000, 1.0
    openai_server.configure(latency=0.01, fault_rate=0.3, fault_kinds=["429"], retry_after=0.05)
    rpm, window = 40, 1.0
    engine = engine_with_fakes(
        db_target, models_config(rpm=rpm, max_concurrency=8, max_attempts=20), openai_server.base_url
    )
    engine.rate_window_s = window
    assert engine.run(chat_requests(100)).ok == 100
    assert busiest_window([r["time"] for r in openai_server.requests], window) == rpm
    assert _limiter_for(openai_server).adaptive.share == 1.0


def test_the_provider_s_headers_slow_the_engine_before_any_429(db_target, openai_server):
    """No rpm configured; the server allows 10 a second and says so in its headers: not one 429."""
    openai_server.limit_rpm, openai_server.limit_window = 10, 1.0
    openai_server.configure(latency=0.01)
    summary = engine_with_fakes(db_target, models_config(rpm=None, max_concurrency=4), openai_server.base_url).run(
        chat_requests(30)
    )
    assert summary.ok == 30 and openai_server.limited == 0


def test_a_429_storm_shrinks_the_rate_the_configuration_allows(db_target, openai_server):
    """Configured at four times what the server allows, with no headers to warn: the 429s halve the
    share used until the calls fit; every request is answered."""
    openai_server.limit_rpm, openai_server.limit_window, openai_server.send_rate_headers = 10, 1.0, False
    engine = engine_with_fakes(
        db_target, models_config(rpm=40, max_concurrency=4, max_attempts=8), openai_server.base_url
    )
    engine.rate_window_s = 1.0
    summary = engine.run(chat_requests(40))
    assert summary.ok == 40 and openai_server.limited > 0
    adaptive = _limiter_for(openai_server).adaptive
    assert adaptive.throttled == openai_server.limited and adaptive.share < 1.0


@pytest.fixture(autouse=True)
def _fresh_limiters():
    ratelimit._SHARED.clear()  # each test's account starts with the full share
    yield
    ratelimit._SHARED.clear()
