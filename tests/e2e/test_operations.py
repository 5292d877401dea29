"""Issue 18, operations: readiness is "a webhook can be stored" (never Salesforce or the POS), /status names what is
down and why, and liveness follows the stream loop's activity, not event traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.salesforce.cometd import CometdSettings
from emulator.salesforce.pubsub import PubSubSettings
from worker.app import Running

from .harness import TRANSPORTS, Stack, emulators, eventually, new_sales, worker

pytestmark = pytest.mark.e2e


async def probe(stack: Stack, running: Running, path: str) -> tuple[int, Any]:
    async with stack.http.get(f"http://127.0.0.1:{running.http_port}{path}") as resp:
        return resp.status, await resp.json()


async def dependency_down(stack: Stack, running: Running, name: str) -> dict[str, Any]:
    """/status once it reports ``name`` down (its check is cached: shortened here)."""
    running.health.cache_seconds = 0.2
    seen: dict[str, Any] = {}

    async def down() -> bool:
        seen.update((await probe(stack, running, "/status"))[1])
        return bool(seen["dependencies"][name]["state"] == "down")

    await eventually(down, timeout=30, what=f"/status naming {name} down")
    return seen


async def test_salesforce_stopped_readyz_stays_200_and_status_names_salesforce_down(tmp_path: Path) -> None:
    """Salesforce emulator stopped: /readyz 200, a sale webhook is still stored, /status says Salesforce is down."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        await stack.sf_emulator.stop()
        status = await dependency_down(stack, running, "salesforce")
        assert status["dependencies"]["salesforce"]["reason"].startswith("unreachable"), status
        assert status["dependencies"]["pos"]["state"] == "up" and status["dependencies"]["store"]["state"] == "up"
        assert status["ready"] is True
        assert await probe(stack, running, "/readyz") == (200, {"ok": ["store"], "failing": {}})
        sales = await new_sales(stack, 1)  # the POS delivers the webhook: accepted and stored durably

        async def stored() -> bool:
            counts = await running.store.queue_counts()
            return sum(counts["sale"].values()) >= len(sales)

        await eventually(stored, what="the sale webhook stored while Salesforce is down")
        assert (await probe(stack, running, "/readyz"))[0] == 200


async def test_pos_stopped_readyz_stays_200_and_status_names_the_pos_down(tmp_path: Path) -> None:
    """POS emulator stopped: /readyz 200 (the pod stays in service), /status says the POS is down and why."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        await stack.pos_emulator.stop()
        status = await dependency_down(stack, running, "pos")
        assert "could not connect" in status["dependencies"]["pos"]["reason"], status
        assert status["dependencies"]["salesforce"]["state"] == "up"
        assert status["dependencies"]["stream"]["subscribed"] is True
        assert await probe(stack, running, "/readyz") == (200, {"ok": ["store"], "failing": {}})


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_healthz_stays_200_on_a_stream_quiet_beyond_the_liveness_window(tmp_path: Path, transport: str) -> None:
    """No event for 3x the liveness window: /healthz stays 200, the stream loop shows life by the server's answers
    (CometD connect replies, Pub/Sub empty keepalive responses); /status names the transport and its window."""
    cometd = CometdSettings(connect_hold_seconds=0.2)  # a quiet org: Salesforce answers each connect, no events
    pubsub = PubSubSettings(keepalive_seconds=0.2)  # ... and sends an empty keepalive response
    async with emulators(cometd=cometd, pubsub=pubsub) as stack, \
            worker(stack, tmp_path, transport=transport) as running:
        window = 1.5
        running.health.liveness_window = window
        running.health.windows.clear()
        quiet_since = running.health.beats["stream"]
        checks = 0

        async def quiet_past_the_window() -> bool:
            nonlocal checks
            status, body = await probe(stack, running, "/healthz")
            assert status == 200, body
            assert body["loops_seconds_since_beat"]["stream"] <= window, body
            checks += 1
            return running.health.beats["stream"] - quiet_since > 3 * window

        await eventually(quiet_past_the_window, timeout=60, what="a stream quiet for 3x the liveness window")
        assert checks > 1
        assert running.metrics.events_received._value.get() == 0  # quiet indeed: not one event
        code, body = await probe(stack, running, "/status")
        stream = body["dependencies"]["stream"]
        assert code == 200, body
        assert stream["transport"] == transport and stream["state"] == "up", stream
        if transport == "pubsub":  # the keepalives' replay id was committed; all of the window is asked for
            assert stream["last_replay_id"] and stream["flow_control"] == {
                "window": 100, "requested": 100, "outstanding": 0}, stream
        else:
            assert stream["flow_control"] is None


async def test_a_failing_reconciliation_sweep_is_named_on_status_until_one_succeeds(tmp_path: Path) -> None:
    """The org answering every SOQL with 5xx: the sweep fails, /status names reconcile down and why (readiness
    unchanged); once the org answers again the next sweep brings it back up."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        await stack.sf_admin("POST", "faults", {"error_rate": 1.0, "error_kind": "5xx", "paths": ["/query"]})
        running.reconciler.requested.set()
        status = await dependency_down(stack, running, "reconcile")
        assert status["dependencies"]["reconcile"]["reason"].startswith("TransientError"), status
        assert status["ready"] is True
        await stack.sf_admin("POST", "faults", {})
        running.reconciler.requested.set()

        async def up() -> bool:
            body = (await probe(stack, running, "/status"))[1]
            return bool(body["dependencies"]["reconcile"]["state"] == "up")

        await eventually(up, timeout=60, what="/status naming reconcile up again")
