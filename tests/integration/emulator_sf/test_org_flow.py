"""The org setting order_summary_flow (a record-triggered flow on Order activation) and per-kind latency."""

from __future__ import annotations

import time

import pytest

from .conftest import Client, V
from .test_oms_actions import OM, _activated_order

MULTIPLE = f"{V}/commerce/fulfillment/actions/create-multiple"


@pytest.mark.parametrize("sf", [{"order_summary_flow": True}], indirect=True)
async def test_activating_an_order_creates_its_summary_in_the_same_transaction(sf: Client) -> None:
    """With the flow on, activation alone creates one MANAGED OrderSummary with its item summaries; Connect then
    refuses a second one (DUPLICATE_VALUE)."""
    order = await _activated_order(sf)
    rows = sf.emu.org.children(order, "OrderSummary", "OriginalOrderId")
    assert len(rows) == 1 and rows[0]["OrderLifeCycleType"] == "MANAGED"
    assert len(sf.emu.org.children(rows[0]["Id"], "OrderItemSummary", "OrderSummaryId")) == 1
    status, body, _ = await sf.call("POST", OM, {"orderId": order})
    assert status == 400 and body[0]["errorCode"] == "DUPLICATE_VALUE"


async def test_the_flow_is_off_by_default_and_switched_by_the_admin_setting(sf: Client) -> None:
    """Off by default (activation creates no summary); POST /__admin/settings turns it on; bad values are 400."""
    order = await _activated_order(sf)
    assert sf.emu.org.children(order, "OrderSummary", "OriginalOrderId") == []
    status, body = await sf.admin("POST", "settings", {"order_summary_flow": True})
    assert status == 200 and body == {"order_summary_flow": True}
    assert len(sf.emu.org.children(await _activated_order(sf), "OrderSummary", "OriginalOrderId")) == 1
    status, body = await sf.admin("POST", "settings", {"order_summary_flow": "yes"})
    assert status == 400 and "order_summary_flow" in body["error"]
    status, body = await sf.admin("POST", "settings", {"flows": True})
    assert status == 400 and "unknown" in body["error"]


@pytest.mark.parametrize("sf", [{"order_summary_flow": True}], indirect=True)
async def test_scenario_orders_reuse_the_summary_the_flow_made(sf: Client) -> None:
    """Scenario orders still get exactly one summary each when the org's flow already made it."""
    orders = await sf.orders(count=2, kind="BOPIS", store="256")
    for order in orders:
        assert len(sf.emu.org.children(order["order_id"], "OrderSummary", "OriginalOrderId")) == 1


async def test_latency_by_kind_delays_only_that_kind(sf: Client) -> None:
    """latency_ms_by_kind delays the listed resource kinds (here SOQL) and leaves the others at latency_ms;
    an unknown kind is a 400."""
    status, _ = await sf.admin("POST", "faults", {"latency_ms_by_kind": {"query": 300}})
    assert status == 200
    started = time.monotonic()
    await sf.query("SELECT Id FROM Account LIMIT 1")
    assert time.monotonic() - started >= 0.3  # a lower bound the added sleep guarantees, not a speed claim
    status, _, _ = await sf.call("GET", f"{V}/limits")
    assert status == 200
    # the other kinds keep latency_ms (0): read from the emulator's decision, not timed on a shared machine
    assert sf.emu.faults.latency_seconds(f"{V}/limits", "limits") == 0.0
    assert sf.emu.faults.latency_seconds(f"{V}/query", "query") == 0.3
    status, body = await sf.admin("POST", "faults", {"latency_ms_by_kind": {"graph": 100}})
    assert status == 400 and "latency_ms_by_kind" in body["error"]


async def test_create_multiple_creates_each_input_alone_and_echoes_a_failed_one(sf: Client) -> None:
    """fulfillment/actions/create-multiple: a good input gets its FO (with its referenceId); a bad one (unknown
    Location) is echoed with the error on its items and creates nothing; below v50.0 the resource does not exist."""
    first, second = await _activated_order(sf), await _activated_order(sf)
    inputs = []
    for n, order in enumerate((first, second)):
        status, body, _ = await sf.call("POST", OM, {"orderId": order})
        summary = body["orderSummaryId"]
        group = sf.emu.org.children(summary, "OrderDeliveryGroupSummary", "OrderSummaryId")[0]
        item = sf.emu.org.children(summary, "OrderItemSummary", "OrderSummaryId")[0]
        location = sf.emu.org.find("Location", "warehouseID__c", "256")[0]["Id"] if n == 0 else "131000000000000AAA"
        inputs.append({"orderSummaryId": summary, "orderDeliveryGroupSummaryId": group["Id"], "fulfillmentGroups": [{
            "fulfilledFromLocationId": location, "fulfillmentType": "Retail Store", "referenceId": f"S-{n}",
            "orderItemSummaries": [{"orderItemSummaryId": item["Id"], "quantity": 1}]}]})
    status, body, _ = await sf.call("POST", MULTIPLE, {"fulfillmentOrders": inputs})
    assert status == 201 and body["success"] is True
    ok, failed = body["fulfillmentOrders"]
    assert ok["referenceId"] == "S-0" and sf.emu.org.get(ok["fulfillmentOrderId"])["Type"] == "Retail Store"
    assert "fulfillmentOrderId" not in failed and failed["referenceId"] == "S-1"
    assert failed["orderItemSummaries"][0]["errors"][0]["errorCode"] == "NOT_FOUND"
    assert sf.emu.org.children(inputs[1]["orderSummaryId"], "FulfillmentOrder", "OrderSummaryId") == []
    status, body, _ = await sf.call("POST", MULTIPLE.replace("v62.0", "v49.0"), {"fulfillmentOrders": inputs})
    assert status == 404
    status, body, _ = await sf.call("POST", MULTIPLE, {"fulfillmentOrders": []})
    assert status == 400 and body[0]["errorCode"] == "INVALID_API_INPUT"
