"""The sale sweep: the guide's fallback "order export job" for sales whose webhook never arrived.

Every ``interval_seconds`` the POS order search (``sa/orders/search``, ``{"fromDate": <epoch ms>}``, paged) is
asked for the sales dated since the previous sweep started, less ``overlap_seconds`` (late uploads, clock skew).
Each sale becomes the queue rows its export webhook would have made (:func:`worker.webhook_jobs.build_jobs`, same
endpoint, dedupe key and ordering key), so a sale that also arrives by webhook — before or after — is stored once,
and the poster's durable checks keep it posted once. A sale whose status changed since its export gets a new key;
its job finds the sale already posted and does nothing. Orders that came from Salesforce (they carry the
``externalOrderId`` of an imported FulfillmentOrder) are not POS sales and are skipped, as their
BOPIS_EXPORT/BOFIS_EXPORT webhooks are. A sale the webhook would refuse is stored as a refused-sale row
(:mod:`worker.refused_sales`) that the poster dead-letters, never only logged. The cursor moves only after every
page is stored; a failed sweep is retried with backoff, never skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

import structlog
from pydantic import ValidationError

from worker.metrics import Metrics
from worker.refused_sales import EXPORT, QUEUE, Refusal, field_and_reason, refused_job, sale_id_of
from worker.store import NewJob, Store
from worker.webhook_jobs import ENDPOINT_QUEUES, InvalidField, build_jobs, export_endpoint

from .periodic import FAILED_SWEEP_RETRY, sweep_every

log = structlog.get_logger(__name__)
META_KEY = "sale_sweep.last_sweep_started_ms"
PAGE_SIZE = 200


class SaleSearchApi(Protocol):
    def sale_pages(self, query: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]: ...


def sweep_jobs(sales: list[dict[str, Any]]) -> tuple[list[NewJob], list[str]]:
    """The webhook's queue rows for each POS sale, and ``orderId: reason`` of those the webhook would refuse."""
    jobs, refusals = sale_rows(sales, "sale_sweep")
    return jobs, [refusal.describe() for refusal in refusals]


def sale_rows(sales: list[dict[str, Any]], source: str) -> tuple[list[NewJob], list[Refusal]]:
    """The webhook's queue rows for each POS sale, and the refusal (field, reason, body) of each it would refuse
    (stored by the caller as :func:`worker.refused_sales.refused_job` rows, never only logged)."""
    jobs: list[NewJob] = []
    refused: list[Refusal] = []
    for body in sales:
        if body.get("externalOrderId"):
            continue  # a Salesforce order imported into the POS, not a POS sale
        endpoint = export_endpoint(body)
        queue = ENDPOINT_QUEUES[endpoint]
        assert queue is not None
        try:
            jobs.extend(build_jobs(endpoint, queue, body))
        except (ValidationError, InvalidField) as exc:
            field, reason = field_and_reason(exc)
            refused.append(Refusal(source, sale_id_of(body, "orderId"), field, reason, EXPORT, body))
    return jobs, refused


async def store_refused(store: Store, refusals: list[Refusal], metrics: Metrics | None) -> int:
    """Store one dead-letter-bound row per refused sale (durable before the caller's cursor moves); count the new
    ones in ``oms_sales_refused_total{source}`` (a sale seen again is neither stored nor counted twice)."""
    if not refusals:
        return 0
    added = 0
    for refusal in refusals:  # one by one: the metric counts each sale once, by its source
        if await store.enqueue([refused_job(refusal)]):
            added += 1
            if metrics is not None:
                metrics.sales_refused.labels(refusal.source).inc()
    log.warning(f"{refusals[0].source}_refused", count=len(refusals), stored=added,
                sales=[refusal.describe() for refusal in refusals[:10]])
    return added


class SaleSweep:
    def __init__(
        self,
        store: Store,
        pos: SaleSearchApi,
        *,
        interval_seconds: float,
        overlap_seconds: float,
        notify: Mapping[str, Callable[[], None]] | None = None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self.store, self.pos, self.metrics = store, pos, metrics
        self.interval, self.overlap_ms = interval_seconds, int(overlap_seconds * 1000)
        self.notify, self.clock = dict(notify or {}), clock
        self._lock = asyncio.Lock()
        self.sweeps = 0

    async def sweep(self) -> int:
        """One pass; returns how many queue rows were newly stored (sales the store had not seen)."""
        async with self._lock:
            started = int(self.clock() * 1000)
            last = await self.store.meta_get(META_KEY)
            since = (int(last) if last else started) - self.overlap_ms
            found = inserted = 0
            refused: list[Refusal] = []
            queues: set[str] = set()
            async for page in self.pos.sale_pages({"fromDate": since, "pageSize": PAGE_SIZE}):
                jobs, bad = sale_rows(page, "sale_sweep")
                found, refused = found + len(page), refused + bad
                if jobs:
                    added = await self.store.enqueue(jobs)
                    inserted += added
                    if added:
                        queues.update(job.queue for job in jobs)
            if await store_refused(self.store, refused, self.metrics):  # before the cursor moves past them
                queues.add(QUEUE)
            await self.store.meta_set(META_KEY, str(started))
            self.sweeps += 1
            log.info("sale_sweep_swept", since_ms=since, found=found, enqueued=inserted)
            for queue in sorted(queues):
                self.notify.get(queue, lambda: None)()
            return inserted

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep now and every interval until ``stop``; a failed sweep (POS or store down) backs off and retries."""
        await sweep_every(self.interval, self.sweep, stop, failed_event="sale_sweep_failed", retry=FAILED_SWEEP_RETRY)
