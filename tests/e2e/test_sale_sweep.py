"""The sale sweep (the guide's fallback "order export job"): POS order search since the last sweep, enqueued under
the webhook's dedupe key. A sale whose webhook never arrived is posted by the sweep, once; a sale that reaches the
worker both by webhook and by sweep (either first) is posted once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from worker.app import Running
from worker.flows.sale_sweep import SaleSweep
from worker.pos.client import PosClient

from .harness import WEBHOOK_KEY, Stack, emulators, eventually, new_sales, references, worker

pytestmark = pytest.mark.e2e
ENDPOINTS = ["ORDER", "ORDER_UPDATE", "RETURN", "BOPIS_EXPORT", "BOFIS_EXPORT", "STORE_FULFILLMENT"]


async def webhooks_to(stack: Stack, running: Running, *, drop: tuple[str, ...] = ()) -> None:
    """Point the POS connectors at the worker, except the ``drop`` endpoints (their exports go nowhere)."""
    base = f"http://127.0.0.1:{running.http_port}/webhooks/pos"
    await stack.pos_admin("POST", "webhooks", {
        "urls": {name: f"{base}/{name}" for name in ENDPOINTS if name not in drop},
        "headers": {"Authorization": f"Bearer {WEBHOOK_KEY}"}})


async def deliveries(stack: Stack, order_id: str) -> list[dict[str, Any]]:
    await stack.pos_admin("POST", "webhooks/drain")
    return [d for d in (await stack.pos_admin("GET", "webhooks/log"))["deliveries"] if d["orderId"] == order_id]


def sweeper(running: Running) -> SaleSweep:
    sweep = running.extras["sale_sweep"]
    assert isinstance(sweep, SaleSweep)
    return sweep


async def test_a_sale_whose_webhook_was_dropped_is_posted_by_the_sweep_once(tmp_path: Path) -> None:
    """The ORDER export never reaches the worker; the running sweep loop finds the sale and posts it, and the
    sweeps after it (the sale stays inside their overlap window) post nothing more."""
    sweep_every: dict[str, Any] = {"interval_seconds": 0.2, "overlap_seconds": 60}
    async with emulators() as stack, worker(stack, tmp_path, sale_sweep=sweep_every) as running:
        await webhooks_to(stack, running, drop=("ORDER",))
        (sale,) = await new_sales(stack, 1)
        assert [d["outcome"] for d in await deliveries(stack, sale)] == ["skipped"]

        async def posted() -> bool:
            return sale in await references(stack)

        await eventually(posted, what="the swept sale posted")
        sweep = sweeper(running)
        later = sweep.sweeps + 3

        async def swept_again() -> bool:
            return sweep.sweeps >= later

        await eventually(swept_again, what="three more sweeps")
        assert await references(stack) == [sale]


async def test_a_sale_delivered_by_webhook_and_by_sweep_is_posted_once(tmp_path: Path) -> None:
    """Webhook first then sweep (the sweep finds the webhook's job), and sweep first then the webhook (the POS
    reposts the export: the worker answers it as a duplicate): one Order per sale."""
    manual: dict[str, Any] = {"interval_seconds": 3600, "overlap_seconds": 60}
    async with emulators() as stack, worker(stack, tmp_path, sale_sweep=manual) as running:
        sweep = sweeper(running)
        (by_webhook,) = await new_sales(stack, 1)

        async def posted(*sales: str) -> bool:
            return set(sales) <= set(await references(stack))

        await eventually(lambda: posted(by_webhook), what="the webhook's sale posted")
        assert await sweep.sweep() == 0

        await webhooks_to(stack, running, drop=("ORDER",))
        (by_sweep,) = await new_sales(stack, 1)
        await deliveries(stack, by_sweep)
        assert await sweep.sweep() == 1
        await webhooks_to(stack, running)
        await stack.pos_admin("POST", "webhooks/drain")
        await PosClient(running.config.pos, stack.http).repost([by_sweep])  # the POS sends the export again
        late = await deliveries(stack, by_sweep)
        assert [(d["outcome"], d["status"]) for d in late] == [("skipped", None), ("delivered", 200)]
        await eventually(lambda: posted(by_webhook, by_sweep), what="the swept sale posted")
        assert await sweep.sweep() == 0
        assert sorted(await references(stack)) == sorted([by_webhook, by_sweep])



class WithRefused:
    """The POS order search as the worker's client reads it, with one extra sale the webhook model refuses (an
    export without a currency) on the first page: POS data an operator has to fix."""

    def __init__(self, pos: Any, bad: dict[str, Any]) -> None:
        self.pos, self.bad = pos, bad

    async def sale_pages(self, query: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
        extra = [self.bad]
        async for page in self.pos.sale_pages(query):
            yield page + extra
            extra = []


async def test_a_refused_swept_sale_ends_as_one_dead_letter_and_the_others_post(tmp_path: Path) -> None:
    """A swept sale the webhook model refuses becomes one dead letter naming ``currency`` (counted once in
    oms_sales_refused_total) while the page's other sales post; sweeping it again adds nothing."""
    manual: dict[str, Any] = {"interval_seconds": 3600, "overlap_seconds": 60}
    async with emulators() as stack, worker(stack, tmp_path, sale_sweep=manual) as running:
        await webhooks_to(stack, running, drop=("ORDER",))
        sales = await new_sales(stack, 2)
        await stack.pos_admin("POST", "webhooks/drain")
        sweep = sweeper(running)
        async for page in sweep.pos.sale_pages({"fromDate": 0, "pageSize": 1}):
            bad = {**page[0], "orderId": "S-256-999999", "currency": None}
            break
        sweep.pos = WithRefused(sweep.pos, bad)
        assert await sweep.sweep() == 2

        async def settled() -> bool:
            dead = (await running.store.queue_counts())["sale"]["dead"]
            return dead >= 1 and sales <= set(await references(stack))

        await eventually(settled, what="the good sales posted and the refused one dead-lettered")
        assert await sweep.sweep() == 0
        counts = (await running.store.queue_counts())["sale"]
        (dead,) = await running.store.dead_letters("sale")
        assert counts["dead"] == 1 and counts["pending"] == 0
        assert "S-256-999999" in (dead.last_error or "") and "currency" in (dead.last_error or "")
        assert dead.payload["refused"]["data"] == bad
        assert sorted(await references(stack)) == sorted(sales)
        assert running.metrics.registry.get_sample_value("oms_sales_refused_total", {"source": "sale_sweep"}) == 1
