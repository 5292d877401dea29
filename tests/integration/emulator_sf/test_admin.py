"""Admin API: faults, tokens, limits, counters, request log, records, seed, scenarios, restart, events."""

from __future__ import annotations

from pathlib import Path

from emulator.salesforce.app import SfEmulatorSettings

from .conftest import Client, V, fo_events, make_client


async def test_fault_5xx_bodies_and_admin_is_never_faulted(sf: Client) -> None:
    """error_rate=1 with 5xx answers 500 UNKNOWN_EXCEPTION or 503 SERVER_UNAVAILABLE; /__admin still works."""
    status, _ = await sf.admin("POST", "faults", {"error_rate": 1.0, "error_kind": "5xx", "seed": 3})
    assert status == 200
    seen = set()
    for _ in range(12):
        status, body, _ = await sf.call("GET", f"{V}/limits")
        seen.add(status)
        assert body[0]["errorCode"] == {500: "UNKNOWN_EXCEPTION", 503: "SERVER_UNAVAILABLE"}[status]
        if status == 500:
            assert body[0]["message"].startswith("An unexpected error occurred. Please include this ErrorId")
    assert seen == {500, 503}
    assert (await sf.admin("GET", "counters"))[0] == 200
    await sf.admin("DELETE", "faults")
    assert (await sf.call("GET", f"{V}/limits"))[0] == 200


async def test_fault_path_filter_and_lock_row(sf: Client) -> None:
    """paths limits faults to matching URLs; UNABLE_TO_LOCK_ROW is a 400 with the reference text."""
    await sf.admin("POST", "faults", {"error_rate": 1.0, "error_kind": "UNABLE_TO_LOCK_ROW", "paths": ["/query"]})
    status, body, _ = await sf.call("GET", f"{V}/query", params={"q": "SELECT Id FROM Account"})
    assert status == 400
    assert body == [{"message": "unable to obtain exclusive access to this record", "errorCode": "UNABLE_TO_LOCK_ROW",
                     "fields": []}]
    assert (await sf.call("GET", f"{V}/limits"))[0] == 200
    status, body = await sf.admin("POST", "faults", {"error_kind": "teapot"})
    assert status == 400 and "error_kind" in body["error"]


async def test_event_drop_rate_loses_events(sf: Client) -> None:
    """event_drop_rate=1 drops every FOStatusChangedEvent; clearing faults restores publishing."""
    fo = (await sf.orders(count=1))[0]["fulfillment_order_id"]
    await sf.admin("POST", "faults", {"event_drop_rate": 1.0})
    before = len(fo_events(sf))
    await sf.admin("POST", f"fulfillment-orders/{fo}/status", {"status": "Pickpack"})
    assert len(fo_events(sf)) == before
    await sf.admin("DELETE", "faults")
    status, body = await sf.admin("POST", f"fulfillment-orders/{fo}/status", {"status": "Fulfilled"})
    assert status == 200 and fo_events(sf)[-1]["NewStatus"] == "Fulfilled"
    status, body = await sf.admin("POST", f"fulfillment-orders/{fo}/status", {"status": "Nope"})
    assert status == 400 and body[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


async def test_token_revoke_and_ttl(sf: Client) -> None:
    """Revoking tokens makes the next REST call 401."""
    assert (await sf.call("GET", f"{V}/limits"))[0] == 200
    status, body = await sf.admin("POST", "tokens/revoke")
    assert status == 200 and body["revoked"] >= 1
    assert (await sf.call("GET", f"{V}/limits"))[0] == 401
    assert (await sf.admin("POST", "tokens/ttl", {"seconds": 5}))[0] == 200
    assert (await sf.admin("POST", "tokens/ttl", {"seconds": -1}))[0] == 400


async def test_counters_by_kind_and_request_log(sf: Client) -> None:
    """Counters split calls by kind; reset zeroes them; the request log keeps the latest calls."""
    await sf.admin("POST", "counters/reset")
    await sf.query("SELECT Id FROM Account")
    await sf.call("POST", f"{V}/sobjects/Account", {"Name": "c"})
    await sf.call("POST", f"{V}/composite/graph", {"graphs": []})
    _, counters = await sf.admin("GET", "counters")
    kinds = counters["by_kind"]
    assert (kinds["query"], kinds["sobject_create"], kinds["composite_graph"]) == (1, 1, 1)
    assert counters["total"] == 3
    _, log = await sf.admin("GET", "requests?limit=2")
    assert [r["kind"] for r in log["requests"]] == ["sobject_create", "composite_graph"]


async def test_records_seed_and_scenario(sf: Client) -> None:
    """Seeding is idempotent by name; scenario orders return ids; records can be filtered."""
    body = {"pricebook": {"Name": "acme-en-US-US"}, "sales_channels": [{"SalesChannelName": "POS"}],
            "delivery_methods": [{"Name": "IN_STORE-DEFAULT"}], "payment_gateways": [{"PaymentGatewayName": "Cash"}],
            "products": [{"sku": "SKU-0001", "name": "Demo Product 1", "price": 14.99}]}
    status, first = await sf.admin("POST", "seed", body)
    _, second = await sf.admin("POST", "seed", body)
    assert status == 200 and first == second and first["pricebook_id"].startswith("01s")
    orders = await sf.orders(count=3, kind="BOFIS", store="258")
    assert len({o["fulfillment_order_id"] for o in orders}) == 3
    assert any(line["sku"] == "DELIVERY-CHARGE" for line in orders[0]["lines"])
    status, rows = await sf.admin("GET", "records/FulfillmentOrder?where=Type:Retail Store")
    assert rows["totalSize"] == 3 and all(r["Status"] == "Allocated" for r in rows["records"])
    status, counted = await sf.admin("GET", "records/FulfillmentOrder?where=Type:Retail Store&count=true")
    assert status == 200 and counted == {"totalSize": 3}
    assert (await sf.admin("POST", "scenario/orders", {"store": "999"}))[0] == 400


async def test_events_publish_raw(sf: Client) -> None:
    """A raw publish goes to the bus with a replay id."""
    status, body = await sf.admin("POST", "events/publish", {"payload": {"FulfillmentOrderId": "x", "NewStatus": "A"}})
    assert status == 200 and body["published"] is True and body["replay_id"] > 0


async def test_restart_persists_state_and_keeps_tokens(tmp_path: Path) -> None:
    """POST /__admin/restart writes state_file; a new emulator on the same file sees the same rows."""
    state = str(tmp_path / "org.json")
    running, http, token = await make_client(SfEmulatorSettings(seed="demo", state_file=state))
    try:
        client = Client(running.url, http, token, running)
        order = (await client.orders(count=1))[0]
        status, body = await client.admin("POST", "restart")
        assert status == 200 and body["persisted"] is True
        assert (await client.call("GET", f"{V}/limits"))[0] == 200
    finally:
        await http.close()
        await running.stop()
    running, http, token = await make_client(SfEmulatorSettings(state_file=state))
    try:
        client = Client(running.url, http, token, running)
        status, row, _ = await client.call("GET", f"{V}/sobjects/FulfillmentOrder/{order['fulfillment_order_id']}")
        assert status == 200 and row["Status"] == "Allocated"
        new_id = client.emu.org.insert("Account", {"Name": "after restart"})
        assert client.emu.org.count("Account") >= 2 and new_id not in {order["order_id"]}
        assert fo_events(client)[-1]["FulfillmentOrderId"] == order["fulfillment_order_id"]
    finally:
        await http.close()
        await running.stop()
