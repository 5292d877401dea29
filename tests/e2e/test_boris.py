"""BORIS and order history (DESIGN.md flow 5): SPIs, returns and online cancels against both emulators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from worker.app import Running

from .harness import SPI_KEY, WEBHOOK_KEY, Stack, emulators, eventually, worker

pytestmark = pytest.mark.e2e

SPI = "spi/1.0/orders"
RETURN_PATH_ENDS = ("/actions/submit-return", "/actions/create-credit-memo", "/async-actions/ensure-refunds-async")


async def sf_records(stack: Stack, sobject: str, **where: str) -> list[dict[str, Any]]:
    query = "&".join(f"where={k}:{v}" for k, v in where.items())
    body = await stack.sf_admin("GET", f"records/{sobject}" + (f"?{query}" if query else ""))
    return list(body["records"])


async def spi(stack: Stack, running: Running, method: str, path: str, *, key: str = SPI_KEY,
              params: dict[str, str] | None = None, body: Any = None) -> tuple[int, str, Any]:
    url = f"http://127.0.0.1:{running.http_port}/{SPI}{path}"
    async with stack.http.request(method, url, params={"api_key": key, **(params or {})}, json=body) as resp:
        text = await resp.text()
        return resp.status, text, (await resp.json(content_type=None)) if text else None


async def sf_token(stack: Stack) -> str:
    form = {"grant_type": "password", "client_id": "demo-client", "client_secret": "demo-secret",
            "username": "integration@example.com", "password": "demo-password"}
    async with stack.http.post(f"{stack.sf_url}/services/oauth2/token", data=form) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["access_token"])


async def sf_rest(stack: Stack, method: str, path: str, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {await sf_token(stack)}"}
    async with stack.http.request(method, f"{stack.sf_url}/services/data/v62.0/{path}", json=body,
                                  headers=headers) as resp:
        assert resp.status < 300, (resp.status, await resp.text())
        return await resp.json(content_type=None)


async def online_order(stack: Stack, customer: dict[str, str], lines: list[dict[str, Any]]) -> dict[str, Any]:
    """One Allocated BOPIS web order; returns its OrderSummary record."""
    created = await stack.sf_admin("POST", "scenario/orders", {"count": 1, "kind": "BOPIS", "store": "256",
                                                                "customer": customer, "lines": lines})
    summary_id = created["orders"][0]["order_summary_id"]
    return (await sf_records(stack, "OrderSummary", Id=summary_id))[0]


async def posted_sale(stack: Stack, lines: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """A POS in-store sale, waited for until the worker posted it with an OrderSummary and fulfilled its take-with
    lines (only fulfilled quantity can be returned); (sale, summary id)."""
    sale = await stack.pos_admin("POST", "sales", {"kind": "in_store", "tender": "card", "store": "256",
                                                   "lines": lines})
    found: list[str] = []

    async def fulfilled() -> bool:
        orders = {o["Id"] for o in await sf_records(stack, "Order", OrderReferenceNumber=sale["orderId"])}
        found[:] = [s["Id"] for s in await sf_records(stack, "OrderSummary") if s["OriginalOrderId"] in orders]
        items = await sf_records(stack, "OrderItemSummary", OrderSummaryId=found[0]) if found else []
        return bool(items) and all(float(i["QuantityFulfilled"]) == float(i["QuantityOrdered"]) for i in items)

    await eventually(fulfilled, what=f"sale {sale['orderId']} posted with an OrderSummary and fulfilled")
    return sale, found[0]


async def fulfil_online(stack: Stack, summary_id: str) -> None:
    """The customer picks the web order up: its FulfillmentOrder goes to Fulfilled."""
    for fo in await sf_records(stack, "FulfillmentOrder", OrderSummaryId=summary_id):
        await sf_rest(stack, "PATCH", f"sobjects/FulfillmentOrder/{fo['Id']}", {"Status": "Fulfilled"})


async def release_online(stack: Stack, summary_id: str) -> None:
    """The store gives the web order up: every line of its FulfillmentOrder is canceled (cancel-item), so the
    quantity is no longer allocated and can be canceled on the OrderSummary."""
    for fo in await sf_records(stack, "FulfillmentOrder", OrderSummaryId=summary_id):
        lines = await sf_records(stack, "FulfillmentOrderLineItem", FulfillmentOrderId=fo["Id"])
        await sf_rest(stack, "POST", f"commerce/fulfillment/fulfillment-orders/{fo['Id']}/actions/cancel-item", {
            "fulfillmentOrderLineItemsToCancel": [{"fulfillmentOrderLineItemId": line["Id"],
                                                   "quantity": line["Quantity"]} for line in lines]})


async def return_calls(stack: Stack, summary_id: str) -> dict[str, int]:
    """Successful submit-return / create-credit-memo / ensure-refunds-async calls for one OrderSummary."""
    rows = (await stack.sf_admin("GET", "requests?limit=1000"))["requests"]
    counts = dict.fromkeys(RETURN_PATH_ENDS, 0)
    for row in rows:
        path = row["path"].split("?")[0]
        for end in RETURN_PATH_ENDS:
            if summary_id[:15] in path and path.endswith(end) and row["status"] < 300:
                counts[end] += 1
    return counts


async def memos(stack: Stack, summary_id: str) -> list[dict[str, Any]]:
    return await sf_records(stack, "CreditMemo", ReferenceEntityId=summary_id)


async def test_search_finds_an_order_by_each_field(tmp_path: Path) -> None:
    """SEARCH_ORDERS finds a web order by OrderNumber, first/last name, email and BillToContactId, and only it."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        customer = {"first_name": "Zelda", "last_name": "Quorn", "email": "zelda.quorn@example.com"}
        summary = await online_order(stack, customer, [{"sku": "SKU-0001", "quantity": 2}])
        await online_order(stack, {"first_name": "Other", "last_name": "Person"}, [{"sku": "SKU-0002"}])
        contact = await sf_rest(stack, "POST", "sobjects/Contact",
                                {"AccountId": summary["AccountId"], "FirstName": "Zelda", "LastName": "Quorn"})
        await sf_rest(stack, "PATCH", f"sobjects/OrderSummary/{summary['Id']}", {"BillToContactId": contact["id"]})
        searches = {"OrderNumber": summary["OrderNumber"], "FirstName": "Zelda", "LastName": "Quorn",
                    "BillingEmailAddress": "zelda.quorn@example.com", "BillToContactId": contact["id"]}
        for field, value in searches.items():
            status, _, body = await spi(stack, running, "GET", "/search", params={field: value})
            assert status == 200, (field, body)
            assert [o["OrderID"] for o in body["orders"]] == [summary["OrderNumber"]], field
            assert body["orders"][0]["firstName"] == "Zelda" and body["orders"][0]["lastName"] == "Quorn"
            assert body["orders"][0]["emailId"] == "zelda.quorn@example.com"
            assert "errorMessage" not in body


