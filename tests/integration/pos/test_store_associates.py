"""Store associates acting on imported orders in the POS emulator: §8.4 transitions and event bodies."""

from __future__ import annotations

from emulator.pos.app import RunningPos
from worker.pos.client import PosClient

from .conftest import Receiver, admin, configure, fo_payload


async def _event(http, pos: RunningPos, order_id: str, body: dict, expect: int = 200) -> dict:
    return await admin(http, pos, "POST", f"fulfillmentorders/{order_id}/events", body, expect=expect)


async def test_event_body_matches_contract(
    client: PosClient, pos: RunningPos, http, receiver: Receiver
) -> None:
    """A PACK webhook carries exactly the §8.4 fields with the POS orderItemIds of every line."""
    await configure(http, pos, receiver)
    result = await client.import_fulfillment_order(fo_payload(1))
    await _event(http, pos, "FO-000001", {"eventType": "PACK", "storeAssociateId": "77"})
    await pos.state.webhooks.drain()
    (body,) = receiver.bodies("STORE_FULFILLMENT")
    assert set(body) == {
        "eventType",
        "orderType",
        "orderId",
        "externalOrderId",
        "storeId",
        "eventDate",
        "storeAssociateId",
        "items",
    }
    assert (body["eventType"], body["orderType"], body["orderId"]) == ("PACK", "BOPIS", "FO-000001")
    assert body["externalOrderId"] == fo_payload(1)["externalOrderId"] and body["storeAssociateId"] == "77"
    assert [i["orderItemId"] for i in body["items"]] == list(result.line_ids.values())
    assert all(
        set(i) == {"orderItemId", "quantity", "reason", "trackingNumber", "carrier"} for i in body["items"]
    )
    assert (await client.get_fulfillment_order("FO-000001"))["orderStatus"] == "PACKED"


async def test_item_level_cancel_then_rest_delivered(client: PosClient, pos: RunningPos, http) -> None:
    """Cancelling one line leaves the order live; delivering the rest makes it DELIVERED."""
    result = await client.import_fulfillment_order(fo_payload(2))
    first, second = result.line_ids.values()
    out = await _event(
        http,
        pos,
        "FO-000002",
        {"eventType": "CANCELED", "items": [{"orderItemId": first, "reason": "DAMAGED"}]},
    )
    assert out["event"]["items"] == [
        {"orderItemId": first, "quantity": 2, "reason": "DAMAGED", "trackingNumber": None, "carrier": None}
    ]
    assert out["order"]["orderStatus"] == "NEW"
    await _event(http, pos, "FO-000002", {"eventType": "PACK"})
    done = await _event(http, pos, "FO-000002", {"eventType": "DELIVERED"})
    assert [i["orderItemId"] for i in done["event"]["items"]] == [second]
    assert done["order"]["orderStatus"] == "DELIVERED"


async def test_partial_quantity_cancel(client: PosClient, pos: RunningPos, http) -> None:
    """Cancelling part of a line's quantity keeps the line; cancelling the rest cancels it."""
    result = await client.import_fulfillment_order(fo_payload(3, lines=1))
    (line,) = result.line_ids.values()
    part = await _event(
        http, pos, "FO-000003", {"eventType": "CANCELED", "items": [{"orderItemId": line, "quantity": 1}]}
    )
    assert part["order"]["orderProductList"][0]["itemStatus"] == "NEW"
    assert part["event"]["items"][0]["reason"] == "OTHER"
    rest = await _event(http, pos, "FO-000003", {"eventType": "CANCELED"})
    assert rest["event"]["items"][0]["quantity"] == 1
    assert rest["order"]["orderStatus"] == "CANCELED"


async def test_bofis_ship_carries_tracking(client: PosClient, pos: RunningPos, http) -> None:
    """BOFIS goes PACK -> SHIPPED and the SHIPPED items carry tracking number and carrier."""
    await client.import_fulfillment_order(fo_payload(4, lines=1, omni="SHIP_TO_HOME_CURRENT_STORE"))
    await _event(http, pos, "FO-000004", {"eventType": "PACK"})
    out = await _event(http, pos, "FO-000004", {"eventType": "SHIPPED", "storeAssociateId": "9"})
    assert out["event"]["orderType"] == "BOFIS" and out["order"]["orderStatus"] == "SHIPPED"
    assert out["event"]["items"][0]["carrier"] == "UPS" and out["event"]["items"][0]["trackingNumber"]


async def test_illegal_transitions_rejected_with_409(client: PosClient, pos: RunningPos, http) -> None:
    """DELIVERED before PACK, SHIPPED on BOPIS, PACK after CANCELED and events on finished lines are 409."""
    result = await client.import_fulfillment_order(fo_payload(5))
    first, _second = result.line_ids.values()
    before = await client.get_fulfillment_order("FO-000005")
    await _event(http, pos, "FO-000005", {"eventType": "DELIVERED"}, expect=409)
    await _event(http, pos, "FO-000005", {"eventType": "SHIPPED"}, expect=409)
    assert await client.get_fulfillment_order("FO-000005") == before  # nothing changed
    await _event(http, pos, "FO-000005", {"eventType": "CANCELED", "items": [{"orderItemId": first}]})
    await _event(http, pos, "FO-000005", {"eventType": "PACK", "items": [{"orderItemId": first}]}, expect=409)
    await _event(http, pos, "FO-000005", {"eventType": "PACK"})
    await _event(http, pos, "FO-000005", {"eventType": "DELIVERED"})
    answer = await _event(http, pos, "FO-000005", {"eventType": "CANCELED"}, expect=409)
    assert answer["errorCode"] == "ILLEGAL_TRANSITION"


async def test_bad_event_requests_are_400_or_404(client: PosClient, pos: RunningPos, http) -> None:
    """Unknown event type or line is 400 naming the field; an unknown order is 404."""
    await client.import_fulfillment_order(fo_payload(6))
    bad_type = await _event(http, pos, "FO-000006", {"eventType": "PICKED"}, expect=400)
    assert bad_type["errorMessage"].startswith("eventType")
    bad_line = await _event(
        http, pos, "FO-000006", {"eventType": "PACK", "items": [{"orderItemId": "x"}]}, expect=400
    )
    assert "items[0].orderItemId" in bad_line["errorMessage"]
    await _event(http, pos, "FO-404", {"eventType": "PACK"}, expect=404)
