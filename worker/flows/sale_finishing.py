"""A posted sale finished: its OrderSummary, the batch's take-with fulfilment, then the sale record.

The step after the composite graph (:mod:`.sale_posting`), for sales whose Order exists (just committed, or found
by the look-up after a lost answer). With ``salesforce.order_summary: connect`` each sale gets one Connect
OrderSummary call, noted in the store before it leaves (like the graph), so a lost answer is looked up, never
repeated. With ``org_flow`` the org's flow made the summaries: one SOQL per batch finds them (:mod:`.sale_summaries`),
and a missing one after the grace period is created through Connect the same noted way and reported. Then the
take-with lines are fulfilled (:mod:`.sale_fulfilment`) and, only after that, the sale record is written, so a
retry resumes the step.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from worker.config import Config
from worker.errors import PermanentError, TransientError
from worker.metrics import Metrics
from worker.pos.models import PosSale
from worker.store import Job, SaleRecord, Store

from .effects import Effects
from .runner import Outcome
from .sale_fulfilment import FulfilmentApi, TakeWithFulfiller
from .sale_summaries import find_summaries, pending_error, plan_flow_check

SUMMARY_PATH = "commerce/order-management/order-summaries"
SALE_EFFECT = "sale"  # store.note_effects kind: the sale's graph (or its summary call) was sent (key: POS order id)


class FinishingApi(FulfilmentApi, Protocol):
    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class Pending:
    """One claimed sale on its way: its job, the sale, and the logger bound to its POS order id."""

    job: Job
    sale: PosSale
    bound: Any


class SaleFinisher:
    def __init__(self, store: Store, salesforce: FinishingApi, config: Config, metrics: Metrics, effects: Effects,
                 *, summary_concurrency: int = 8) -> None:
        self.store, self.salesforce, self.metrics, self.effects = store, salesforce, metrics, effects
        self.summary_slots = asyncio.Semaphore(summary_concurrency)
        self.fulfiller = TakeWithFulfiller(salesforce, config, effects, concurrency=summary_concurrency)
        self.from_flow = config.salesforce.order_summary == "org_flow"
        self.grace = config.salesforce.order_summary_grace_seconds

    async def finish_all(self, items: list[tuple[Pending, str, str | None]], outcome: Outcome) -> None:
        """OrderSummary per sale (fenced, noted first), then the batch's take-with fulfilment, then the sale record."""
        summarized: list[tuple[Pending, str, str | None]] = []
        known: dict[str, dict[str, Any]] = {}  # org_flow: summary rows read by the check, by summary Id
        if self.from_flow:
            try:
                items = await self._check_flow(items, outcome, known)
            except Exception as exc:  # the look-up failed: the batch tries again
                for item, _, _ in items:
                    outcome.fail(item.job, exc)
                return

        async def summarize(item: Pending, order_id: str, summary_id: str | None) -> None:
            try:
                async with self.summary_slots:
                    if not outcome.holds(item.job):
                        return  # the lease was lost: its new holder finds the Order and finishes
                    summarized.append((item, order_id, summary_id or await self._summary(item.sale, order_id)))
            except Exception as exc:
                outcome.fail(item.job, exc)

        calling = [item.job for item, _, summary_id in items if summary_id is None]
        if calling:
            try:  # the OrderSummary call is an outside effect too: fenced like the graph (a job the store no
                # longer confirms is dropped: its new holder finishes it), then noted first (a lost answer is looked up)
                lost = {job.id for job in calling} - {job.id for job in await outcome.confirm(calling)}
                items = [entry for entry in items if entry[0].job.id not in lost]
                calls = [item.sale.orderId for item, _, summary_id in items if summary_id is None]
                if calls:
                    await self.effects.note(SALE_EFFECT, calls)
            except Exception as exc:
                for item, _, _ in items:
                    outcome.fail(item.job, exc)
                return
        async with asyncio.TaskGroup() as group:
            for item, order_id, summary_id in items:
                group.create_task(summarize(item, order_id, summary_id))
        try:  # fence before the fulfilment calls, as before the graph: a lost lease starts no further call
            taking = [item.job for item, _, _ in summarized if self.fulfiller.wants(item.sale)]
            lost = {job.id for job in taking} - {job.id for job in await outcome.confirm(taking)} if taking else set()
            summarized = [s for s in summarized if s[0].job.id not in lost]
            failed = await self.fulfiller.fulfil([(item.sale, summary_id) for item, _, summary_id in summarized],
                                                 known)
        except Exception as exc:
            failed = {item.sale.orderId: exc for item, _, _ in summarized}
        for item, order_id, summary_id in summarized:
            try:
                if item.sale.orderId in failed:
                    raise failed[item.sale.orderId]
                await self._finish(item.sale, order_id, summary_id, item.bound)
                outcome.complete(item.job)
            except Exception as exc:
                outcome.fail(item.job, exc)

    async def _check_flow(self, items: list[tuple[Pending, str, str | None]], outcome: Outcome,
                          known: dict[str, dict[str, Any]]) -> list[tuple[Pending, str, str | None]]:
        """org_flow: the summaries the org's flow made, in one SOQL per 200 (their rows go to ``known`` for the
        take-with step); a sale whose summary is missing waits out the grace period (retried), then keeps ``None``
        so the Connect call creates it (reported)."""
        unknown = {item.sale.orderId: order_id for item, order_id, summary_id in items if summary_id is None}
        if not unknown:
            return items
        rows = await find_summaries(self.salesforce, list(unknown.values()))
        known.update({str(row["Id"]): row for row in rows.values()})
        summaries = {order_id: str(row["Id"]) for order_id, row in rows.items()}
        sent = await self.store.effects_started(SALE_EFFECT, list(unknown))
        check = plan_flow_check(unknown, summaries, sent, datetime.now(UTC), self.grace)
        kept: list[tuple[Pending, str, str | None]] = []
        for item, order_id, summary_id in items:
            key = item.sale.orderId
            if key in check.waiting:
                item.bound.info("order_summary_flow_pending", order_id=order_id, wait_s=round(check.waiting[key], 2))
                outcome.fail(item.job, pending_error(check.waiting[key]))
                continue
            if key in check.create:
                item.bound.warning("order_summary_flow_missing", order_id=order_id,
                                   waited_s=round(check.create[key], 1))
                self.metrics.summary_fallbacks.inc()
            kept.append((item, order_id, summary_id or check.found.get(key)))
        return kept

    async def _summary(self, sale: PosSale, order_id: str) -> str | None:
        try:
            answer = await self.salesforce.connect(SUMMARY_PATH, {
                "orderId": order_id, "orderLifeCycleType": "MANAGED", "name": sale.orderId})
        except PermanentError as exc:
            if self.from_flow and exc.code == "DUPLICATE_VALUE":  # the flow made it meanwhile: found next attempt
                raise TransientError("salesforce", str(exc), code=exc.code) from exc
            raise
        return str(answer.get("orderSummaryId") or "") or None

    async def _finish(self, sale: PosSale, order_id: str, summary_id: str | None, bound: Any) -> None:
        await self.store.sale_put(SaleRecord(pos_order_id=sale.orderId, order_id=order_id,
                                             order_summary_id=summary_id))
        self.metrics.sales_posted.inc()
        bound.info("sale_posted", order_id=order_id, order_summary_id=summary_id)