async def test_search_without_match_answers_200_with_a_message(tmp_path: Path) -> None:
    """A search nothing matches answers 200 with an errorMessage and no orders (quotes in input are harmless)."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        await online_order(stack, {"first_name": "Zelda", "last_name": "Quorn"}, [{"sku": "SKU-0001"}])
        for params in ({"LastName": "Nobody"}, {"FirstName": "O'Brien"}, {"BillingEmailAddress": "x%' OR Id != '"}):
            status, _, body = await spi(stack, running, "GET", "/search", params=params)
            assert status == 200, (params, body)
            assert body["orders"] == [] and body["count"] == 0
            assert body["errorMessage"]


async def test_wrong_api_key_is_401_with_an_empty_body(tmp_path: Path) -> None:
    """Search, detail and cancel with a wrong or missing api_key answer 401 with an empty body."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        summary = await online_order(stack, {"first_name": "Zelda"}, [{"sku": "SKU-0001"}])
        number = summary["OrderNumber"]
        for key in ("wrong-key", ""):
            for method, path, params in (("GET", "/search", {"OrderNumber": number}), ("GET", f"/{number}", {}),
                                         ("POST", f"/{number}/cancel", {})):
                status, text, _ = await spi(stack, running, method, path, key=key, params=params)
                assert (status, text) == (401, ""), (method, path, key)
        items = await sf_records(stack, "OrderItemSummary", OrderSummaryId=summary["Id"])
        assert all(float(i["QuantityCanceled"] or 0) == 0 for i in items)  # the refused cancel changed nothing


