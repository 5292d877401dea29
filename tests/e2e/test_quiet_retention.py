"""A quiet channel outliving the retention window, on both transports: nothing is lost either way, and on Pub/Sub
the keepalives' replay ids keep the stored cursor inside the window, so the restart resumes without a sweep."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from emulator.salesforce.pubsub import PubSubSettings

from .harness import TRANSPORTS, Stack, cursor_key, emulators, eventually, imported_ids, worker

pytestmark = pytest.mark.e2e
RETENTION = 4.0  # seconds the emulated event bus keeps events (Salesforce: 72 h)


async def new_orders(stack: Stack, count: int) -> set[str]:
    created = await stack.sf_admin("POST", "scenario/orders", {"count": count, "kind": "BOPIS", "store": "256"})
    return {o["fulfillment_order_id"] for o in created["orders"]}


async def imported(stack: Stack, fos: set[str]) -> None:
    async def check() -> bool:
        return fos <= set(await imported_ids(stack))

    await eventually(check, timeout=60, what=f"{len(fos)} orders imported")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_quiet_channel_past_retention_then_restart_loses_nothing(tmp_path: Path, transport: str) -> None:
    """Imported, then quiet for longer than retention, stopped, orders allocated, restarted: all imported once.
    Pub/Sub resumes from its keepalive cursor (no sweep); CometD's stored id is refused and the sweep covers it."""
    options: dict[str, Any] = {"reconcile": {"enabled": False}, "transport": transport}  # only a refusal sweeps
    async with emulators(event_retention_seconds=RETENTION, pubsub=PubSubSettings(keepalive_seconds=0.3)) as stack:
        async with worker(stack, tmp_path, **options) as running:
            first = await new_orders(stack, 5)
            await imported(stack, first)
            after_import = await running.store.get_cursor(cursor_key(transport))
            await asyncio.sleep(RETENTION + 1.0)  # quiet: no event, only keepalives (Pub/Sub) / connect replies
            after_quiet = await running.store.get_cursor(cursor_key(transport))
        later = await new_orders(stack, 5)  # allocated while the worker is down; their events are retained
        async with worker(stack, tmp_path, **options) as running:
            await imported(stack, first | later)
            sweeps = running.reconciler.sweeps
        ids = await imported_ids(stack)
        assert sorted(ids) == sorted(first | later), "an order is missing or was imported twice"
        if transport == "pubsub":
            assert isinstance(after_quiet, bytes) and after_quiet != after_import  # keepalives moved it
            assert sweeps == 0  # resumed from the stored replay id: the stream delivered the later orders
        else:
            assert after_quiet == after_import  # CometD has no keepalive replay id
            assert sweeps == 1  # its stored replay id fell out of retention: refused, reconciled
