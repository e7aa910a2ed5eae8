"""A strict sliding-window limiter for requests and tokens per minute.

Strict as the provider counts: a request occupies the window from the moment it is sent until
``window_seconds`` after its reply came back. So however late a request reaches the server, no
window of that length on the server's clock sees more than ``rpm`` requests or ``tpm`` tokens.
(A token bucket would let up to twice the limit through around a refill.) Tokens are reserved
from an estimate before the call and replaced with the real usage when it returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable

from personality_assets.llm.types import UserActionRequired


class AdaptiveRate:
    """How much of the configured limits to use, learnt from the provider (per account, per process).

    AIMD: a storm of throttling replies (429s making at least ``storm_share`` of the last
    ``storm_window`` replies) halves the share of ``rpm``/``tpm`` used (once per
    ``decrease_every_s``: one burst of 429s is one signal) and pauses new calls for its Retry-After;
    each answered call gives back ``increase`` of it, never past 1 (the configured limits). A sparse
    429 among answers, or one whose headers say the provider's window has room for the request, is
    not our rate (a fault, an overloaded model): only that request waits and is retried. And before a
    429: when the provider's headers say its window is nearly spent (remaining requests or tokens
    below what the calls in flight may take), new calls wait until what they need has come back (see
    :func:`refill_wait`)."""

    def __init__(
        self,
        floor: float = 0.05,
        increase: float = 0.01,
        decrease_every_s: float = 1.0,
        storm_window: int = 50,
        storm_share: float = 0.25,
    ):
        self.share, self.floor, self.increase, self.decrease_every_s = 1.0, floor, increase, decrease_every_s
        self.throttled = 0  # 429s seen
        self._recent: deque[bool] = deque(maxlen=storm_window)  # the last replies: True for a 429
        self._storm = max(1, round(storm_window * storm_share))
        self._last_decrease = -float("inf")
        self.paused_until = 0.0  # time.monotonic() before which no new call starts

    def on_throttled(self, retry_after: float | None = None, hint=None, tokens: int = 0) -> None:
        """A 429 (or a throttling error); ``hint``: its rate-limit headers, ``tokens``: the request's."""
        self.throttled += 1
        if _room_left(hint, tokens):
            return
        self._recent.append(True)
        if sum(self._recent) < self._storm:
            return
        now = time.monotonic()
        if now - self._last_decrease >= self.decrease_every_s:
            self.share = max(self.floor, self.share / 2)
            self._last_decrease = now
        if retry_after:
            self.paused_until = max(self.paused_until, now + retry_after)

    def on_answer(self, hint, in_flight: int, next_tokens: int) -> None:
        """An answered call: the share grows back; the provider's headers may ask for a pause."""
        self._recent.append(False)
        self.share = min(1.0, self.share + self.increase)
        if hint is None:
            return
        wait = 0.0
        if hint.remaining_requests is not None and hint.remaining_requests <= in_flight:
            needed = in_flight + 1 - hint.remaining_requests
            wait = refill_wait(needed, hint.remaining_requests, hint.limit_requests, hint.reset_requests_s)
        needed_tokens = next_tokens * max(in_flight, 1)
        if hint.remaining_tokens is not None and hint.remaining_tokens < needed_tokens:
            needed = needed_tokens - hint.remaining_tokens
            wait = max(wait, refill_wait(needed, hint.remaining_tokens, hint.limit_tokens, hint.reset_tokens_s))
        if wait:
            self.paused_until = max(self.paused_until, time.monotonic() + wait)

    def limit(self, configured: int | None) -> int | None:
        return None if configured is None else max(1, int(configured * self.share))

    async def wait(self) -> None:
        delay = self.paused_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay * random.uniform(1.0, 1.1))


def _room_left(hint, tokens: int) -> bool:
    """Whether a 429's headers say the provider's window had room for the request (requests left,
    and tokens for it), so the 429 was not for our rate."""
    if hint is None or hint.remaining_requests is None or hint.remaining_requests < 1:
        return False
    return hint.remaining_tokens is None or hint.remaining_tokens >= tokens


def refill_wait(needed: int, remaining: int, limit: int | None, reset_s: float | None) -> float:
    """Seconds until ``needed`` more requests (or tokens) are available, by the provider's headers.

    OpenAI's reset is the time until the limit is whole again, refilled at an even rate, so
    ``needed`` come back in ``reset * needed / (limit - remaining)``: waiting for the whole reset
    would idle most of a window each time the budget runs low. Without the limit, the whole reset;
    without a reset either, one second."""
    if reset_s is None:
        return 1.0
    if limit is None or limit <= remaining:
        return reset_s
    return min(reset_s, reset_s * needed / (limit - remaining))