async def test_detail_matches_the_order(tmp_path: Path) -> None:
    """GET_ORDER_DETAIL lists the order's product lines with SKU, quantity, price and returnable quantity (OMS's
    QuantityAvailableToReturn: nothing before pickup, every unit after)."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        summary = await online_order(stack, {"first_name": "Zelda", "last_name": "Quorn"},
                                     [{"sku": "SKU-0001", "quantity": 3}, {"sku": "SKU-0003", "quantity": 1}])
        status, _, detail = await spi(stack, running, "GET", f"/{summary['OrderNumber']}")
        assert status == 200, detail
        assert [line["returnableQuantity"] for line in detail["orderProductList"]] == [0.0, 0.0]
        assert detail["canReturn"] == "FALSE"  # allocated to the store, not picked up yet: nothing to return
        await fulfil_online(stack, summary["Id"])
        status, _, detail = await spi(stack, running, "GET", f"/{summary['OrderNumber']}")
        assert status == 200, detail
        items = {i["Id"]: i for i in await sf_records(stack, "OrderItemSummary", OrderSummaryId=summary["Id"])}
        assert detail["orderId"] == summary["OrderNumber"]
        assert detail["Total"] == round(float(summary["GrandTotalAmount"]), 2)
        lines = {line["orderItemId"]: line for line in detail["orderProductList"]}
        assert set(lines) == set(items)
        for item_id, line in lines.items():
            assert line["productId"] == items[item_id]["StockKeepingUnit"]
            assert line["quantity"] == float(items[item_id]["QuantityOrdered"])
            assert line["returnableQuantity"] == float(items[item_id]["QuantityOrdered"])
            assert line["returnableQuantity"] == float(items[item_id]["QuantityAvailableToReturn"])
            assert line["price"] == round(float(items[item_id]["UnitPrice"]), 2)
        assert sorted((ln["productId"], ln["quantity"]) for ln in lines.values()) == [("SKU-0001", 3.0),
                                                                                        ("SKU-0003", 1.0)]
        assert detail["canReturn"] == "TRUE" and detail["returnProductList"] == []
        status, _, missing = await spi(stack, running, "GET", "/NO-SUCH-ORDER")
        assert status == 404 and missing["errorCode"] == "ORDER_NOT_FOUND"


async def test_partial_then_full_return_refund_once_each(tmp_path: Path) -> None:
    """A partial then a full return each make one change order, credit memo and refund, even if re-delivered."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        sale, summary_id = await posted_sale(stack, [{"sku": "SKU-0001", "quantity": 3, "price": 20, "discount": 0}])
        await stack.point_webhooks_at(running, duplicate_rate=1.0)  # every RETURN webhook arrives twice
        first = await stack.pos_admin("POST", "sales", {"kind": "return", "original_order_id": sale["orderId"],
                                                        "store": "256",
                                                        "return_lines": [{"orderItemId": "1", "quantity": 1}]})
        assert first["returnProductList"] and not first["orderProductList"]

        async def memo_count(n: int) -> bool:
            return len(await memos(stack, summary_id)) >= n

        await eventually(lambda: memo_count(1), what="credit memo of the partial return")
        await eventually(lambda: _refunds(stack, summary_id, 1), what="refund of the partial return")
        item = (await sf_records(stack, "OrderItemSummary", OrderSummaryId=summary_id))[0]
        assert float(item["QuantityReturned"]) == 1.0
        status, _, detail = await spi(stack, running, "GET", "/" + await _number(stack, summary_id))
        assert status == 200 and detail["orderProductList"][0]["returnableQuantity"] == 2.0
        assert detail["returnProductList"] == [{"orderItemId": item["Id"], "quantity": 1.0}]

        await stack.pos_admin("POST", "sales", {"kind": "return", "original_order_id": sale["orderId"],
                                                "store": "256", "return_lines": [{"orderItemId": "1", "quantity": 2}]})
        await eventually(lambda: memo_count(2), what="credit memo of the full return")
        await eventually(lambda: _refunds(stack, summary_id, 2), what="refund of the full return")
        # the POS exports the first return again with another status: a new webhook job, the same return
        again = {**first, "orderStatus": "CLOSED"}
        async with stack.http.post(f"http://127.0.0.1:{running.http_port}/webhooks/pos/RETURN", json=again,
                                   headers={"Authorization": f"Bearer {WEBHOOK_KEY}"}) as resp:
            assert resp.status == 200 and (await resp.json())["duplicate"] is False
        await stack.pos_admin("POST", "webhooks/drain")
        await eventually(lambda: _returns_done(running, 3), what="both returns and the re-export done")
        assert await return_calls(stack, summary_id) == dict.fromkeys(RETURN_PATH_ENDS, 2)
        found = await memos(stack, summary_id)
        assert len(found) == 2
        assert sorted(round(float(m["TotalAmount"]), 2) for m in found) == [20.0, 40.0]
        item = (await sf_records(stack, "OrderItemSummary", OrderSummaryId=summary_id))[0]
        assert float(item["QuantityReturned"]) == 3.0
        assert await running.store.dead_letters("return") == []
        copies = [d for d in (await stack.pos_admin("GET", "webhooks/log"))["deliveries"]
                  if d["endpoint"] == "RETURN" and d["duplicate"] and d["outcome"] == "delivered"]
        assert len(copies) >= 2  # both returns really were delivered twice


