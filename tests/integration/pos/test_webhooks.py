"""POS emulator webhooks: every kind, headers, failure classification, repost, fault injection."""

from __future__ import annotations

import asyncio
import socket
import zlib
from typing import Any

import pytest
from aiohttp import web

from emulator.pos.app import RunningPos
from worker.pos.client import PosClient

from .conftest import ENDPOINTS, Receiver, admin, configure, fo_payload, hook_server


async def test_every_kind_delivered_with_configured_headers(
    client: PosClient, pos: RunningPos, http, receiver: Receiver
) -> None:
    """ORDER, ORDER_UPDATE, RETURN, BOPIS_EXPORT, BOFIS_EXPORT and STORE_FULFILLMENT all reach their URL."""
    await configure(http, pos, receiver)
    sale = await admin(http, pos, "POST", "sales", {"kind": "in_store", "tender": "card"})
    await admin(http, pos, "POST", f"sales/{sale['orderId']}/update", {"orderStatus": "FULFILLED"})
    await admin(http, pos, "POST", "sales", {"kind": "return", "original_order_id": sale["orderId"]})
    await client.import_fulfillment_order(fo_payload(1))
    await client.import_fulfillment_order(fo_payload(2, omni="SHIP_TO_HOME_CURRENT_STORE"))
    for order_id, events in (("FO-000001", ["PACK", "DELIVERED"]), ("FO-000002", ["PACK", "SHIPPED"])):
        for event in events:
            await admin(http, pos, "POST", f"fulfillmentorders/{order_id}/events", {"eventType": event})
    await pos.state.webhooks.drain()
    assert {name for name, _, _ in receiver.received} == set(ENDPOINTS)
    for _, headers, _ in receiver.received:
        assert headers["Authorization"] == "Bearer hook-secret" and headers["X-Extra"] == "1"
        assert headers["Content-Type"].startswith("application/json")
    assert receiver.bodies("ORDER_UPDATE")[0]["orderStatus"] == "FULFILLED"
    assert receiver.bodies("BOFIS_EXPORT")[0]["orderStatus"] == "SHIPPED"
    assert [b["eventType"] for b in receiver.bodies("STORE_FULFILLMENT")] == [
        "PACK",
        "DELIVERED",
        "PACK",
        "SHIPPED",
    ]
    log = (await admin(http, pos, "GET", "webhooks/log"))["deliveries"]
    assert {d["outcome"] for d in log} == {"delivered"}


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ((400, {"errorCode": "INVALID_FIELD", "errorMessage": "bad"}), "HTTP 400"),
        ((503, {"errorCode": "UNAVAILABLE", "errorMessage": "later"}), "HTTP 503"),
        ((200, {"errorCode": "E1", "errorMessage": "stored nothing"}), "errorCode"),
    ],
)
async def test_failures_are_kept_and_reposted(
    pos: RunningPos, http, receiver: Receiver, answer: tuple[int, Any], why: str
) -> None:
    """4xx, 5xx and a 2xx carrying errorCode are failures: kept (no retry) until a repost succeeds."""
    await configure(http, pos, receiver)
    receiver.answers.append(answer)
    sale = await admin(http, pos, "POST", "sales", {"kind": "in_store"})
    await pos.state.webhooks.drain()
    failed = (await admin(http, pos, "GET", "webhooks/failed"))["failed"]
    assert [f["orderId"] for f in failed] == [sale["orderId"]]
    assert len(receiver.received) == 1  # no automatic retry
    log = (await admin(http, pos, "GET", "webhooks/log"))["deliveries"]
    assert log[-1]["outcome"] == "failed" and why in log[-1]["error"]
    await admin(http, pos, "POST", "webhooks/repost")
    await pos.state.webhooks.drain()
    assert (await admin(http, pos, "GET", "webhooks/failed"))["failed"] == []
    assert receiver.received[1][2] == receiver.received[0][2]  # a repost is an exact duplicate


