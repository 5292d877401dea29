"""Pub/Sub API faults during a burst (stream resets with each status, an UNAVAILABLE window): the worker reopens
from its stored replay id and every FO is imported once; the flow-control window holds on the server's side."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from .harness import Stack, emulators, eventually, imported_ids, worker

pytestmark = pytest.mark.e2e


async def new_orders(stack: Stack, count: int) -> set[str]:
    created = await stack.sf_admin("POST", "scenario/orders", {"count": count, "kind": "BOPIS", "store": "256"})
    return {o["fulfillment_order_id"] for o in created["orders"]}


async def test_stream_resets_and_an_unavailable_window_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    """Resets (UNAVAILABLE, INTERNAL, CANCELLED, ABORTED) and a 1.5 s UNAVAILABLE window amid 160 orders: all
    imported once, the schema fetched once, and the server never owes the worker more than its window."""
    async with emulators() as stack, worker(stack, tmp_path, transport="pubsub",
                                            stream={"pubsub": {"num_requested": 25}}) as running:
        fos: set[str] = set()
        owed: list[int] = []
        resets = 0

        async def watch() -> None:
            while True:
                state = await stack.sf_admin("GET", "pubsub")
                owed.extend(s["owed"] for s in state["streams"])
                await asyncio.sleep(0.02)

        watcher = asyncio.ensure_future(watch())
        try:
            for code in ("UNAVAILABLE", "INTERNAL", "CANCELLED", "ABORTED"):
                fos |= await new_orders(stack, 30)
                await asyncio.sleep(0.1)
                resets += (await stack.sf_admin("POST", "pubsub/reset-streams", {"code": code}))["reset"]
            await stack.sf_admin("POST", "pubsub/unavailable", {"seconds": 1.5})
            fos |= await new_orders(stack, 40)  # published while the API refuses: delivered after it heals

            async def all_imported() -> bool:
                return fos <= set(await imported_ids(stack))

            await eventually(all_imported, timeout=120, what="all orders imported through the faults")
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        ids = await imported_ids(stack)
        assert sorted(ids) == sorted(fos), "an FO is missing from the POS or was imported twice"
        counters = (await stack.sf_admin("GET", "counters"))["by_kind"]
        assert resets >= 1 and counters["pubsub_subscribe"] >= 2, (resets, counters)
        assert counters["pubsub_get_schema"] == 1, counters
        # the stream delivered them all: no reconciliation ran beyond the start-up one (none was asked for)
        assert running.reconciler.sweeps <= 1, running.reconciler.sweeps
        assert owed and max(owed) <= 25, f"the server was asked for more than the window: {max(owed)}"
        async with stack.http.get(f"http://127.0.0.1:{running.http_port}/status") as resp:
            stream = (await resp.json())["dependencies"]["stream"]
        assert stream["transport"] == "pubsub" and stream["reconnects"] >= 2 and stream["subscribed"], stream


async def test_a_stream_down_before_it_stored_a_replay_id_still_imports_what_was_allocated_meanwhile(
        tmp_path: Path) -> None:
    """An UNAVAILABLE window ends a fresh LATEST subscription before any event or keepalive gave it a replay id to
    store: the reopen starts at LATEST again, so the worker sweeps once subscribed and the orders allocated in the
    window are imported (was: lost until the next periodic sweep, an hour later)."""
    async with emulators() as stack, worker(stack, tmp_path, transport="pubsub") as running:

        async def positioned() -> bool:
            return bool((await stack.sf_admin("GET", "pubsub"))["streams"])

        await eventually(positioned, what="the LATEST subscription positioned")
        sweeps = running.reconciler.sweeps
        await stack.sf_admin("POST", "pubsub/unavailable", {"seconds": 1.5})
        fos = await new_orders(stack, 5)  # behind LATEST for the reopened subscription

        async def all_imported() -> bool:
            return fos <= set(await imported_ids(stack))

        await eventually(all_imported, timeout=60, what="the orders allocated while the stream was down")
        assert sorted(await imported_ids(stack)) == sorted(fos)
        assert running.reconciler.sweeps > sweeps, "imported without the gap sweep: the test did not hit the gap"