class SlidingWindowLimiter:
    """The window in one process. ``even``: besides, at most one request every ``window / rpm``
    seconds, so the window's requests are spread over it rather than sent at once."""

    def __init__(self, rpm: int | None, tpm: int | None, window_seconds: float = 60.0, even: bool = False):
        self.rpm, self.tpm, self.window, self.even = rpm, tpm, window_seconds, even and rpm is not None
        self._next_at = 0.0  # time.monotonic() before which no request goes (even pacing)
        self.adaptive = AdaptiveRate()
        self._in_flight = 0
        self._in_flight_tokens = 0
        self._done: deque[tuple[float, int]] = deque()  # (finished_at, tokens), in finishing order
        self._done_tokens = 0
        self._changed_condition: asyncio.Condition | None = None
        self._loop = None

    @property
    def _changed(self) -> asyncio.Condition:
        # asyncio primitives belong to one event loop; the limiter outlives a run's loop.
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._changed_condition, self._loop = asyncio.Condition(), loop
        return self._changed_condition

    def seed(self, finished: Iterable[tuple[float, int]]) -> None:
        """Count requests made before this process started (``(seconds ago, tokens)`` each)."""
        now = time.monotonic()
        for seconds_ago, tokens in sorted(finished, key=lambda item: -item[0]):
            if seconds_ago < self.window:
                self._done.append((now - seconds_ago, tokens))
                self._done_tokens += tokens

    def _prune(self, now: float) -> None:
        while self._done and self._done[0][0] <= now - self.window:
            self._done_tokens -= self._done.popleft()[1]

    def _fits(self, tokens: int) -> bool:
        rpm, tpm = self.adaptive.limit(self.rpm), self.adaptive.limit(self.tpm)
        fits_requests = rpm is None or self._in_flight + len(self._done) < rpm
        fits_tokens = tpm is None or self._in_flight_tokens + self._done_tokens + tokens <= tpm
        return fits_requests and fits_tokens

    @property
    def unlimited(self) -> bool:
        return self.rpm is None and self.tpm is None

    async def acquire(self, tokens: int) -> int:
        """Wait until a request of ``tokens`` fits; returns the reservation to pass to :meth:`release`."""
        if self.unlimited:
            return tokens  # nothing to count: skip the lock on the hot path
        if self.tpm is not None:
            tokens = min(tokens, self.tpm)  # a request bigger than the budget still goes, alone
        async with self._changed:
            while True:
                now = time.monotonic()
                self._prune(now)
                if self._fits(tokens):
                    if now >= self._next_at:
                        self._in_flight += 1
                        self._in_flight_tokens += tokens
                        if self.even:
                            self._next_at = now + self.window / self.adaptive.limit(self.rpm)
                        return tokens
                    timeout = self._next_at - now  # the next paced send
                else:
                    # Wake when a finished request leaves the window, or when one in flight finishes.
                    timeout = self._done[0][0] + self.window - now if self._done else None
                try:
                    await asyncio.wait_for(
                        self._changed.wait(), timeout=None if timeout is None else max(timeout, 0.001)
                    )
                except TimeoutError:
                    pass

    async def aclose(self) -> None:
        """Nothing to close: the limiter lives in this process."""

    async def release(self, reserved: int, used_tokens: int | None) -> None:
        """The request is finished (answered or failed): it stays counted for one more window."""
        if self.unlimited:
            return
        async with self._changed:
            self._in_flight -= 1
            self._in_flight_tokens -= reserved
            used = reserved if used_tokens is None else used_tokens
            self._done.append((time.monotonic(), used))
            self._done_tokens += used
            self._changed.notify_all()


_SHARED: dict[tuple, SlidingWindowLimiter | RedisLimiter] = {}
REDIS_URL_VARIABLE = "PERSONALITY_ASSETS_REDIS_URL"


