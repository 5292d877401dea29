"""Retry policies as data.

A policy names what it retries (a tuple of exception types) and how long to wait between attempts
(exponential backoff with full jitter, capped). Callers never loop by hand: they call :func:`retrying`.
A non-idempotent POST is never given a policy that retries :class:`~worker.errors.OutcomeUnknown`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from worker.errors import TransientError

T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry, and which errors count as worth retrying."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 1.0  # 1.0 = full jitter, 0 = none
    retry_on: tuple[type[BaseException], ...] = field(default=(TransientError,))

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The waits before attempt 2, 3, ... (``attempts - 1`` values)."""
        rng = rng or random.Random()
        for n in range(self.attempts - 1):
            ceiling = min(self.max_delay, self.base_delay * (self.multiplier**n))
            yield ceiling * (1 - self.jitter) + rng.uniform(0, ceiling * self.jitter)

    def delay_for(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait after failed attempt number ``attempt`` (1-based), used by durable queues."""
        rng = rng or random.Random()
        ceiling = min(self.max_delay, self.base_delay * (self.multiplier ** max(0, attempt - 1)))
        return float(ceiling * (1 - self.jitter) + rng.uniform(0, ceiling * self.jitter))

    def retries(self, exc: BaseException) -> bool:
        return isinstance(exc, self.retry_on)


NO_RETRY = RetryPolicy(attempts=1)


async def retrying(
    policy: RetryPolicy,
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``call`` under ``policy``; the last error propagates unchanged."""
    delays = policy.delays()
    attempt = 1
    while True:
        try:
            return await call()
        except BaseException as exc:
            if not policy.retries(exc):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            hint = getattr(exc, "retry_after", None)
            if isinstance(hint, int | float) and hint > delay:
                delay = min(float(hint), policy.max_delay)
            log.warning("retry_scheduled", what=what, attempt=attempt, delay_s=round(delay, 3), error=str(exc))
            await sleep(delay)
            attempt += 1
