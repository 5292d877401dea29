"""The runner's leases on a real SQLite store: renewed while a handler runs, fenced when lost, kept on a drain."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from worker.flows.runner import Outcome, Pause, QueueRunner
from worker.metrics import Metrics
from worker.retry import RetryPolicy
from worker.store import Job, NewJob, Store


@dataclass
class SlowHandler:
    """Takes ``seconds`` per batch, then (if it still holds the job) makes its one outside call and completes."""

    seconds: float
    queue: str = "sale"
    calls: list[str] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        self.started.set()
        await asyncio.sleep(self.seconds)
        for job in await outcome.confirm(jobs):
            self.calls.append(job.dedupe_key)
            outcome.complete(job)


def runner(store: Store, handler: SlowHandler, lease: float, worker_id: str = "t") -> QueueRunner:
    return QueueRunner(store, handler, worker_id=worker_id, retry=RetryPolicy(attempts=3, base_delay=0.01),
                       metrics=Metrics(), pause=Pause(), batch_size=5, concurrency=1, lease_seconds=lease,
                       poll_seconds=0.02)


async def test_a_handler_slower_than_its_lease_keeps_the_job(store: Store) -> None:
    """A 0.3 s lease is renewed on a heartbeat while a 1.2 s handler runs: no other claimer gets the job and the
    outside call happens once."""
    await store.enqueue([NewJob("sale", "a", {})])
    handler = SlowHandler(seconds=1.2)
    stop = asyncio.Event()
    task = asyncio.create_task(runner(store, handler, lease=0.3).run(stop))
    try:
        await asyncio.wait_for(handler.started.wait(), 5)
        for _ in range(10):  # over the whole run a rival claimer finds nothing
            assert await store.claim("sale", 5, worker_id="rival", lease_seconds=60) == []
            await asyncio.sleep(0.1)
        while (await store.queue_counts())["sale"]["done"] != 1:
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert handler.calls == ["a"]


class FrozenRenewals:
    """A store whose lease renewals fail (a replica cut off from its database, or frozen): the lease lapses."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def renew(self, jobs: Sequence[Job], lease_seconds: float) -> set[int]:
        if any(job.token and job.token.startswith("frozen:") for job in jobs):
            raise ConnectionError("store unreachable")
        return await self.inner.renew(jobs, lease_seconds)


async def test_a_handler_that_lost_its_lease_makes_no_outside_call_and_settles_nothing(store: Store) -> None:
    """When the lease lapsed and a rival took the job, the old holder skips its call and cannot complete it;
    the rival's claim decides the job."""
    await store.enqueue([NewJob("sale", "a", {})])
    handler = SlowHandler(seconds=0.6)
    stop = asyncio.Event()
    frozen = runner(FrozenRenewals(store), handler, lease=0.2, worker_id="frozen")  # type: ignore[arg-type]
    task = asyncio.create_task(frozen.run(stop))
    try:
        await asyncio.wait_for(handler.started.wait(), 5)
        rival: list[Job] = []
        while not rival:
            await asyncio.sleep(0.05)
            rival = await store.claim("sale", 5, worker_id="rival", lease_seconds=60)
        await asyncio.sleep(0.8)  # the frozen handler wakes up and tries its call, then settles
    finally:
        stop.set()
        await task
    assert handler.calls == []
    current = await store.get_job(rival[0].id)
    assert current is not None and current.state == "processing" and current.token == rival[0].token


async def test_drain_releases_unfinished_jobs_keeping_their_attempt(store: Store) -> None:
    """A batch cancelled by the drain is released at once for the next worker, with its attempt counted."""
    await store.enqueue([NewJob("sale", "a", {})])
    handler = SlowHandler(seconds=30)
    stop = asyncio.Event()
    task = asyncio.create_task(runner(store, handler, lease=30).run(stop))
    await asyncio.wait_for(handler.started.wait(), 5)
    stop.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (again,) = await store.claim("sale", 5, worker_id="next", lease_seconds=60)
    assert again.attempts == 2 and handler.calls == []