async def test_connection_refused_is_failure_then_api_repost(
    client: PosClient, pos: RunningPos, http, receiver: Receiver
) -> None:
    """A refused connection fails the delivery; sa/orders/repost re-sends it once the receiver is back."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"  # bound, not listening: refused
        await admin(http, pos, "POST", "webhooks", {"urls": {"ORDER": f"{dead}/ORDER"}})
        sale = await admin(http, pos, "POST", "sales", {"kind": "pickup_later", "tender": "cash"})
        await pos.state.webhooks.drain()
    log = (await admin(http, pos, "GET", "webhooks/log"))["deliveries"]
    assert log[-1]["outcome"] == "failed" and "transport error" in log[-1]["error"]
    await configure(http, pos, receiver)
    await client.repost([sale["orderId"]])
    await pos.state.webhooks.drain()
    assert [b["orderId"] for b in receiver.bodies("ORDER")] == [sale["orderId"]]
    assert (await admin(http, pos, "GET", "webhooks/failed"))["failed"] == []


async def test_duplicate_injection_sends_each_event_twice(pos: RunningPos, http, receiver: Receiver) -> None:
    """With duplicate_rate 1 every event arrives twice, byte-identical."""
    await configure(http, pos, receiver, duplicate_rate=1.0)
    await admin(http, pos, "POST", "sales", {"kind": "in_store"})
    await pos.state.webhooks.drain()
    assert len(receiver.received) == 2 and receiver.received[0][2] == receiver.received[1][2]
    log = (await admin(http, pos, "GET", "webhooks/log"))["deliveries"]
    assert [d["duplicate"] for d in log] == [False, True]


async def test_reorder_injection_swaps_adjacent_events(
    client: PosClient, pos: RunningPos, http, receiver: Receiver
) -> None:
    """With reorder on, DELIVERED arrives before the PACK that preceded it."""
    await configure(http, pos, receiver, reorder=True, reorder_window_ms=60_000)
    await client.import_fulfillment_order(fo_payload(1))
    await admin(http, pos, "POST", "fulfillmentorders/FO-000001/events", {"eventType": "PACK"})
    await admin(http, pos, "POST", "fulfillmentorders/FO-000001/events", {"eventType": "DELIVERED"})
    await pos.state.webhooks.drain()
    assert [b["eventType"] for b in receiver.bodies("STORE_FULFILLMENT")] == ["DELIVERED", "PACK"]


async def test_unconfigured_endpoint_is_skipped_not_failed(pos: RunningPos, http) -> None:
    """An event for an endpoint without a URL is logged as skipped and not kept for repost."""
    await admin(http, pos, "POST", "sales", {"kind": "in_store"})
    await pos.state.webhooks.drain()
    log = (await admin(http, pos, "GET", "webhooks/log"))["deliveries"]
    assert [d["outcome"] for d in log] == ["skipped"]
    assert (await admin(http, pos, "GET", "webhooks/failed"))["failed"] == []


async def test_repost_of_unknown_order_reported(client: PosClient, pos: RunningPos, http) -> None:
    """sa/orders/repost answers which ids it did not know."""
    async with http.post(
        f"{pos.url}/merchant/v1/sa/orders/repost",
        json={"orderIds": ["nope"]},
        headers=await client.auth.headers(),
    ) as resp:
        assert resp.status == 200 and (await resp.json())["notFound"] == ["nope"]


async def test_stats_count_imported_orders_and_created_sales(client: PosClient, pos: RunningPos, http) -> None:
    """GET /__admin/stats carries orders_imported and sales_created next to the request counters."""
    await client.import_fulfillment_order(fo_payload(1))
    await client.import_fulfillment_order(fo_payload(1))  # idempotent: still one order
    await admin(http, pos, "POST", "sales", {"kind": "in_store", "tender": "card"})
    stats = await admin(http, pos, "GET", "stats")
    assert stats["orders_imported"] == 1 and stats["sales_created"] == 1


async def test_parallel_lanes_deliver_orders_side_by_side_and_each_order_in_sequence(
    pos: RunningPos, http, receiver: Receiver
) -> None:
    """parallelism=4: several orders' webhooks are in flight at once (registers), yet each order's ORDER still
    precedes its ORDER_UPDATE; parallelism outside 1..256 is refused with a 400 naming the field."""
    in_flight, peak = 0, 0
    seen: list[tuple[str, str]] = []
    gate = asyncio.Event()  # deliveries are held until every event is queued: the peak does not hang on timing

    async def slow(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        body = await request.json()
        await gate.wait()
        seen.append((request.match_info["name"], body["orderId"]))
        in_flight -= 1
        return web.json_response({"status": "OK"})

    async with hook_server(slow) as base:
        await admin(http, pos, "POST", "webhooks", {"urls": {n: f"{base}/{n}" for n in ENDPOINTS},
                                                     "parallelism": 4})
        sales = [await admin(http, pos, "POST", "sales", {"kind": "in_store", "tender": "card"}) for _ in range(12)]
        for sale in sales:
            await admin(http, pos, "POST", f"sales/{sale['orderId']}/update", {"orderStatus": "FULFILLED"})
        for _ in range(100):  # let each lane's first delivery reach the receiver (a bound, not a timing claim)
            if in_flight == min(4, len({zlib.crc32(s["orderId"].encode()) % 4 for s in sales})):
                break
            await asyncio.sleep(0.01)
        gate.set()
        await pos.state.webhooks.drain()
    assert peak > 1 and len(seen) == 24
    for sale in sales:
        kinds = [name for name, order in seen if order == sale["orderId"]]
        assert kinds == ["ORDER", "ORDER_UPDATE"]
    async with http.post(f"{pos.url}/__admin/webhooks", json={"urls": {}, "parallelism": 0}) as resp:
        assert resp.status == 400 and "parallelism" in await resp.text()


async def test_raising_parallelism_mid_stream_keeps_each_orders_events_in_sequence(pos: RunningPos, http) -> None:
    """Lanes grown while an order's ORDER is still queued: its ORDER_UPDATE follows it in the same lane instead of
    overtaking it on a new one."""
    seen: list[tuple[str, str]] = []
    gate = asyncio.Event()

    async def held(request: web.Request) -> web.Response:
        seen.append((request.match_info["name"], (await request.json())["orderId"]))  # recorded on arrival
        await gate.wait()
        return web.json_response({"status": "OK"})

    async with hook_server(held) as base:
        urls = {n: f"{base}/{n}" for n in ENDPOINTS}
        await admin(http, pos, "POST", "webhooks", {"urls": urls, "parallelism": 1})
        sales = [await admin(http, pos, "POST", "sales", {"kind": "in_store", "tender": "card"}) for _ in range(8)]
        await admin(http, pos, "POST", "webhooks", {"urls": urls, "parallelism": 8})
        for sale in sales:
            await admin(http, pos, "POST", f"sales/{sale['orderId']}/update", {"orderStatus": "FULFILLED"})
        for _ in range(20):  # give any lane that (wrongly) holds an update the chance to send it first
            await asyncio.sleep(0.01)
        gate.set()
        await pos.state.webhooks.drain()
    assert len(seen) == 16
    for sale in sales:
        assert [name for name, order in seen if order == sale["orderId"]] == ["ORDER", "ORDER_UPDATE"]
