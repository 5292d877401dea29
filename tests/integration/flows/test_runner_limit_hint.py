"""A rate limit that names its wait (POS 429 + Retry-After) pauses outbound work that long, not a minute."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from worker.errors import pos_error
from worker.flows.runner import LIMIT_PAUSE_SECONDS, Outcome, Pause, QueueRunner
from worker.metrics import Metrics
from worker.retry import RetryPolicy
from worker.store import Job, NewJob, Store


class RateLimitedOnce:
    queue = "fo_import"

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        for job in jobs:
            self.calls += 1
            if self.calls == 1:
                outcome.fail(job, pos_error(429, {"errorCode": "RATE_LIMITED"}, retry_after=1.0))
            else:
                outcome.complete(job)


async def test_pos_429_with_retry_after_pauses_for_the_hint_then_completes(store: Store) -> None:
    """POS 429 with Retry-After: 1 pauses claiming ~1 s (not LIMIT_PAUSE_SECONDS) and the job then completes."""
    pause, handler = Pause(), RateLimitedOnce()
    runner = QueueRunner(store, handler, worker_id="t", retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02),
                         metrics=Metrics(), pause=pause, batch_size=5, concurrency=1, lease_seconds=30,
                         poll_seconds=0.02)
    await store.enqueue([NewJob("fo_import", "a", {})])
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(10):
            while not pause.remaining():
                await asyncio.sleep(0.01)
            assert pause.remaining() <= 1.0 < LIMIT_PAUSE_SECONDS
            while (await store.queue_counts())["fo_import"]["done"] != 1:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert handler.calls == 2