def shared_limiter(
    key: tuple,
    rpm: int | None,
    tpm: int | None,
    window_seconds: float,
    history: Callable[[], Iterable[tuple[float, int]]] | None = None,
    redis_url: str | None = None,
    concurrency: int | None = None,
    lease_seconds: float = 130.0,
    even: bool = False,
) -> SlidingWindowLimiter | RedisLimiter:
    """One limiter per account (provider, endpoint, provider model id).

    With ``redis_url`` the budget and the concurrency slots live in Redis, shared by every process
    and machine using the account. Without, one limiter per process, so consecutive runs and steps
    in one process share the budget; it is seeded with the account's recent calls (``history``,
    from the llm_calls table), so a step in a new process counts what the previous step sent."""
    if redis_url:
        settings = (rpm, tpm, window_seconds, concurrency, lease_seconds, redis_url, even)
        limiter = _SHARED.get(key)
        if not isinstance(limiter, RedisLimiter) or limiter.settings != settings:
            limiter = _SHARED[key] = RedisLimiter(key, *settings)
        limiter.history = history
        return limiter
    limiter = _SHARED.get(key)
    settings = (rpm, tpm, window_seconds, even and rpm is not None)
    if not isinstance(limiter, SlidingWindowLimiter) or (limiter.rpm, limiter.tpm, limiter.window, limiter.even) != (
        settings
    ):
        limiter = SlidingWindowLimiter(*settings)
        if history is not None and (rpm is not None or tpm is not None):
            limiter.seed(history())
        _SHARED[key] = limiter
    return limiter


# --- the shared limiter: the same sliding window, in Redis ---------------------------------------------
#
# Per account, six keys (one hash tag, so they stay together on a cluster): requests in flight
# (sorted set: reservation id -> lease end, ms) with their reserved tokens (hash), requests finished
# within the window (sorted set: id -> finished at, ms) with their tokens (hash), running token
# totals (and the next paced send), and the limits each process declared. Every change is one Lua script, atomic, on Redis's clock: one clock for every machine.
# A reservation whose lease ended belongs to a dead process: it is counted as finished at the lease's
# end, so its slot comes back and its request still counts for one window.

_PRUNE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  local tokens = tonumber(redis.call('HGET', KEYS[2], id) or '0')
  local lease_end = redis.call('ZSCORE', KEYS[1], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HINCRBY', KEYS[5], 'in_flight_tokens', -tokens)
  redis.call('ZADD', KEYS[3], lease_end, id)
  redis.call('HSET', KEYS[4], id, tokens)
  redis.call('HINCRBY', KEYS[5], 'done_tokens', tokens)
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - window)
for _, id in ipairs(gone) do
  redis.call('HINCRBY', KEYS[5], 'done_tokens', -tonumber(redis.call('HGET', KEYS[4], id) or '0'))
  redis.call('HDEL', KEYS[4], id)
end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window) end
"""

# The account's limits are the strictest any process using it has declared within a window and a
# lease (KEYS[6]: declaration "rpm:tpm:slots:even" -> when last declared, ms; 0: no limit, or not
# paced), so two model keys on one account in two processes keep the stricter one's limits (and
# even pacing if either asks for it), as they do in one process.
_STRICTEST = """
local lifetime = window + tonumber(ARGV[5])
redis.call('HSET', KEYS[6], ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[4] .. ':' .. ARGV[9], now)
local limits, even = {0, 0, 0}, 0
local declared = redis.call('HGETALL', KEYS[6])
for i = 1, #declared, 2 do
  if tonumber(declared[i + 1]) <= now - lifetime then
    redis.call('HDEL', KEYS[6], declared[i])
  else
    local j = 1
    for value in string.gmatch(declared[i], '[^:]+') do
      value = tonumber(value)
      if j == 4 then
        even = math.max(even, value)
      elseif value > 0 and (limits[j] == 0 or value < limits[j]) then
        limits[j] = value
      end
      j = j + 1
    end
  end
end
local share = tonumber(ARGV[8])
local rpm, tpm, slots = limits[1], limits[2], limits[3]
if rpm > 0 then rpm = math.max(1, math.floor(rpm * share)) end
if tpm > 0 then tpm = math.max(1, math.floor(tpm * share)) end
"""

# ARGV: window ms, rpm, tpm, concurrency (0: none; these three as configured), lease ms, tokens,
# reservation id, this process's share of the limits (the adaptive rate), even pacing (1) or not (0).
# Even pacing keeps the next allowed send time in KEYS[5] ('next_at', ms): one request every window/rpm.
# Returns {1, 0} when reserved, else {0, ms until the oldest finished request leaves the window, or
# until the next paced send}.
ACQUIRE_SCRIPT = (
    _PRUNE
    + _STRICTEST
    + """
