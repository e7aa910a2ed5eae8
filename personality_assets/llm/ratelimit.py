"""A strict sliding-window limiter for requests and tokens per minute.

Strict: within any window of ``window_seconds`` the admitted requests never exceed ``rpm`` and
their tokens never exceed ``tpm``. (A token bucket would let up to twice the limit through
around a refill.) Tokens are reserved from an estimate before the call and corrected with the
real usage after it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class SlidingWindowLimiter:
    def __init__(self, rpm: int | None, tpm: int | None, window_seconds: float = 60.0):
        self.rpm, self.tpm, self.window = rpm, tpm, window_seconds
        self._events: deque[list] = deque()  # [admitted_at, tokens]
        self._tokens = 0
        self._lock = asyncio.Lock()

    def _prune(self, now: float) -> None:
        while self._events and self._events[0][0] <= now - self.window:
            self._tokens -= self._events.popleft()[1]

    async def acquire(self, tokens: int) -> list:
        """Wait until one request with ``tokens`` fits; returns a handle for :meth:`settle`."""
        if self.tpm is not None:
            tokens = min(tokens, self.tpm)  # a request bigger than the budget still gets through alone
        async with self._lock:  # FIFO: waiters are served in arrival order
            while True:
                now = time.monotonic()
                self._prune(now)
                fits_requests = self.rpm is None or len(self._events) < self.rpm
                fits_tokens = self.tpm is None or self._tokens + tokens <= self.tpm
                if fits_requests and fits_tokens:
                    event = [now, tokens]
                    self._events.append(event)
                    self._tokens += tokens
                    return event
                # Sleep until the oldest admitted request leaves the window.
                await asyncio.sleep(max(self._events[0][0] + self.window - now, 0.001))

    def settle(self, event: list, actual_tokens: int) -> None:
        """Replace a request's reserved tokens with what it really used."""
        if event in self._events:
            self._tokens += actual_tokens - event[1]
            event[1] = actual_tokens
