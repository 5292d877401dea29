"""The gap sweep: FOs in OMSStatusesToProcess matching FilterQuery that the ledger lacks are put in the inbox.

It runs at start-up, every ``interval_seconds``, and when the stream reports a gap (:meth:`Reconciler.after_gap`).
It never imports by itself: it enqueues the same inbox rows the stream would (same dedupe key), and the importer's
ledger check keeps it exactly-once. Rows are read page by page (memory stays bounded on a large backlog); a sweep stops
at ``SWEEP_LIMIT`` rows and asks for another, which continues strictly after its last row (LastModifiedDate, Id).
A sweep that fails (store unavailable, Salesforce down) is retried with backoff, not an interval later.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from worker.config import SalesforceConfig
from worker.mapping.fulfillment_query import build_reconcile_query
from worker.mapping.money import EPOCH, ms_to_sf_datetime, parse_sf_datetime
from worker.metrics import Metrics
from worker.store import Store

from .ingest import import_job
from .periodic import FAILED_SWEEP_RETRY, sweep_every

log = structlog.get_logger(__name__)
META_KEY = "reconcile.last_sweep_started"
AFTER_KEY = "reconcile.continue_after"  # a capped sweep's last row [LastModifiedDate (SOQL), Id, run start], or ""
PAGE = 2000  # rows checked against the ledger and enqueued together
SWEEP_LIMIT = PAGE * 25  # rows per sweep; the next sweep starts where this one stopped


class SweepApi(Protocol):
    def query_iter(self, soql: str) -> AsyncIterator[dict[str, Any]]: ...


def soql_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reconciler:
    def __init__(
        self,
        store: Store,
        salesforce: SweepApi,
        sf: SalesforceConfig,
        metrics: Metrics,
        *,
        interval_seconds: float,
        overlap_seconds: float,
        on_enqueued: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.salesforce, self.sf, self.metrics = store, salesforce, sf, metrics
        self.interval, self.overlap = interval_seconds, overlap_seconds
        self.on_enqueued, self.clock = on_enqueued, clock
        self.requested = asyncio.Event()
        self._lock = asyncio.Lock()
        self.started = self.sweeps = 0  # sweeps begun / completed
        self.continuation: tuple[str, str] | None = None  # where the last sweep stopped at SWEEP_LIMIT, if it did
        self.last_error: str | None = None  # why the last sweep failed, None once one succeeds

    @property
    def capped(self) -> bool:
        """The last sweep stopped at SWEEP_LIMIT: rows past its last one are still to sweep."""
        return self.continuation is not None

    async def sweep(self, *, full: bool = False) -> int:
        """One pass; returns how many FOs were newly put in the inbox. ``last_error`` (on /status) says why the last
        pass failed, until one succeeds."""
        async with self._lock:
            try:
                inserted = await self._sweep(full)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                raise
            self.last_error = None
            return inserted

    async def _sweep(self, full: bool) -> int:
        self.started += 1
        started = self.clock()
        last = None if full else await self.store.meta_get(META_KEY)
        chain = None if full else _continuation(await self.store.meta_get(AFTER_KEY))
        after = chain[:2] if chain else None
        # a run of capped sweeps ends by setting the watermark to the run's first start: the sweep after it
        # reaches back (less the overlap) over rows committed late with a date before a continuation's row
        chain_started = chain[2] if chain and chain[2] else started.isoformat()
        since = None
        if last and after is None:
            since = soql_datetime(datetime.fromisoformat(last) - timedelta(seconds=self.overlap))
        soql = build_reconcile_query(self.sf.OMSStatusesToProcess, self.sf.FilterQuery, since, SWEEP_LIMIT,
                                     after=after)
        seen, counts = 0, [0, 0]  # rows read; [missing from the ledger, newly inserted]
        last_modified: str | None = None
        last_id = ""
        page: list[dict[str, Any]] = []
        async for row in self.salesforce.query_iter(soql):
            page.append(row)
            seen += 1
            last_modified = str(row.get("LastModifiedDate") or "") or last_modified
            last_id = str(row["Id"])
            if len(page) >= PAGE:
                await self._enqueue(page, counts)
                page = []
        if page:
            await self._enqueue(page, counts)
        missing, inserted = counts
        # capped: the next sweep continues strictly after this one's last row (keyset, no overlap: a sweep
        # always moves on); else the next one starts from the run's first start less the overlap
        last_ms = parse_sf_datetime(last_modified) if seen >= SWEEP_LIMIT and last_modified else None
        continuation = None if last_ms is None else (ms_to_sf_datetime(last_ms), last_id)
        if continuation is not None and continuation == after:  # the org ignored the continuation
            # raised before anything is stored or requested: the periodic loop backs off instead of sweeping
            # the same rows again at once, and a gap sweep is not taken as covered
            log.error("reconcile_sweep_stuck", after=after)
            raise RuntimeError("the reconciliation sweep did not move past its last row")
        self.continuation = continuation
        await self.store.meta_set(META_KEY, chain_started if last_ms is None
                                  else (EPOCH + timedelta(milliseconds=last_ms)).isoformat())
        await self.store.meta_set(AFTER_KEY, json.dumps([*self.continuation, chain_started])
                                  if self.continuation else "")
        if self.capped:
            self.requested.set()  # more rows than one sweep takes: continue soon
        self.sweeps += 1
        log.info("reconcile_swept", since=since, after=after, candidates=seen, missing=missing,
                 enqueued=inserted, capped=self.capped)
        if inserted:
            self.on_enqueued()
        return inserted

    async def _enqueue(self, rows: list[dict[str, Any]], counts: list[int]) -> None:
        """Put the rows the ledger lacks in the inbox; add (missing, newly inserted) to ``counts``."""
        ids = [str(row["Id"]) for row in rows]
        ledger = await self.store.ledger_get(ids)
        missing = [row for row in rows if str(row["Id"]) not in ledger]
        jobs = [import_job(str(row["Id"]), str(row.get("Status") or self.sf.OMSStatusesToProcess[0]),
                           event_uuid=None, replay_id=None, source="reconcile") for row in missing]
        counts[0] += len(missing)
        counts[1] += await self.store.enqueue(jobs) if jobs else 0

    async def after_gap(self, reason: str, *, cursor_key: str) -> None:
        """The stream may have missed events (``reason``: invalid_replay, transport_switch, reopened_at_latest,
        first_subscription): sweep now, on past the cap, then forget a refused replay id (resumed from again, it
        would be refused again). A failed sweep raises and forgets nothing: the stream retries. The process's first
        subscription needs no sweep of its own while the start-up sweep, which waits for it, has not begun."""
        if reason == "first_subscription" and not self.started:
            # no await before this return: the stream is placed right after, so the start-up sweep (which waits
            # for that) either began before this check, and is counted, or begins after the subscription
            log.info("stream_gap_left_to_start_up_sweep", reason=reason, cursor=cursor_key)
            return
        log.warning("stream_gap_reconciling", reason=reason, cursor=cursor_key)
        await self.sweep()
        while self.capped:  # a sweep that does not move on raises (see sweep): the gap is then not covered
            await self.sweep()
        if reason == "invalid_replay":
            await self.store.reset_cursor(cursor_key)

    async def run(self, stop: asyncio.Event, *, subscribed: Callable[[], bool] | None = None,
                  wait_seconds: float = 60.0) -> None:
        """Sweep now and every interval. The first sweep waits (bounded) until the stream is subscribed: events
        published before the subscription are then found by the sweep, and events after it by the stream."""
        if subscribed is not None:
            deadline = asyncio.get_running_loop().time() + wait_seconds
            while not subscribed() and not stop.is_set() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
        await sweep_every(self.interval, self.sweep, stop, failed_event="reconcile_failed", wake=self.requested,
                          retry=FAILED_SWEEP_RETRY)


def _continuation(stored: str | None) -> tuple[str, str, str | None] | None:
    """The stored continuation (see AFTER_KEY); None when there is none or it is unreadable (then the next sweep
    starts from the watermark less the overlap, which repeats rows but skips none)."""
    try:
        modified, last_id, *rest = json.loads(stored) if stored else (None, None)
    except (ValueError, TypeError):
        return None
    chain_started = rest[0] if rest and isinstance(rest[0], str) else None
    if isinstance(modified, str) and isinstance(last_id, str) and last_id:
        return modified, last_id, chain_started
    return None
