"""The durable-queue runner every flow uses: claim, handle, then complete / retry later / dead letter.

Progress is committed only after the effect is durable: a handler completes a job after its outside effect
succeeded; a crash in between leaves the job leased, and the lease expiry hands it to the next claimer (the
handlers make that re-run harmless: ledger, idempotent POS import, OrderReferenceNumber look-up).

Failure rules (DESIGN.md): transient -> retry with backoff up to ``attempts`` then dead letter; permanent -> dead
letter at once; API limit -> pause all outbound work and retry later without spending an attempt's budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
import structlog
from pydantic import ValidationError

from worker.errors import LimitExceeded, PermanentError, TransientError
from worker.metrics import Metrics
from worker.retry import RetryPolicy
from worker.store import Job, Store

log = structlog.get_logger(__name__)

TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    TransientError, aiohttp.ClientError, asyncio.TimeoutError, ConnectionError,
)
LIMIT_PAUSE_SECONDS = 60.0


@dataclass
class Pause:
    """Shared by all runners: while paused (API allowance spent), nobody claims outbound work."""

    until: float = 0.0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def pause_for(self, seconds: float) -> None:
        self.until = max(self.until, time.monotonic() + seconds)
        self.changed.set()

    def remaining(self) -> float:
        return max(0.0, self.until - time.monotonic())


class Outcome:
    """What a handler reports per job; the runner turns it into store calls."""

    def __init__(self) -> None:
        self.done: list[int] = []
        self.failed: list[tuple[Job, BaseException]] = []

    def complete(self, job: Job) -> None:
        self.done.append(job.id)

    def fail(self, job: Job, exc: BaseException) -> None:
        self.failed.append((job, exc))


class Handler(Protocol):
    queue: str

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        """Process a claimed batch; report each job to ``outcome`` (unreported jobs are released)."""


def classify(exc: BaseException) -> str:
    """'limit' | 'transient' | 'permanent' for an exception raised while handling a job."""
    if isinstance(exc, LimitExceeded):
        return "limit"
    if isinstance(exc, TRANSIENT_EXCEPTIONS):
        return "transient"
    if isinstance(exc, PermanentError | ValidationError | ValueError | KeyError | TypeError):
        return "permanent"
    return "transient"  # an unexpected error: retry a bounded number of times, then dead letter


class QueueRunner:
    def __init__(
        self,
        store: Store,
        handler: Handler,
        *,
        worker_id: str,
        retry: RetryPolicy,
        metrics: Metrics,
        pause: Pause,
        batch_size: int = 20,
        concurrency: int = 4,
        lease_seconds: float = 120.0,
        poll_seconds: float = 0.5,
        wakeup: asyncio.Event | None = None,
        heartbeat: Callable[[], None] | None = None,
        batch_window: float = 0.0,
    ) -> None:
        self.store, self.handler, self.worker_id = store, handler, worker_id
        self.retry, self.metrics, self.pause = retry, metrics, pause
        self.batch_size, self.concurrency = batch_size, concurrency
        self.lease_seconds, self.poll_seconds = lease_seconds, poll_seconds
        self.wakeup = wakeup or asyncio.Event()
        self.heartbeat = heartbeat or (lambda: None)
        # After a claim that did not fill a batch, wait this long before the next one so that a burst arriving
        # job by job shares calls (many graphs per request, one collection PATCH); adds at most this latency.
        self.batch_window = batch_window

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and process until ``stop`` is set; in-flight batches finish (the caller bounds the grace)."""
        slots = asyncio.Semaphore(self.concurrency)
        gather = False  # the last claim came back short: let the next batch gather for batch_window
        async with asyncio.TaskGroup() as group:
            while not stop.is_set():
                self.heartbeat()
                if self.pause.remaining() > 0:
                    await _wait_any([stop.wait()], timeout=min(self.pause.remaining(), 1.0))
                    continue
                if gather and self.batch_window > 0:
                    await _wait_any([stop.wait()], timeout=self.batch_window)
                await slots.acquire()
                jobs: list[Job] = []
                try:
                    if not stop.is_set():
                        jobs = await self.store.claim(
                            self.handler.queue, self.batch_size,
                            worker_id=self.worker_id, lease_seconds=self.lease_seconds,
                        )
                except Exception as exc:  # the store is down: say so, wait, try again
                    log.error("claim_failed", queue=self.handler.queue, error=str(exc))
                    jobs = []
                    slots.release()
                    await _wait_any([stop.wait()], timeout=self.poll_seconds * 4)
                    continue
                gather = len(jobs) < self.batch_size
                if not jobs:
                    slots.release()
                    self.wakeup.clear()
                    await _wait_any([stop.wait(), self.wakeup.wait()], timeout=self.poll_seconds)
                    continue
                group.create_task(self._run_batch(jobs, slots))

    async def _run_batch(self, jobs: list[Job], slots: asyncio.Semaphore) -> None:
        outcome = Outcome()
        try:
            try:
                await self.handler.handle(jobs, outcome)
            except asyncio.CancelledError:
                await asyncio.shield(self._settle(jobs, outcome, release_rest=True))
                raise
            except Exception as exc:  # the whole batch failed the same way (e.g. the batch query)
                reported = set(outcome.done) | {job.id for job, _ in outcome.failed}
                for job in jobs:
                    if job.id not in reported:
                        outcome.fail(job, exc)
            await self._settle(jobs, outcome, release_rest=True)
        finally:
            slots.release()

    async def _settle(self, jobs: Sequence[Job], outcome: Outcome, *, release_rest: bool) -> None:
        if outcome.done:
            await self.store.complete(outcome.done)
        for job, exc in outcome.failed:
            await self._fail(job, exc)
        reported = set(outcome.done) | {job.id for job, _ in outcome.failed}
        rest = [job.id for job in jobs if job.id not in reported]
        if rest and release_rest:
            await self.store.release(rest)

    async def _fail(self, job: Job, exc: BaseException) -> None:
        kind = classify(exc)
        error = _describe(exc)
        queue = self.handler.queue
        if kind == "limit":
            # A rate limit that says when to come back (POS 429 + Retry-After) pauses that long; a spent
            # allowance without a hint (REQUEST_LIMIT_EXCEEDED) pauses LIMIT_PAUSE_SECONDS.
            hint = getattr(exc, "retry_after", None)
            seconds = float(hint) if isinstance(hint, int | float) and hint > 0 else LIMIT_PAUSE_SECONDS
            self.pause.pause_for(seconds)
            self.metrics.paused.set(1)
            log.warning("outbound_paused", queue=queue, seconds=seconds, error=error)
            await self.store.retry_later(job.id, error, seconds)
            return
        if kind == "transient" and job.attempts < self.retry.attempts:
            delay = self.retry.delay_for(job.attempts)
            hint = getattr(exc, "retry_after", None)
            if isinstance(hint, int | float):
                delay = max(delay, float(hint))
            self.metrics.retries.labels(queue).inc()
            log.warning("job_retry_scheduled", queue=queue, job_id=job.id, attempt=job.attempts,
                        delay_s=round(delay, 2), error=error)
            await self.store.retry_later(job.id, error, delay)
            return
        self.metrics.dead_letters.labels(queue).inc()
        log.error("job_dead_lettered", queue=queue, job_id=job.id, attempts=job.attempts, kind=kind, error=error)
        await self.store.dead_letter(job.id, error)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:2000]


async def _wait_any(waiters: list[Awaitable[object]], timeout: float) -> None:
    tasks = [asyncio.ensure_future(w) for w in waiters]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