async def test_over_return_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    """Returning more than is still returnable dead-letters the RETURN and creates no change order or memo."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        sale, summary_id = await posted_sale(stack, [{"sku": "SKU-0002", "quantity": 2, "price": 10, "discount": 0}])
        await stack.pos_admin("POST", "sales", {"kind": "return", "original_order_id": sale["orderId"],
                                                "store": "256", "return_lines": [{"orderItemId": "1", "quantity": 2}]})
        await eventually(lambda: _refunds(stack, summary_id, 1), what="refund of the full return")
        over = await stack.pos_admin("POST", "sales", {"kind": "return", "original_order_id": sale["orderId"],
                                                       "store": "256",
                                                       "return_lines": [{"orderItemId": "1", "quantity": 1}]})

        async def dead() -> bool:
            return any(j.payload["sale"]["orderId"] == over["orderId"]
                       for j in await running.store.dead_letters("return"))

        await eventually(dead, what="over-return dead-lettered")
        assert all(j.last_error for j in await running.store.dead_letters("return"))
        assert await return_calls(stack, summary_id) == dict.fromkeys(RETURN_PATH_ENDS, 1)
        assert len(await memos(stack, summary_id)) == 1
        changes = [o for o in await sf_records(stack, "Order") if o["RelatedOrderId"]]
        assert len(changes) == 1
        item = (await sf_records(stack, "OrderItemSummary", OrderSummaryId=summary_id))[0]
        assert float(item["QuantityReturned"]) == 2.0


async def test_online_cancel_submits_cancel(tmp_path: Path) -> None:
    """The cancel SPI calls submit-cancel: a partial line cancel, then the rest; quantities follow; over-cancel 400;
    quantity still allocated to a FulfillmentOrder is not cancelable (409, nothing sent)."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        summary = await online_order(stack, {"first_name": "Zelda"},
                                     [{"sku": "SKU-0001", "quantity": 3}, {"sku": "SKU-0004", "quantity": 1}])
        number = summary["OrderNumber"]
        status, _, body = await spi(stack, running, "POST", f"/{number}/cancel")
        assert status == 409 and body["errorCode"] == "NOTHING_TO_CANCEL", body  # all allocated to the store
        await release_online(stack, summary["Id"])
        items = {i["StockKeepingUnit"]: i for i in await sf_records(stack, "OrderItemSummary",
                                                                    OrderSummaryId=summary["Id"])}
        tee = items["SKU-0001"]["Id"]
        status, _, body = await spi(stack, running, "POST", f"/{number}/cancel",
                                    body={"items": [{"orderItemId": tee, "quantity": 1}], "reason": "Wrong Item"})
        assert status == 200 and body["status"] == "OK" and body["changeOrderId"], body
        after = {i["StockKeepingUnit"]: i for i in await sf_records(stack, "OrderItemSummary",
                                                                    OrderSummaryId=summary["Id"])}
        assert float(after["SKU-0001"]["QuantityCanceled"]) == 1.0 and float(after["SKU-0001"]["Quantity"]) == 2.0
        assert float(after["SKU-0004"]["QuantityCanceled"] or 0) == 0.0
        change = [c for c in await sf_records(stack, "OrderItemSummaryChange", OrderSummaryId=summary["Id"])]
        assert len(change) == 1 and change[0]["Reason"] == "Wrong Item"

        status, _, detail = await spi(stack, running, "GET", f"/{number}")
        assert {ln["productId"]: (ln["quantity"], ln["returnableQuantity"]) for ln in detail["orderProductList"]} == {
            "SKU-0001": (2.0, 0.0), "SKU-0004": (1.0, 0.0)}  # nothing was fulfilled, so nothing is returnable
        status, _, body = await spi(stack, running, "POST", f"/{number}/cancel",
                                    body={"items": [{"orderItemId": tee, "quantity": 3}]})
        assert status == 400 and body["errorCode"] == "OVER_CANCEL"

        status, _, body = await spi(stack, running, "POST", f"/{number}/cancel")
        assert status == 200, body
        final = {i["StockKeepingUnit"]: i for i in await sf_records(stack, "OrderItemSummary",
                                                                    OrderSummaryId=summary["Id"])}
        assert {s: (float(i["QuantityCanceled"]), float(i["Quantity"])) for s, i in final.items()} == {
            "SKU-0001": (3.0, 0.0), "SKU-0004": (1.0, 0.0)}
        calls = [r for r in (await stack.sf_admin("GET", "requests?limit=1000"))["requests"]
                 if r["path"].endswith("/actions/submit-cancel") and r["status"] < 300]
        assert len(calls) == 2
        status, _, body = await spi(stack, running, "POST", f"/{number}/cancel")
        assert status == 409 and body["errorCode"] == "NOTHING_TO_CANCEL"


async def _refunds(stack: Stack, summary_id: str, n: int) -> bool:
    return (await return_calls(stack, summary_id))["/async-actions/ensure-refunds-async"] >= n


async def _number(stack: Stack, summary_id: str) -> str:
    return str((await sf_records(stack, "OrderSummary", Id=summary_id))[0]["OrderNumber"])


async def _returns_done(running: Running, n: int) -> bool:
    counts = (await running.store.queue_counts())["return"]
    return counts["done"] == n and counts["pending"] == counts["processing"] == 0
