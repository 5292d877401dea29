"""Faults against a running worker (loopback only): each one heals, and afterwards every FO is in the POS once
and every sale is one Order in Salesforce. Emulator restart, token revocation, a 5xx window, CometD
``403::Unknown client`` and an invalid replay id after a long outage. The stream's scenarios run on both
transports (``transport``: CometD and the gRPC Pub/Sub API)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import structlog

from emulator.salesforce.app import RunningEmulator, SfEmulatorSettings, start_sf_emulator
from emulator.salesforce.pubsub import PubSubSettings
from worker.app import Running
from worker.salesforce.pubsub_flow import replay_text
from worker.store import QUEUES

from .harness import (
    TRANSPORTS,
    Stack,
    cursor_key,
    emulators,
    eventually,
    imported_ids,
    new_sales,
    posted_orders,
    references,
    worker,
)

pytestmark = pytest.mark.e2e


async def new_orders(stack: Stack, count: int, store: str = "256") -> set[str]:
    created = await stack.sf_admin("POST", "scenario/orders", {"count": count, "kind": "BOPIS", "store": store})
    return {o["fulfillment_order_id"] for o in created["orders"]}


async def settled(stack: Stack, running: Running, fos: set[str], sales: set[str], *, timeout: float = 90) -> None:
    """Wait until every FO is imported and every sale posted with its queues empty, then check 'once'."""

    async def done() -> bool:
        if not fos <= set(await imported_ids(stack)) or not sales <= set(await references(stack)):
            return False
        counts = await running.store.queue_counts()
        return all(counts[q]["pending"] == counts[q]["processing"] == 0 for q in QUEUES)

    await eventually(done, timeout=timeout, what=f"{len(fos)} FOs imported and {len(sales)} sales posted")
    ids, refs = await imported_ids(stack), await references(stack)
    assert sorted(ids) == sorted(fos), "an FO is missing from the POS or was imported twice"
    assert sorted(refs) == sorted(sales), "a sale is missing from Salesforce or was posted twice"
    orders = {o["Id"] for o in await posted_orders(stack)}
    rows = (await stack.sf_admin("GET", "records/OrderSummary"))["records"]
    summaries = Counter(r["OriginalOrderId"] for r in rows if r["OriginalOrderId"] in orders)
    assert set(summaries) == orders and set(summaries.values()) <= {1}, "one OrderSummary per posted Order"
    assert [q for q, states in (await running.store.queue_counts()).items() if states["dead"]] == []


async def stream_status(stack: Stack, running: Running) -> dict[str, Any]:
    async with stack.http.get(f"http://127.0.0.1:{running.http_port}/status") as resp:
        body: dict[str, Any] = (await resp.json())["dependencies"]["stream"]
        return body


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_salesforce_process_restart_mid_stream_loses_and_duplicates_nothing(tmp_path: Path,
                                                                                  transport: str) -> None:
    """SF emulator stopped and restarted from its state file: the worker re-auths, resubscribes, imports once."""
    state = tmp_path / "org.json"
    async with emulators(state_file=str(state)) as stack:
        restarted: list[RunningEmulator] = []
        try:
            async with worker(stack, tmp_path, transport=transport) as running:
                before = await new_orders(stack, 20)
                sales = await new_sales(stack, 5)
                await wait_imported(stack, before, "orders imported before the restart")
                in_flight = await new_orders(stack, 20)  # events published; the stop may cut their delivery
                port = urlsplit(stack.sf_url).port
                pubsub_port = int(stack.pubsub_target.rsplit(":", 1)[1])
                await stack.sf_emulator.stop()  # persists org + event bus to the state file, drops every client
                assert state.exists()
                await asyncio.sleep(1.0)
                settings = SfEmulatorSettings(state_file=str(state), pubsub=PubSubSettings(port=pubsub_port))
                restarted.append(await start_sf_emulator(settings, port=port or 0))
                assert restarted[0].url == stack.sf_url and restarted[0].pubsub_target == stack.pubsub_target
                after = await new_orders(stack, 20)
                sales |= await new_sales(stack, 5)
                await settled(stack, running, before | in_flight | after, sales)
                counters = await stack.sf_admin("GET", "counters")
                assert counters["by_kind"]["oauth"] >= 1
                if transport == "cometd":
                    assert counters["by_kind"]["cometd_subscribe"] >= 1
                status = await stream_status(stack, running)
                assert status["transport"] == transport and status["subscribed"] and status["reconnects"] >= 1
        finally:
            for emulator in restarted:
                await emulator.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_token_revocation_mid_run_loses_nothing(tmp_path: Path, transport: str) -> None:
    """Salesforce and POS tokens revoked three times while work is in flight: the worker re-auths, all done once."""
    async with emulators() as stack, worker(stack, tmp_path, transport=transport) as running:
        fos, sales = set(), set()
        for _ in range(3):
            fos |= await new_orders(stack, 15)
            sales |= await new_sales(stack, 4)
            await asyncio.sleep(0.2)
            await stack.sf_admin("POST", "tokens/revoke")
            await stack.pos_admin("POST", "tokens/revoke")
        fos |= await new_orders(stack, 15)  # after the last revocation (the periodic sweep is hourly: via the stream)
        sales |= await new_sales(stack, 4)
        await settled(stack, running, fos, sales)
        pos_stats = await stack.pos_admin("GET", "stats")
        assert pos_stats["unauthorized"] >= 1 and pos_stats["tokens_issued"] >= 2  # the revocations did bite
        assert (await stack.sf_admin("GET", "counters"))["by_kind"]["oauth"] >= 2


async def test_window_of_30_percent_5xx_then_everything_exactly_once(tmp_path: Path) -> None:
    """30% of Salesforce calls (REST, OAuth, CometD) answer 5xx for a window; afterwards all is done once."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        await stack.sf_admin("POST", "faults", {"error_rate": 0.3, "error_kind": "5xx", "seed": 30})
        fos, sales = set(), set()
        for _ in range(4):
            fos |= await new_orders(stack, 15)
            sales |= await new_sales(stack, 5)
            await asyncio.sleep(1.0)
        injected = (await stack.sf_admin("GET", "counters"))["faults_injected"]
        await stack.sf_admin("DELETE", "faults")
        assert injected > 0
        await settled(stack, running, fos, sales)


