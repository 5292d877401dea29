"""REST basics against a real emulator: auth, CRUD, errors, upsert, describe, query paging, limits."""

from __future__ import annotations

import pytest

from .conftest import Client, V, fo_events


async def test_versions_need_no_auth_and_list_v62(sf: Client) -> None:
    """GET /services/data/ lists versions without a token and without a limit header."""
    status, body, headers = await sf.call("GET", "/services/data/", auth=False)
    assert status == 200 and {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in body
    assert "Sforce-Limit-Info" not in headers


@pytest.mark.parametrize("header", [None, "Bearer nope", "OAuth nope"])
async def test_bad_or_missing_token_is_401_invalid_session(sf: Client, header: str | None) -> None:
    """Any REST call without a valid token answers 401 INVALID_SESSION_ID with the exact text."""
    headers = {"Authorization": header} if header else {}
    status, body, _ = await sf.call("GET", f"{V}/limits", headers=headers, auth=False)
    assert status == 401
    assert body == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


async def test_create_get_patch_delete_roundtrip(sf: Client) -> None:
    """POST 201 {id,success,errors}; GET with attributes; PATCH 204 empty; DELETE 204; then ENTITY_IS_DELETED."""
    status, body, headers = await sf.call("POST", f"{V}/sobjects/Account", {"Name": "Acme"})
    assert status == 201 and body["success"] is True and body["errors"] == [] and body["id"].startswith("001")
    rid = body["id"]
    assert headers["Sforce-Limit-Info"].startswith("api-usage=")
    status, row, _ = await sf.call("GET", f"{V}/sobjects/Account/{rid}")
    assert row["attributes"] == {"type": "Account", "url": f"{V}/sobjects/Account/{rid}"}
    assert row["Name"] == "Acme" and row["CreatedDate"].endswith("+0000")
    status, body, _ = await sf.call("PATCH", f"{V}/sobjects/Account/{rid}", {"Phone": "555"})
    assert (status, body) == (204, None)
    status, row, _ = await sf.call("GET", f"{V}/sobjects/Account/{rid[:15]}", params={"fields": "Phone,Name"})
    assert set(row) == {"attributes", "Id", "Phone", "Name"} and row["Phone"] == "555"
    assert (await sf.call("DELETE", f"{V}/sobjects/Account/{rid}"))[0] == 204
    status, body, _ = await sf.call("DELETE", f"{V}/sobjects/Account/{rid}")
    assert status == 404 and body[0]["errorCode"] == "ENTITY_IS_DELETED"


@pytest.mark.parametrize("method,path,body,status,code", [
    ("GET", "/sobjects/Account/001R00000000zzzIAA", None, 404, "NOT_FOUND"),
    ("GET", "/sobjects/Account/0a3R00000000001IAA", None, 400, "MALFORMED_ID"),
    ("GET", "/sobjects/Account/notanid", None, 400, "MALFORMED_ID"),
    ("GET", "/sobjects/Nope/describe", None, 404, "NOT_FOUND"),
    ("POST", "/sobjects/Contact", {"FirstName": "x"}, 400, "REQUIRED_FIELD_MISSING"),
    ("POST", "/sobjects/Account", {"Name": "x", "Bogus": 1}, 400, "INVALID_FIELD"),
    ("POST", "/sobjects/Product2", {"Name": "x", "IsActive": "maybe"}, 400, "JSON_PARSER_ERROR"),
    ("POST", "/sobjects/Contact", {"LastName": "x", "AccountId": "0a3R00000000001IAA"}, 400,
     "FIELD_INTEGRITY_EXCEPTION"),
    ("POST", "/sobjects/Contact", {"LastName": "x", "AccountId": "garbage"}, 400, "MALFORMED_ID"),
    ("POST", "/sobjects/Location", {"Name": "x", "LocationType": "Moon"}, 400,
     "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
    ("POST", "/sobjects/OrderSummary", {"OrderNumber": "1"}, 400, "INVALID_TYPE_FOR_OPERATION"),
    ("GET", "/query", None, 400, "MALFORMED_QUERY"),
])
async def test_error_bodies_are_arrays_with_codes(sf: Client, method: str, path: str, body: object, status: int,
                                                  code: str) -> None:
    """Each invalid call answers its status and a [{message, errorCode}] array."""
    got_status, got, _ = await sf.call(method, V + path, body)
    assert got_status == status, got
    assert isinstance(got, list) and got[0]["errorCode"] == code and got[0]["message"]


async def test_invalid_json_is_json_parser_error(sf: Client) -> None:
    """A body that is not JSON answers 400 JSON_PARSER_ERROR."""
    async with sf.http.post(f"{sf.url}{V}/sobjects/Account", data=b"{nope",
                            headers={"Authorization": f"Bearer {sf.token}",
                                     "Content-Type": "application/json"}) as resp:
        assert resp.status == 400 and (await resp.json())[0]["errorCode"] == "JSON_PARSER_ERROR"


async def test_duplicate_sku_is_duplicate_value(sf: Client) -> None:
    """Product2.StockKeepingUnit is unique (case-insensitive)."""
    status, body, _ = await sf.call("POST", f"{V}/sobjects/Product2", {"Name": "x", "StockKeepingUnit": "sku-0001"})
    assert status == 400 and body[0]["errorCode"] == "DUPLICATE_VALUE"


async def test_upsert_by_external_id_creates_then_updates(sf: Client) -> None:
    """PATCH sobjects/T/ExtField/value: 201 created, then 200 created:false on the same record."""
    path = f"{V}/sobjects/Product2/StockKeepingUnit/NEW-1"
    status, body, _ = await sf.call("PATCH", path, {"Name": "New"})
    assert status == 201 and body["created"] is True
    status, again, _ = await sf.call("PATCH", path, {"Name": "Renamed"})
    assert status == 200 and again == {"id": body["id"], "success": True, "errors": [], "created": False}
    status, row, _ = await sf.call("GET", path)
    assert row["Name"] == "Renamed"
    status, err, _ = await sf.call("PATCH", f"{V}/sobjects/Product2/Name/x", {"Name": "y"})
    assert status == 404 and err[0]["errorCode"] == "NOT_FOUND"


async def test_describe_lists_fo_status_picklist(sf: Client) -> None:
    """FulfillmentOrder describe has Status picklist values incl. the cancel spelling and child relationships."""
    _status, body, _ = await sf.call("GET", f"{V}/sobjects/FulfillmentOrder/describe")
    status_field = next(f for f in body["fields"] if f["name"] == "Status")
    values = [p["value"] for p in status_field["picklistValues"]]
    assert values[:2] == ["Draft", "Allocated"] and "Cancelled" in values and "Pack Complete" in values
    rels = {c["relationshipName"] for c in body["childRelationships"]}
    assert {"FulfillmentOrderLineItems", "FulfillmentOrderItemTaxes", "FulfillmentOrderItemAdjustments"} <= rels
    assert body["keyPrefix"] == "0a3"


async def test_order_activation_needs_items_and_totals_roll_up(sf: Client) -> None:
    """Draft->Activated is refused without OrderItems; TotalAmount sums items; OrderNumber autonumbers."""
    account = (await sf.call("POST", f"{V}/sobjects/Account", {"Name": "A"}))[1]["id"]
    order = (await sf.call("POST", f"{V}/sobjects/Order", {"AccountId": account, "EffectiveDate": "2025-05-01",
                                                           "Status": "Draft", "OrderReferenceNumber": "POS-1"}))[1]
    status, body, _ = await sf.call("PATCH", f"{V}/sobjects/Order/{order['id']}", {"Status": "Activated"})
    assert status == 400 and body[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    product = sf.emu.org.find("Product2", "StockKeepingUnit", "SKU-0001")[0]
    entry = sf.emu.org.children(product["Id"], "PricebookEntry", "Product2Id")[0]
    method = sf.emu.org.find("OrderDeliveryMethod", "Name", "BOPIS")[0]
    group = (await sf.call("POST", f"{V}/sobjects/OrderDeliveryGroup", {
        "OrderId": order["id"], "OrderDeliveryMethodId": method["Id"], "DeliverToName": "A"}))[1]["id"]
    for qty in (2, 1):
        status, _, _ = await sf.call("POST", f"{V}/sobjects/OrderItem", {
            "OrderId": order["id"], "Product2Id": product["Id"], "PricebookEntryId": entry["Id"],
            "Quantity": qty, "UnitPrice": 10.5, "OrderDeliveryGroupId": group})
        assert status == 201
    assert (await sf.call("PATCH", f"{V}/sobjects/Order/{order['id']}", {"Status": "Activated"}))[0] == 204
    data = await sf.query("SELECT TotalAmount, OrderNumber, Status FROM Order WHERE OrderReferenceNumber = 'POS-1'")
    row = data["records"][0]
    assert row["TotalAmount"] == 31.5 and row["Status"] == "Activated" and len(row["OrderNumber"]) == 8


async def test_query_paging_with_batch_size_and_query_all(sf: Client) -> None:
    """batchSize=200 pages through nextRecordsUrl; totalSize is the whole count; queryAll sees deleted rows."""
    for i in range(250):
        sf.emu.org.insert("Contact", {"LastName": f"C{i}"})
    status, page, _ = await sf.call("GET", f"{V}/query", params={"q": "SELECT Id FROM Contact"},
                                    headers={"Sforce-Query-Options": "batchSize=200"})
    assert page["totalSize"] == 250 and page["done"] is False and len(page["records"]) == 200
    assert page["nextRecordsUrl"].startswith(f"{V}/query/01g")
    status, rest, _ = await sf.call("GET", page["nextRecordsUrl"])
    assert rest["done"] is True and len(rest["records"]) == 50 and "nextRecordsUrl" not in rest
    ids = {r["Id"] for r in page["records"] + rest["records"]}
    assert len(ids) == 250
    victim = next(iter(ids))
    await sf.call("DELETE", f"{V}/sobjects/Contact/{victim}")
    assert (await sf.query("SELECT COUNT() FROM Contact"))["totalSize"] == 249
    status, everything, _ = await sf.call("GET", f"{V}/queryAll", params={"q": "SELECT Id FROM Contact"})
    assert everything["totalSize"] == 250
    status, body, _ = await sf.call("GET", f"{V}/query/01gR0000000bogusAAA-200")
    assert status == 400 and body[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


async def test_fo_status_patch_publishes_event_and_rejects_unknown_status(sf: Client) -> None:
    """PATCH FulfillmentOrder Status publishes FOStatusChangedEvent with old/new status and category."""
    fo = (await sf.orders(count=1))[0]["fulfillment_order_id"]
    before = len(fo_events(sf))
    status, body, _ = await sf.call("PATCH", f"{V}/sobjects/FulfillmentOrder/{fo}", {"Status": "Shipped-ish"})
    assert status == 400 and body[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert (await sf.call("PATCH", f"{V}/sobjects/FulfillmentOrder/{fo}", {"Status": "Pickpack"}))[0] == 204
    events = fo_events(sf)[before:]
    assert len(events) == 1
    assert {k: events[0][k] for k in ("FulfillmentOrderId", "OldStatus", "NewStatus", "OldStatusCategory",
                                       "NewStatusCategory")} == {
        "FulfillmentOrderId": fo, "OldStatus": "Allocated", "NewStatus": "Pickpack",
        "OldStatusCategory": "Activated", "NewStatusCategory": "Fulfilling"}
    assert events[0]["OrderSummaryId"].startswith("1Os")


async def test_limit_exhaustion_is_403_and_header_counts(sf: Client) -> None:
    """Every REST call consumes one unit of the allowance; when spent -> 403 REQUEST_LIMIT_EXCEEDED."""
    await sf.admin("POST", "limits", {"max": 3, "used": 1})
    _, _, headers = await sf.call("GET", f"{V}/limits")
    assert headers["Sforce-Limit-Info"] == "api-usage=2/3"
    await sf.call("GET", f"{V}/limits")
    status, body, headers = await sf.call("GET", f"{V}/limits")
    assert status == 403
    assert body == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert headers["Sforce-Limit-Info"] == "api-usage=3/3"
