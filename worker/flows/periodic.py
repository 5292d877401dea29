"""A periodic sweep loop shared by the reconcile and sale sweeps: run now and every interval until stopped; a
failed run (Salesforce, the POS or the store down) is retried with backoff, never later than the interval, and
never ends the loop. ``wake`` (optional) runs the next sweep early (a capped sweep continuing)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from worker.retry import RetryPolicy

log = structlog.get_logger(__name__)
FAILED_SWEEP_RETRY = RetryPolicy(attempts=1_000_000, base_delay=1.0, max_delay=60.0)  # capped by the interval


async def sweep_every(interval: float, sweep: Callable[[], Awaitable[object]], stop: asyncio.Event, *,
                      failed_event: str, wake: asyncio.Event | None = None,
                      retry: RetryPolicy | None = None) -> None:
    """Call ``sweep`` now and every ``interval`` seconds until ``stop``; log ``failed_event`` on a failure."""
    failures = 0
    while not stop.is_set():
        wait = interval
        try:
            await sweep()
            failures = 0
        except Exception as exc:
            failures += 1
            wait = min(interval, (retry or FAILED_SWEEP_RETRY).delay_for(failures))
            log.error(failed_event, error=f"{type(exc).__name__}: {exc}", attempt=failures, retry_in_s=round(wait, 1))
        waiters = [asyncio.ensure_future(stop.wait())]
        if wake is not None:
            waiters.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        if wake is not None:
            wake.clear()