local tokens = tonumber(ARGV[6])
if tpm > 0 and tokens > limits[2] then tokens = limits[2] end  -- a request bigger than the budget goes alone
local in_flight, done = redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[3])
local in_flight_tokens = tonumber(redis.call('HGET', KEYS[5], 'in_flight_tokens') or '0')
local done_tokens = tonumber(redis.call('HGET', KEYS[5], 'done_tokens') or '0')
if (rpm <= 0 or in_flight + done < rpm) and (tpm <= 0 or in_flight_tokens + done_tokens + tokens <= tpm)
    and (slots <= 0 or in_flight < slots) then
  if even == 1 and rpm > 0 then
    local next_at = tonumber(redis.call('HGET', KEYS[5], 'next_at') or '0')
    if now < next_at then return {0, math.ceil(next_at - now)} end
    redis.call('HSET', KEYS[5], 'next_at', now + window / rpm)
  end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), ARGV[7])
  redis.call('HSET', KEYS[2], ARGV[7], tokens)
  redis.call('HINCRBY', KEYS[5], 'in_flight_tokens', tokens)
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], window + tonumber(ARGV[5]) + 60000) end
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if #oldest > 0 then return {0, math.max(1, tonumber(oldest[2]) + window - now)} end
return {0, 1000}
"""
)

# ARGV: window ms, reservation id, tokens used, lease ms. A reservation whose lease ended is counted
# already. The keys live as long as acquiring makes them (a window and a lease past the last change), so
# a release never lets the reservations still in flight expire before their leases.
RELEASE_SCRIPT = (
    _PRUNE
    + """
local reserved = redis.call('HGET', KEYS[2], ARGV[2])
if not reserved then return 0 end
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[5], 'in_flight_tokens', -tonumber(reserved))
redis.call('ZADD', KEYS[3], now, ARGV[2])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[5], 'done_tokens', tonumber(ARGV[3]))
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], window + tonumber(ARGV[4]) + 60000) end
return 1
"""
)

# ARGV: window ms, lease ms, then (ms ago, tokens) of each request the research database stored
# within the window. Only when Redis holds nothing for the account (it restarted empty, or nothing
# was sent for a while): its calls of the last window count again, as the in-process limiter seeds
# them. Returns how many were counted.
SEED_SCRIPT = """
if redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local total, counted = 0, 0
for i = 3, #ARGV, 2 do
  local finished = now - tonumber(ARGV[i])
  if finished > now - window then
    local id = 'seed:' .. t[1] .. t[2] .. ':' .. i
    redis.call('ZADD', KEYS[3], finished, id)
    redis.call('HSET', KEYS[4], id, ARGV[i + 1])
    total, counted = total + tonumber(ARGV[i + 1]), counted + 1
  end
