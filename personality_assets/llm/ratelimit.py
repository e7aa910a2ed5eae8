"""A strict sliding-window limiter for requests and tokens per minute.

Strict as the provider counts: a request occupies the window from the moment it is sent until
``window_seconds`` after its reply came back. So however late a request reaches the server, no
window of that length on the server's clock sees more than ``rpm`` requests or ``tpm`` tokens.
(A token bucket would let up to twice the limit through around a refill.) Tokens are reserved
from an estimate before the call and replaced with the real usage when it returns.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable


class SlidingWindowLimiter:
    def __init__(self, rpm: int | None, tpm: int | None, window_seconds: float = 60.0):
        self.rpm, self.tpm, self.window = rpm, tpm, window_seconds
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
        fits_requests = self.rpm is None or self._in_flight + len(self._done) < self.rpm
        fits_tokens = self.tpm is None or self._in_flight_tokens + self._done_tokens + tokens <= self.tpm
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
                self._prune(time.monotonic())
                if self._fits(tokens):
                    self._in_flight += 1
                    self._in_flight_tokens += tokens
                    return tokens
                # Wake when a finished request leaves the window, or when one in flight finishes.
                timeout = self._done[0][0] + self.window - time.monotonic() if self._done else None
                try:
                    await asyncio.wait_for(
                        self._changed.wait(), timeout=None if timeout is None else max(timeout, 0.001)
                    )
                except TimeoutError:
                    pass

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


_SHARED: dict[tuple, SlidingWindowLimiter] = {}


def shared_limiter(
    key: tuple,
    rpm: int | None,
    tpm: int | None,
    window_seconds: float,
    history: Callable[[], Iterable[tuple[float, int]]] | None = None,
) -> SlidingWindowLimiter:
    """One limiter per account (provider, endpoint, provider model id) for the whole process, so
    consecutive runs and steps in one process share the budget; a new limiter is seeded with the
    account's recent calls (``history``, from the llm_calls table), so a step in a new process counts
    what the previous step sent."""
    limiter = _SHARED.get(key)
    if limiter is None or (limiter.rpm, limiter.tpm, limiter.window) != (rpm, tpm, window_seconds):
        limiter = SlidingWindowLimiter(rpm, tpm, window_seconds)
        if history is not None and (rpm is not None or tpm is not None):
            limiter.seed(history())
        _SHARED[key] = limiter
    return limiter
