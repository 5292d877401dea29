"""The sale sweep (the guide's fallback "order export job"): POS order search since the last sweep, enqueued under
the webhook's dedupe key. A sale whose webhook never arrived is posted by the sweep, once; a sale that reaches the
worker both by webhook and by sweep (either first) is posted once."""

from __future__ import annotations

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

