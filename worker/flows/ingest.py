"""Stream -> durable inbox. The replay cursor advances in the same transaction as the inbox insert.

A reader task drains the CometD iterator into a bounded in-memory buffer; the writer commits everything that has
arrived as one transaction (one fsync for a burst instead of one per event). Nothing in the buffer is
acknowledged anywhere: after a crash the stream replays from the stored cursor, and the inbox's unique keys drop
what was already stored.

A store that cannot take the commit (PostgreSQL down, disk full) never ends the loop: the same batch is retried with
backoff until it is stored, while the bounded buffer holds the stream back. Stopping during such an outage leaves
the batch uncommitted, which is safe for the same reason a crash is: the cursor did not move past it.

The cursor is a CometD replayId (int: the batch's greatest) or a Pub/Sub replay id (opaque bytes: the batch's last,
events arrive in stream order). A ``keepalive`` item carries only a replay id (Pub/Sub's empty keepalive answers):
it moves the cursor in order with the events before it, so a quiet channel never falls out of the retention
window, and is not counted as an event. After each commit ``on_committed`` gets the batch: the stream's flow
control asks the server for more only then.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog

from worker.metrics import Metrics
from worker.retry import RetryPolicy
from worker.store import Cursor, NewJob, Store

log = structlog.get_logger(__name__)
IMPORT_QUEUE = "fo_import"
BUFFER = 1000  # events read ahead of the store (two commit batches): bounds memory during a replay
MAX_BATCH = 500
STORE_RETRY = RetryPolicy(attempts=1_000_000, base_delay=0.2, max_delay=5.0)  # while the store is unavailable


class EventLike(Protocol):
    replay_id: Cursor
    keepalive: bool  # a replay id only (no event): moves the cursor, nothing else
    event_uuid: str | None
    fulfillment_order_id: str | None
    new_status: str | None
    old_status: str | None
    payload: dict[str, Any]


def import_job(fo_id: str, status: str, *, event_uuid: str | None, replay_id: Cursor | None, source: str) -> NewJob:
    """The inbox row for one FO reaching a to-process status (stream and reconciliation share the key)."""
    shown = base64.b64encode(replay_id).decode("ascii") if isinstance(replay_id, bytes) else replay_id
    return NewJob(
        queue=IMPORT_QUEUE,
        dedupe_key=f"{fo_id}:{status.casefold()}",
        payload={"fo_id": fo_id, "status": status, "replay_id": shown, "source": source,
                 "received_at": time.time()},
        ordering_key=fo_id,
        event_uuid=event_uuid,
    )


def event_lag_seconds(payload: dict[str, Any], now: float) -> float | None:
    created = payload.get("CreatedDate")
    if not isinstance(created, str):
        return None
    try:
        stamp = datetime.fromisoformat(created.replace("Z", "+00:00").replace("+0000", "+00:00"))
    except ValueError:
        return None
    return max(0.0, now - stamp.timestamp())


def latest_cursor(events: Sequence[EventLike]) -> Cursor:
    """The cursor a committed batch advances to: the greatest int replayId, else the last opaque replay id."""
    ids = [event.replay_id for event in events]
    if all(isinstance(i, int) for i in ids):
        return max(i for i in ids if isinstance(i, int))
    return ids[-1]


class Ingest:
    def __init__(
        self,
        store: Store,
        channel: str,
        statuses: frozenset[str],
        metrics: Metrics,
        *,
        on_enqueued: Callable[[], None] = lambda: None,
        heartbeat: Callable[[], None] = lambda: None,
        retry: RetryPolicy = STORE_RETRY,
        on_committed: Callable[[Sequence[EventLike]], None] = lambda _events: None,
    ) -> None:
        self.store, self.channel, self.statuses, self.metrics = store, channel, statuses, metrics
        self.on_enqueued, self.heartbeat, self.retry = on_enqueued, heartbeat, retry
        self.on_committed = on_committed
        self.committed_replay_id: Cursor | None = None

    def keep(self, event: EventLike) -> bool:
        if event.keepalive or not (event.fulfillment_order_id and event.new_status):
            return False
        return event.new_status.casefold() in self.statuses

    async def commit(self, events: list[EventLike]) -> int:
        """Store the kept events and advance the cursor to the last replay id, atomically."""
        if not events:
            return 0
        jobs = []
        for event in events:
            if self.keep(event):
                assert event.fulfillment_order_id and event.new_status
                jobs.append(import_job(event.fulfillment_order_id, event.new_status,
                                       event_uuid=event.event_uuid, replay_id=event.replay_id, source="stream"))
        last = latest_cursor(events)
        inserted = await self.store.enqueue(jobs, cursor=(self.channel, last))
        self.committed_replay_id = last
        self.on_committed(events)
        received = sum(1 for event in events if not event.keepalive)
        self.metrics.events_received.inc(received)  # counted once stored: a retried batch is not counted twice
        if received > len(jobs):
            self.metrics.events_skipped.labels("status_not_processed").inc(received - len(jobs))
        now = time.time()
        for event in events:
            lag = event_lag_seconds(event.payload, now)
            if lag is not None:
                self.metrics.stream_lag.set(lag)
        shown = base64.b64encode(last).decode("ascii") if isinstance(last, bytes) else last
        log.info("events_committed", received=received, kept=len(jobs), inserted=inserted, replay_id=shown)
        if inserted:
            self.on_enqueued()
        return inserted

    async def run(self, events: AsyncIterator[EventLike], stop: asyncio.Event) -> None:
        buffer: asyncio.Queue[EventLike] = asyncio.Queue(BUFFER)
        reader_done = asyncio.Event()

        async def read() -> None:
            try:
                async for event in events:
                    await buffer.put(event)
                    if stop.is_set():
                        break
            finally:
                reader_done.set()

        async with asyncio.TaskGroup() as group:
            reader = group.create_task(read())
            try:
                while not (reader_done.is_set() and buffer.empty()):
                    getter = asyncio.ensure_future(buffer.get())
                    stopper = asyncio.ensure_future(stop.wait())
                    done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    stopper.cancel()
                    if getter not in done:
                        getter.cancel()
                        break
                    batch = [getter.result()]
                    while not buffer.empty() and len(batch) < MAX_BATCH:
                        batch.append(buffer.get_nowait())
                    await self._commit_retrying(batch, stop)
                # Drain: commit what already arrived, so the replay need not repeat it.
                rest: list[EventLike] = []
                while not buffer.empty():
                    rest.append(buffer.get_nowait())
                await self._commit_retrying(rest, stop)
            finally:
                reader.cancel()

    async def _commit_retrying(self, events: list[EventLike], stop: asyncio.Event) -> None:
        """``commit``, retried with backoff while the store fails; given up (left to the replay) once stopping."""
        failures = 0
        while True:
            try:
                await self.commit(events)
            except Exception as exc:
                failures += 1
                error = f"{type(exc).__name__}: {exc}"[:300]
                if stop.is_set():
                    log.warning("events_left_uncommitted", count=len(events), error=error)  # replayed on restart
                    return
                delay = self.retry.delay_for(failures)
                log.error("events_commit_failed", count=len(events), attempt=failures, delay_s=round(delay, 2),
                          error=error)
                self.heartbeat()  # alive and retrying: liveness must not restart a worker waiting for its store
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass
                continue
            if failures:
                log.info("events_commit_recovered", count=len(events), attempts=failures + 1)
            return