async def test_cometd_unknown_client_rehandshakes_and_keeps_receiving(tmp_path: Path) -> None:
    """After drop-clients (403::Unknown client) the worker re-handshakes, re-subscribes and imports once."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        fos = await new_orders(stack, 10)
        await wait_imported(stack, fos, "first orders imported")
        handshakes = (await stack.sf_admin("GET", "counters"))["by_kind"]["cometd_handshake"]
        for _ in range(3):
            assert (await stack.sf_admin("POST", "cometd/drop-clients"))["dropped"] >= 1
            fos |= await new_orders(stack, 10)
            await wait_imported(stack, fos, "orders after drop-clients imported")
        assert (await stack.sf_admin("GET", "counters"))["by_kind"]["cometd_handshake"] >= handshakes + 3
        assert running.reconciler.sweeps == 1  # the stream delivered them, not a reconcile sweep
        await settled(stack, running, fos, set())


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_invalid_replay_after_long_outage_reconciles_the_lost_events(tmp_path: Path, transport: str) -> None:
    """Stored replay id purged while the worker was down: refused (CometD 400 invalid replay, Pub/Sub replay id
    error-code) -> sweep imports the gap, then new events only (-1 / LATEST)."""
    no_sweeps: dict[str, Any] = {"reconcile": {"enabled": False}, "transport": transport}  # only the refusal sweeps
    async with emulators() as stack:
        async with worker(stack, tmp_path, **no_sweeps) as running:
            first = await new_orders(stack, 10)
            await wait_imported(stack, first, "orders imported before the outage")
            stored = await running.store.get_cursor(cursor_key(transport))
            assert stored is not None
        lost = await new_orders(stack, 15)  # their events exist only until the purge below
        purged = await stack.sf_admin("POST", "events/purge", {"older_than_seconds": 0})
        assert purged["retained"] == 0 and purged["purged"] >= 25
        with structlog.testing.capture_logs() as logs:
            async with worker(stack, tmp_path, **no_sweeps) as running:
                await wait_imported(stack, lost, "orders whose events were purged")
                later = await new_orders(stack, 10)  # the stream resumed: their events arrive
                await settled(stack, running, first | lost | later, set())
                assert running.reconciler.sweeps == 1  # the invalid-replay sweep, and no other
        refused = [e for e in logs if e["event"] == "stream_invalid_replay"]
        subscribed = [e for e in logs if e["event"] == "stream_subscribed"]
        if transport == "cometd":
            assert [e["replay_id"] for e in refused] == [stored]
            assert [e["replay_from"] for e in subscribed] == [-1]
        else:  # a gRPC subscription has no acknowledgement: the refused one was opened first, then LATEST
            assert isinstance(stored, bytes) and [e["replay_id"] for e in refused] == [replay_text(stored)]
            assert [(e["replay_preset"], e["replay_from"]) for e in subscribed] == [
                ("CUSTOM", replay_text(stored)), ("LATEST", None)]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_orders_allocated_while_the_stream_resubscribes_after_an_invalid_replay_are_not_lost(
        tmp_path: Path, transport: str) -> None:
    """FOs allocated around the invalid-replay sweep and resubscribe are all imported, with no periodic sweep.
    (Pub/Sub: the sweep waits for the LATEST subscription's first answer, up to 5 s, with FOs allocated all along.)"""
    no_sweeps: dict[str, Any] = {"reconcile": {"enabled": False}, "transport": transport}
    async with emulators() as stack:
        async with worker(stack, tmp_path, **no_sweeps):
            fos = await new_orders(stack, 3)
            await wait_imported(stack, fos, "orders imported before the outage")
        await stack.sf_admin("POST", "events/purge", {"older_than_seconds": 0})
        # Every CometD call takes 0.4 s: the refusal, the sweep and the resubscribe are spread over time. (The
        # emulator's latency fault is HTTP only; a gRPC subscription has no acknowledgement to slow down.)
        await stack.sf_admin("POST", "faults", {"latency_ms": 400, "paths": ["/cometd"]})
        stop = asyncio.Event()

        async def allocate() -> None:  # one FO reaches Allocated every 0.1 s, all through the reconnect
            while not stop.is_set():
                fos.update(await new_orders(stack, 1))
                await asyncio.sleep(0.1)

        allocator = asyncio.ensure_future(allocate())
        try:
            async with worker(stack, tmp_path, **no_sweeps) as running:  # returns once subscribed (readyz)
                await asyncio.sleep(1.0)
                stop.set()
                await allocator
                await stack.sf_admin("DELETE", "faults")
                await settled(stack, running, fos, set(), timeout=30)
                assert running.reconciler.sweeps == 1
        finally:
            stop.set()
            await asyncio.gather(allocator, return_exceptions=True)


async def wait_imported(stack: Stack, fos: set[str], what: str) -> None:
    wanted = set(fos)

    async def check() -> bool:
        return wanted <= set(await imported_ids(stack))

    await eventually(check, what=what)
