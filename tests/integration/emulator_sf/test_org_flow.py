"""The org setting order_summary_flow (a record-triggered flow on Order activation) and per-kind latency."""

from __future__ import annotations

import time

import pytest

from .conftest import Client, V
from .test_oms_actions import OM, _activated_order


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
    slow = time.monotonic() - started
    started = time.monotonic()
    status, _, _ = await sf.call("GET", f"{V}/limits")
    fast = time.monotonic() - started
    assert status == 200 and slow >= 0.3 and fast < 0.3
    status, body = await sf.admin("POST", "faults", {"latency_ms_by_kind": {"graph": 100}})
    assert status == 400 and "latency_ms_by_kind" in body["error"]
