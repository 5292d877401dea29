"""A client-side token bucket, so the worker stays under the POS rate limit instead of collecting 429s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """``rate`` permits per second with a burst of ``max(1, rate)``; :meth:`acquire` waits for a permit.

    Waiters are served in arrival order (one lock), so a burst of callers is spread evenly over time.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.capacity
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> float:
        """Take one permit; returns how long it waited (seconds, 0 when a permit was free)."""
        waited = 0.0
        async with self._lock:
            self._refill()
            while self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self.rate
                await self._sleep(wait)
                waited += wait
                self._refill()
            self._tokens -= 1.0
        return waited