end
redis.call('HSET', KEYS[5], 'done_tokens', total, 'in_flight_tokens', 0)
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], window + tonumber(ARGV[2]) + 60000) end
return counted
"""

# How often a waiting request looks again when it waits for a slot (no finished request to wait for).
POLL_SECONDS = 0.025


class SharedLimiterUnavailable(UserActionRequired):
    """Redis could not be reached: the limits cannot be kept, so no call starts."""


class RedisLimiter:
    """The sliding window of :class:`SlidingWindowLimiter` for one account, kept in Redis and shared
    by every process that uses the account, with its concurrency slots. Tokens reserved before a
    call are replaced by the real usage after it."""

    def __init__(
        self,
        account: tuple,
        rpm: int | None,
        tpm: int | None,
        window_seconds: float,
        concurrency: int | None,
        lease_seconds: float,
        redis_url: str,
        even: bool = False,
    ):
        self.settings = (rpm, tpm, window_seconds, concurrency, lease_seconds, redis_url, even)
        self.even = even and rpm is not None
        self.rpm, self.tpm, self.window = rpm, tpm, window_seconds
        self.concurrency, self.lease_seconds, self._url = concurrency, lease_seconds, redis_url
        self.adaptive = AdaptiveRate()  # this process's share of the shared limits
        digest = hashlib.sha256("\x1f".join(map(str, account)).encode()).hexdigest()[:16]
        base = f"personality_assets:limiter:{{{digest}}}"
        self.keys = [
            f"{base}:in_flight",
            f"{base}:in_flight_tokens",
            f"{base}:done",
            f"{base}:done_tokens",
            f"{base}:totals",
            f"{base}:declared",
        ]
        self._redis = self._loop = self._acquire = self._release = self._seed = self._seeding = None
        self.unavailable: str | None = None  # set when a release could not reach Redis
        # The account's calls stored in the last window ((seconds ago, tokens) each), counted when
        # Redis holds nothing for the account; None: nothing to count.
        self.history: Callable[[], Iterable[tuple[float, int]]] | None = None
        self._seeded_loop = None

    @property
    def unlimited(self) -> bool:
        """Nothing to share (no rpm, tpm or account_max_concurrency): no call asks Redis."""
        return self.rpm is None and self.tpm is None and self.concurrency is None

    def _scripts(self):
        """The scripts on a client of the running event loop (redis.asyncio connections belong to one loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            import redis.asyncio as redis

            self._redis = redis.Redis.from_url(self._url, socket_connect_timeout=5, socket_timeout=10)
            self._loop = loop
            self._acquire = self._redis.register_script(ACQUIRE_SCRIPT)
            self._release = self._redis.register_script(RELEASE_SCRIPT)
            self._seed = self._redis.register_script(SEED_SCRIPT)
            self._seeding = asyncio.Lock()  # the run's first calls wait for the seed, which runs once
        return self._acquire, self._release

    async def _seed_once(self) -> None:
        """Once per run: if Redis lost the account's window (a restart without persistence), count
        the calls the research database stored within it, so a resumed run does not send a second
        window's worth at once."""
        loop = asyncio.get_running_loop()
        if self._seeded_loop is loop or self.history is None:
            return
        self._scripts()
        async with self._seeding:
            if self._seeded_loop is loop:
                return
            # The database is asked only when Redis has lost the window (the script checks again).
            if not await self._redis.exists(self.keys[4]):
                args = [int(self.window * 1000), int(self.lease_seconds * 1000)]
                for seconds_ago, tokens in self.history():
                    args += [int(seconds_ago * 1000), int(tokens)]
                await self._seed(keys=self.keys, args=args)
            self._seeded_loop = loop

    async def aclose(self) -> None:
        """Close this loop's connections (after each engine run); the next run tries Redis afresh."""
        self.unavailable = None
        if self._redis is not None and self._loop is asyncio.get_running_loop():
            await self._redis.aclose()
            self._redis = self._loop = None

    def _where(self) -> str:
        """The Redis address without credentials."""
        from urllib.parse import urlsplit

        parts = urlsplit(self._url)
        return f"{parts.hostname}:{parts.port or 6379}"

    def _outage(self, exc: Exception) -> SharedLimiterUnavailable:
        return SharedLimiterUnavailable(
            f"the shared rate limiter's Redis at {self._where()} ({REDIS_URL_VARIABLE}) cannot be reached "
            f"({type(exc).__name__}): no call starts without it, so the limits hold. What was answered is "
            f"stored; run again once Redis is back (or unset {REDIS_URL_VARIABLE} to use one process's limiter)"
        )

    async def acquire(self, tokens: int) -> tuple[str, int]:
        import redis

        if self.unlimited:
            return "", tokens
        if self.unavailable:
            raise SharedLimiterUnavailable(self.unavailable)
        if self.tpm is not None:
            tokens = min(tokens, self.tpm)
        reservation = uuid.uuid4().hex
        acquire_script, _ = self._scripts()
        try:
            await self._seed_once()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise self._outage(exc) from None
        while True:
            args = [
                int(self.window * 1000),
                self.rpm or 0,
                self.tpm or 0,
                self.concurrency or 0,
                int(self.lease_seconds * 1000),
                tokens,
                reservation,
                self.adaptive.share,
                int(self.even),
            ]
            try:
                granted, wait_ms = await acquire_script(keys=self.keys, args=args)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                raise self._outage(exc) from None
            if granted:
                return reservation, tokens
            # Wake when the oldest finished request leaves the window, or poll for a freed slot.
            await asyncio.sleep(min(wait_ms / 1000, POLL_SECONDS) * random.uniform(0.8, 1.2))

    async def release(self, reservation: tuple[str, int], used_tokens: int | None) -> None:
        """Never raises: the call's result must still be stored. If Redis is gone, the reservation's
        lease ends by itself, and the next acquire fails clearly."""
        import redis

        reservation_id, reserved = reservation
        if not reservation_id:
            return  # unlimited: nothing was reserved
        used = reserved if used_tokens is None else used_tokens
        _, release_script = self._scripts()
        try:
            await release_script(
                keys=self.keys,
                args=[int(self.window * 1000), reservation_id, used, int(self.lease_seconds * 1000)],
            )
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self.unavailable = str(self._outage(exc))
