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
SETTLE_ATTEMPTS = 5  # store writes that settle a batch; past them the lease expiry hands the jobs on


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


class Lease:
    """A claim's hold on its jobs. The runner renews it on a heartbeat while the handler runs; a job whose lease
    was lost (another claimer holds it now) is never settled by this runner, and a handler asks ``confirm`` right
    before an outside call so that it never starts one for a job it no longer holds."""

    def __init__(self, store: Store, jobs: Sequence[Job], lease_seconds: float) -> None:
        self.store, self.jobs, self.lease_seconds = store, list(jobs), lease_seconds
        self.lost: set[int] = set()

    def holds(self, job: Job) -> bool:
        return job.id not in self.lost

    async def renew(self, jobs: Sequence[Job] | None = None) -> list[Job]:
        """Extend the lease of ``jobs`` (default: all still held); the ones still held. Raises if the store does."""
        asked = [job for job in (self.jobs if jobs is None else jobs) if self.holds(job)]
        if not asked:
            return []
        kept = await self.store.renew(asked, self.lease_seconds)
        for job in asked:
            if job.id not in kept:
                self.lost.add(job.id)
                log.warning("job_lease_lost", queue=job.queue, job_id=job.id)
        return [job for job in asked if job.id in kept]

    async def keep(self) -> None:
        """Heartbeat: renew every third of the lease until cancelled; a store error is logged and retried."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                if not await self.renew():
                    return
            except Exception as exc:
                log.warning("lease_renew_failed", error=f"{type(exc).__name__}: {exc}"[:300])


class Outcome:
    """What a handler reports per job; the runner turns it into store calls."""

    def __init__(self, lease: Lease | None = None) -> None:
        self.done: list[int] = []
        self.failed: list[tuple[Job, BaseException]] = []
        self.lease = lease

    def complete(self, job: Job) -> None:
        self.done.append(job.id)

    def fail(self, job: Job, exc: BaseException) -> None:
        self.failed.append((job, exc))

    def holds(self, job: Job) -> bool:
        """False once the job's lease was lost: start no further outside call for it."""
        return self.lease is None or self.lease.holds(job)

    async def confirm(self, jobs: Sequence[Job]) -> list[Job]:
        """Right before an outside call: renew the jobs' lease now; the ones still held (lost ones are dropped,
        never reported: their new holder settles them)."""
        if self.lease is None:
            return list(jobs)
        return await self.lease.renew(jobs)


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
        lease = Lease(self.store, jobs, self.lease_seconds)
        outcome = Outcome(lease)
        keeper = asyncio.ensure_future(lease.keep())
        try:
            try:
                await self.handler.handle(jobs, outcome)
            except asyncio.CancelledError:
                keeper.cancel()
                await asyncio.shield(self._settle(jobs, outcome))
                raise
            except Exception as exc:  # the whole batch failed the same way (e.g. the batch query)
                reported = set(outcome.done) | {job.id for job, _ in outcome.failed}
                for job in jobs:
                    if job.id not in reported:
                        outcome.fail(job, exc)
            keeper.cancel()
            await self._settle(jobs, outcome)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            slots.release()

    async def _settle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        """Write what happened; unreported jobs go back to the queue. Jobs whose lease was lost are left to their
        new holder (the store's fencing refuses them anyway). A store that fails here is retried a few times;
        if it stays down, the lease runs out and the job is claimed again (its effects are noted durably)."""
        held = {job.id: job for job in jobs if outcome.holds(job)}
        done = [held[i] for i in outcome.done if i in held]
        reported = set(outcome.done) | {job.id for job, _ in outcome.failed}
        rest = [job for job in held.values() if job.id not in reported]
        await self._store_write("complete", lambda: self.store.complete(done), len(done))
        if done:
            self.metrics.outcomes.record(self.handler.queue, True, len(done))
        for job, exc in outcome.failed:
            if job.id in held:
                await self._fail(job, exc)
        await self._store_write("release", lambda: self.store.release(rest), len(rest))

    async def _store_write(self, what: str, call: Callable[[], Awaitable[int | bool]], expected: int) -> None:
        if expected == 0:
            return
        for attempt in range(SETTLE_ATTEMPTS):
            try:
                changed = int(await call())
                if changed < expected:
                    log.warning("job_settle_fenced", queue=self.handler.queue, action=what,
                                lost=expected - changed)
                return
            except Exception as exc:
                log.error("job_settle_failed", queue=self.handler.queue, action=what, attempt=attempt + 1,
                          error=f"{type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(min(self.poll_seconds * 2 ** attempt, 5.0))

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
            await self._store_write("retry_later", lambda: self.store.retry_later(job, error, seconds), 1)
            return
        if kind == "transient" and job.attempts < self.retry.attempts:
            delay = self.retry.delay_for(job.attempts)
            hint = getattr(exc, "retry_after", None)
            if isinstance(hint, int | float):
                delay = max(delay, float(hint))
            self.metrics.retries.labels(queue).inc()
            log.warning("job_retry_scheduled", queue=queue, job_id=job.id, attempt=job.attempts,
                        delay_s=round(delay, 2), error=error)
            await self._store_write("retry_later", lambda: self.store.retry_later(job, error, delay), 1)
            return
        self.metrics.dead_letters.labels(queue).inc()
        self.metrics.outcomes.record(queue, False)
        log.error("job_dead_lettered", queue=queue, job_id=job.id, attempts=job.attempts, kind=kind, error=error)
        await self._store_write("dead_letter", lambda: self.store.dead_letter(job, error), 1)


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
