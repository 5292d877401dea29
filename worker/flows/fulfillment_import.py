"""Inbox -> one SOQL per batch (+ one for the orders' payments) -> pure mapping -> idempotent POS import -> ledger.

Exactly-once in effect: the ledger (FO Id -> POS order id) is checked before importing, and the POS import is
idempotent on externalOrderId = FO Id, so a crash between the POS call and the ledger write re-imports harmlessly
(the POS answers "duplicate" with the existing order).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Protocol

import structlog

from worker.config import SalesforceConfig
from worker.mapping.fulfillment import fo_to_pos_order
from worker.mapping.fulfillment_query import build_fulfillment_query, build_payments_query
from worker.metrics import Metrics
from worker.pos.base import PosApi
from worker.store import Job, LedgerEntry, Store

from .runner import Outcome

log = structlog.get_logger(__name__)


class QueryApi(Protocol):
    async def query(self, soql: str) -> list[dict[str, Any]]: ...


class FulfillmentImporter:
    queue = "fo_import"

    def __init__(
        self,
        store: Store,
        salesforce: QueryApi,
        pos: PosApi,
        sf: SalesforceConfig,
        metrics: Metrics,
        *,
        pos_concurrency: int = 8,
    ) -> None:
        self.store, self.salesforce, self.pos, self.sf, self.metrics = store, salesforce, pos, sf, metrics
        self.statuses = sf.statuses_to_process()
        self.pos_slots = asyncio.Semaphore(pos_concurrency)

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        fo_ids = list(dict.fromkeys(str(job.payload["fo_id"]) for job in jobs))
        ledger = await self.store.ledger_get(fo_ids)
        todo = [fo_id for fo_id in fo_ids if fo_id not in ledger]
        records: dict[str, dict[str, Any]] = {}
        payments: dict[str, list[dict[str, Any]]] = {}
        if todo:
            soql = build_fulfillment_query(todo, self.sf.FilterQuery, self.sf.OMSCustomField)
            async with asyncio.TaskGroup() as queries:  # the payments query does not wait for the FO query
                found = queries.create_task(self.salesforce.query(soql))
                paid = queries.create_task(self._payments(todo))
            records = {str(r["Id"]): r for r in found.result()}
            payments = paid.result()
        by_fo: dict[str, list[Job]] = {}
        for job in jobs:
            by_fo.setdefault(str(job.payload["fo_id"]), []).append(job)

        async def one(fo_id: str, fo_jobs: list[Job]) -> None:
            bound = log.bind(fulfillment_order_id=fo_id, replay_id=fo_jobs[0].payload.get("replay_id"))
            try:
                if fo_id in ledger:
                    self.metrics.events_skipped.labels("already_imported").inc()
                    bound.info("fo_already_imported", pos_order_id=ledger[fo_id].pos_order_id)
                else:
                    await self._import(fo_id, records.get(fo_id), payments, fo_jobs, bound)
            except Exception as exc:
                for job in fo_jobs:
                    outcome.fail(job, exc)
                return
            for job in fo_jobs:
                outcome.complete(job)

        async with asyncio.TaskGroup() as group:
            for fo_id, fo_jobs in by_fo.items():
                group.create_task(one(fo_id, fo_jobs))

    async def _payments(self, fo_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """PaymentGroups (with payments) per Order Id of the batch's FOs: one query for the whole batch."""
        if not self.sf.fulfillment_rules.tenders:
            return {}
        groups: dict[str, list[dict[str, Any]]] = {}
        for group in await self.salesforce.query(build_payments_query(fo_ids)):
            groups.setdefault(str(group.get("SourceObjectId")), []).append(group)
        return groups

    async def _import(
        self, fo_id: str, record: dict[str, Any] | None, payments: dict[str, list[dict[str, Any]]], jobs: list[Job],
        bound: Any,
    ) -> None:
        if record is None:
            self.metrics.events_skipped.labels("filtered_out").inc()
            bound.info("fo_not_imported", reason="not found or FilterQuery does not match")
            return
        status = str(record.get("Status") or "")
        if status.casefold() not in self.statuses:
            self.metrics.events_skipped.labels("status_changed").inc()
            bound.info("fo_not_imported", reason="status no longer to process", status=status)
            return
        order = fo_to_pos_order(record, sf=self.sf, now_ms=int(time.time() * 1000),
                                payment_groups=payments.get(str(record.get("OrderId")), ()))
        payload = order.model_dump(mode="json", by_alias=True, exclude_none=True)
        async with self.pos_slots:
            result = await self.pos.import_fulfillment_order(payload)
        await self.store.ledger_put(LedgerEntry(fo_id=fo_id, pos_order_id=result.pos_order_id,
                                                line_ids=dict(result.line_ids), status=status))
        self.metrics.fo_imported.inc()
        received = min(float(j.payload.get("received_at") or time.time()) for j in jobs)
        self.metrics.import_latency.observe(max(0.0, time.time() - received))
        bound.info("fo_imported", pos_order_id=result.pos_order_id, created=result.created,
                   lines=len(result.line_ids))
