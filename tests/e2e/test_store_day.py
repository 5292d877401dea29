"""The whole worker against both emulators: imports, write-back, sales, returns — each outcome observed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .harness import Stack, emulators, eventually, worker

pytestmark = pytest.mark.e2e


async def pos_orders(stack: Stack) -> dict[str, dict[str, Any]]:
    body = await stack.pos_admin("GET", "orders")
    return {o["externalOrderId"]: o for o in body.get("orders", body)}


async def sf_records(stack: Stack, sobject: str) -> list[dict[str, Any]]:
    body = await stack.sf_admin("GET", f"records/{sobject}")
    return list(body.get("records", body))


async def test_bopis_and_bofis_orders_reach_the_right_store_once(tmp_path: Path) -> None:
    """BOPIS/BOFIS FOs reach the POS with store, lines and totals; a SHIP FO and other statuses do not."""
    async with emulators() as stack, worker(stack, tmp_path):
        bopis = await stack.sf_admin("POST", "scenario/orders", {"count": 2, "kind": "BOPIS", "store": "256"})
        bofis = await stack.sf_admin("POST", "scenario/orders", {"count": 1, "kind": "BOFIS", "store": "257"})
        ship = await stack.sf_admin("POST", "scenario/orders", {"count": 1, "kind": "SHIP", "store": "258"})
        draft = await stack.sf_admin("POST", "scenario/orders", {"count": 1, "kind": "BOPIS", "store": "256",
                                                                 "status": "Draft"})
        wanted = {o["fulfillment_order_id"]: o for o in bopis["orders"] + bofis["orders"]}

        async def imported() -> bool:
            return set(wanted) <= set(await pos_orders(stack))

        await eventually(imported, what="BOPIS and BOFIS orders imported")
        orders = await pos_orders(stack)
        assert ship["orders"][0]["fulfillment_order_id"] not in orders
        assert draft["orders"][0]["fulfillment_order_id"] not in orders
        assert len(orders) == 3
        for fo_id, created in wanted.items():
            order = orders[fo_id]
            assert order["storeId"] == ("257" if created in bofis["orders"] else "256")
            skus = sorted(line["productId"] for line in order["orderProductList"])
            products = [line for line in created["lines"] if line.get("sku") and line["sku"] != "DELIVERY-CHARGE"]
            assert skus == sorted(line["sku"] for line in products)  # the delivery charge is not a product line
            lines_total = sum(round(line["total"], 2) for line in order["orderProductList"])
            assert round(lines_total + order.get("shippingCharge", 0), 2) == round(order["totalAmount"], 2)
        kinds = {orders[f]["omniFulfillmentType"] for f in wanted}
        assert len(kinds) == 2  # BOPIS and BOFIS are told apart


async def test_pack_then_delivered_and_cancels_reach_salesforce(tmp_path: Path) -> None:
    """PACK->Pickpack, DELIVERED->Fulfilled (even out of order), partial cancel via cancel-item, full cancel."""
    async with emulators() as stack, worker(stack, tmp_path):
        created = await stack.sf_admin("POST", "scenario/orders", {"count": 4, "kind": "BOPIS", "store": "256"})
        fos = [o["fulfillment_order_id"] for o in created["orders"]]

        async def imported() -> bool:
            return set(fos) <= set(await pos_orders(stack))

        await eventually(imported, what="orders imported")
        orders = await pos_orders(stack)

        async def act(fo: str, event: str, items: list[dict[str, Any]] | None = None) -> None:
            body: dict[str, Any] = {"eventType": event}
            if items is not None:
                body["items"] = items
            await stack.pos_admin("POST", f"fulfillmentorders/{orders[fo]['orderId']}/events", body)

        await act(fos[0], "PACK")
        await act(fos[0], "DELIVERED")
        await act(fos[1], "PACK")
        first_line = orders[fos[2]]["orderProductList"][0]
        await act(fos[2], "CANCELED", [{"orderItemId": first_line["orderItemId"], "quantity": 1}])
        await act(fos[3], "CANCELED")
        expected = {fos[0]: "Fulfilled", fos[1]: "Pickpack", fos[3]: "Cancelled"}

        async def statuses() -> bool:
            current = {r["Id"]: r["Status"] for r in await sf_records(stack, "FulfillmentOrder")}
            return all(current.get(fo) == status for fo, status in expected.items())

        await eventually(statuses, what="statuses written back")

        async def line_reduced() -> bool:
            rows = await sf_records(stack, "FulfillmentOrderLineItem")
            lines = [r for r in rows if r["FulfillmentOrderId"] == fos[2]]
            return any(float(r["Quantity"]) < float(r["OriginalQuantity"]) for r in lines)

        await eventually(line_reduced, what="partial cancel reduced a line quantity")


@pytest.mark.parametrize(("kind", "tender"), [("in_store", "card"), ("pickup_later", "cash"),
                                              ("endless_aisle", "wallet"), ("mixed_cart", "split")])
async def test_sale_kinds_post_once_with_exact_totals(tmp_path: Path, kind: str, tender: str) -> None:
    """Each sale kind becomes one Activated Order with an OrderSummary and exact totals, even when delivered 3x."""
    async with emulators() as stack, worker(stack, tmp_path) as running:
        await stack.point_webhooks_at(running, duplicate_rate=1.0)
        sale = await stack.pos_admin("POST", "sales", {"kind": kind, "tender": tender, "store": "256"})

        async def posted() -> bool:
            return any(o.get("OrderReferenceNumber") == sale["orderId"] for o in await sf_records(stack, "Order"))

        await eventually(posted, what=f"{kind} sale posted")
        await eventually(lambda: _summary_exists(stack, sale["orderId"]), what="OrderSummary created")
        orders = [o for o in await sf_records(stack, "Order") if o.get("OrderReferenceNumber") == sale["orderId"]]
        assert len(orders) == 1 and orders[0]["Status"] == "Activated"
        items = [i for i in await sf_records(stack, "OrderItem") if i["OrderId"] == orders[0]["Id"]]
        item_ids = {i["Id"] for i in items}
        taxes = [t for t in await sf_records(stack, "OrderItemTaxLineItem") if t["OrderItemId"] in item_ids]
        products = sum(round(float(i["TotalLineAmount"]), 2) for i in items if i.get("Type") == "Order Product")
        assert round(products, 2) == round(sum(line["subTotal"] for line in sale["orderProductList"]), 2)
        assert round(sum(float(t["Amount"]) for t in taxes), 2) == round(sale["taxSubTotal"], 2)
        payments = [p for p in await sf_records(stack, "Payment") if p.get("AccountId") == orders[0]["AccountId"]]
        assert round(sum(float(p["Amount"]) for p in payments), 2) >= round(sale["totalAmount"], 2)


async def _summary_exists(stack: Stack, reference: str) -> bool:
    orders = {o["Id"] for o in await sf_records(stack, "Order") if o.get("OrderReferenceNumber") == reference}
    return any(s.get("OriginalOrderId") in orders for s in await sf_records(stack, "OrderSummary"))
