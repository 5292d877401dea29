"""The durable-queue runner's failure rules and the stream->inbox ingest, on a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from worker.errors import LimitExceeded, PermanentError, TransientError
from worker.flows.ingest import Ingest
from worker.flows.runner import Outcome, Pause, QueueRunner
from worker.metrics import Metrics
from worker.retry import RetryPolicy
from worker.store import Job, NewJob, Store


@dataclass
class ScriptedHandler:
    """Fails each job according to a script of exceptions, then succeeds."""

    queue: str = "sale"
    script: dict[str, list[BaseException]] = field(default_factory=dict)
    handled: list[str] = field(default_factory=list)

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        for job in jobs:
            self.handled.append(job.dedupe_key)
            failures = self.script.get(job.dedupe_key, [])
            if failures:
                outcome.fail(job, failures.pop(0))
            else:
                outcome.complete(job)


async def run_until(runner: QueueRunner, done: Any, limit: float = 20) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(limit):
            while not await done():
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task


def runner_for(store: Store, handler: ScriptedHandler, metrics: Metrics, pause: Pause | None = None,
               attempts: int = 3) -> QueueRunner:
    return QueueRunner(store, handler, worker_id="t", retry=RetryPolicy(attempts=attempts, base_delay=0.01,
                       max_delay=0.02), metrics=metrics, pause=pause or Pause(), batch_size=5, concurrency=2,
                       lease_seconds=30, poll_seconds=0.02)


async def test_transient_errors_retry_then_succeed(store: Store) -> None:
    """A transient failure is retried with backoff and the job completes on a later attempt."""
    handler = ScriptedHandler(script={"a": [TransientError("salesforce", "busy", status=503)]})
    metrics = Metrics()
    await store.enqueue([NewJob("sale", "a", {})])

    async def done() -> bool:
        return (await store.queue_counts()).get("sale", {}).get("done") == 1

    await run_until(runner_for(store, handler, metrics), done)
    assert handler.handled == ["a", "a"]
    assert metrics.retries.labels("sale")._value.get() == 1


async def test_permanent_errors_dead_letter_at_once(store: Store) -> None:
    """A permanent failure goes straight to the dead letters with its error text."""
    handler = ScriptedHandler(script={"a": [PermanentError("salesforce", "bad field", code="INVALID_FIELD")]})
    await store.enqueue([NewJob("sale", "a", {})])

    async def dead() -> bool:
        return len(await store.dead_letters("sale")) == 1

    await run_until(runner_for(store, handler, Metrics()), dead)
    (letter,) = await store.dead_letters("sale")
    assert "INVALID_FIELD" in (letter.last_error or "") and handler.handled == ["a"]


async def test_transient_errors_dead_letter_after_the_attempt_budget(store: Store) -> None:
    """A job that keeps failing transiently is dead-lettered after the configured attempts."""
    handler = ScriptedHandler(script={"a": [TransientError("pos", "down", status=503) for _ in range(10)]})
    await store.enqueue([NewJob("sale", "a", {})])

    async def dead() -> bool:
        return len(await store.dead_letters("sale")) == 1

    await run_until(runner_for(store, handler, Metrics(), attempts=3), dead)
    assert handler.handled == ["a", "a", "a"]


async def test_limit_exceeded_pauses_outbound_work(store: Store) -> None:
    """REQUEST_LIMIT_EXCEEDED pauses all claiming and puts the job back without dead-lettering it."""
    pause = Pause()
    handler = ScriptedHandler(script={"a": [LimitExceeded("salesforce", "TotalRequests Limit exceeded.")]})
    await store.enqueue([NewJob("sale", "a", {}), NewJob("sale", "b", {})])

    async def paused() -> bool:
        return pause.remaining() > 0

    await run_until(runner_for(store, handler, Metrics(), pause=pause), paused)
    first = await store.get_job(1)
    assert first is not None and first.state == "pending" and "Limit exceeded" in (first.last_error or "")
    assert first.next_attempt_at > first.updated_at  # put back for later, attempts budget untouched by dead letter
    assert not await store.dead_letters()
    assert pause.remaining() > 30


@dataclass
class Event:
    replay_id: int
    fulfillment_order_id: str | None
    new_status: str | None
    event_uuid: str | None = None
    old_status: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    keepalive: bool = False


async def events(items: list[Event]) -> AsyncIterator[Event]:
    for item in items:
        yield item


async def test_ingest_keeps_statuses_case_insensitively_and_advances_cursor(store: Store) -> None:
    """Only events in OMSStatusesToProcess (any case) are stored; the cursor reaches the last replay id."""
    ingest = Ingest(store, "/event/FOStatusChangedEvent", frozenset({"allocated"}), Metrics())
    stream = [
        Event(3, "FO1", "Allocated", "u1"), Event(5, "FO2", "Pickpack", "u2"), Event(9, "FO3", "ALLOCATED", "u3"),
        Event(11, "FO1", "Allocated", "u4"),  # same FO + status again: a duplicate
        Event(12, None, "Allocated", "u5"),
    ]
    await ingest.run(events(stream), asyncio.Event())
    jobs = await store.claim("fo_import", 10, worker_id="t", lease_seconds=5)
    assert sorted(j.payload["fo_id"] for j in jobs) == ["FO1", "FO3"]
    assert await store.get_cursor("/event/FOStatusChangedEvent") == 12


async def test_ingest_commit_is_atomic_with_the_cursor(store: Store) -> None:
    """Replaying already-stored events after a restart stores nothing twice and keeps the cursor."""
    ingest = Ingest(store, "ch", frozenset({"allocated"}), Metrics())
    batch: list[Any] = [Event(1, "FO1", "Allocated", "u1"), Event(2, "FO2", "Allocated", "u2")]
    assert await ingest.commit(batch) == 2
    assert await ingest.commit(batch) == 0
    assert await store.get_cursor("ch") == 2


@dataclass
class BatchRecorder:
    queue: str = "sale"
    batches: list[int] = field(default_factory=list)

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        self.batches.append(len(jobs))
        for job in jobs:
            outcome.complete(job)


@pytest.mark.parametrize(("window", "fewest", "most"), [(0.3, 1, 3), (0.0, 5, 10)])
async def test_batch_window_gathers_jobs_arriving_one_by_one(store: Store, window: float, fewest: int,
                                                             most: int) -> None:
    """With a batch window, jobs that trickle in one at a time share batches; without, each may go alone."""
    handler = BatchRecorder()
    wakeup = asyncio.Event()
    runner = QueueRunner(store, handler, worker_id="t", retry=RetryPolicy(attempts=1), metrics=Metrics(),
                         pause=Pause(), batch_size=50, concurrency=4, lease_seconds=30, poll_seconds=0.02,
                         wakeup=wakeup, batch_window=window)

    async def trickle() -> None:
        for n in range(10):
            await store.enqueue([NewJob("sale", f"j{n}", {})])
            wakeup.set()
            await asyncio.sleep(0.03)

    async def done() -> bool:
        return (await store.queue_counts()).get("sale", {}).get("done") == 10

    feeder = asyncio.create_task(trickle())
    await run_until(runner, done)
    await feeder
    assert sum(handler.batches) == 10 and fewest <= len(handler.batches) <= most
