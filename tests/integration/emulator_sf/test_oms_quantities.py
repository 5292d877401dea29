"""The Order Management quantity model over HTTP: allocation, fulfilment, cancel-item, submit-cancel, submit-return,
and the refusals a real org answers (rules of emulator/REFERENCE-oms.md)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Client, V

OM = f"{V}/commerce/order-management/order-summaries"
FF = f"{V}/commerce/fulfillment/fulfillment-orders"
QTY = ("Quantity, QuantityOrdered, QuantityAllocated, QuantityFulfilled, QuantityCanceled, QuantityReturnInitiated, "
       "QuantityReturned, QuantityNetOrdered, QuantityAvailableToFulfill, QuantityAvailableToCancel, "
       "QuantityAvailableToReturn, Status, TotalPrice, TotalTaxAmount")


async def _order(sf: Client, quantity: int = 3, **spec: Any) -> tuple[dict[str, Any], str]:
    order = (await sf.orders(count=1, lines=[{"sku": "SKU-0002", "quantity": quantity, "unit_price": 10,
                                              "tax": 3}], **spec))[0]
    ois = sf.emu.org.children(order["order_summary_id"], "OrderItemSummary", "OrderSummaryId")[0]["Id"]
    return order, ois


async def _ois(sf: Client, ois: str) -> dict[str, Any]:
    records = (await sf.query(f"SELECT {QTY} FROM OrderItemSummary WHERE Id = '{ois}'"))["records"]
    return dict(records[0])


async def _change(sf: Client, summary: str, kind: str, ois: str, quantity: float) -> tuple[int, Any]:
    status, body, _ = await sf.call("POST", f"{OM}/{summary}/actions/submit-{kind}", {"changeItems": [
        {"orderItemSummaryId": ois, "quantity": quantity, "reason": "Unknown", "shippingReductionFlag": False}]})
    return status, body


async def _cancel_item(sf: Client, order: dict[str, Any], quantity: float) -> tuple[int, Any]:
    status, body, _ = await sf.call("POST", f"{FF}/{order['fulfillment_order_id']}/actions/cancel-item", {
        "fulfillmentOrderLineItemsToCancel": [{"fulfillmentOrderLineItemId": order["lines"][0]["foli_id"],
                                               "quantity": quantity}]})
    return status, body


async def _fulfil(sf: Client, fo: str, status: str = "Fulfilled") -> None:
    code, body, _ = await sf.call("PATCH", f"{V}/sobjects/FulfillmentOrder/{fo}", {"Status": status})
    assert code == 204, body


def _refused(status: int, body: Any, phrase: str) -> None:
    assert status == 400 and isinstance(body, list) and set(body[0]) == {"errorCode", "message"}, body
    assert body[0]["errorCode"] == "INVALID_API_INPUT" and phrase in body[0]["message"], body


async def test_quantity_fields_are_queryable_and_read_only(sf: Client) -> None:
    """Every Quantity* field is queryable; an API user can't write them (INVALID_FIELD_FOR_INSERT_UPDATE)."""
    _, ois = await _order(sf)
    row = await _ois(sf, ois)
    assert row["QuantityAvailableToReturn"] == 0 and row["QuantityAvailableToCancel"] == 0
    for field in ("QuantityFulfilled", "QuantityAvailableToReturn", "Status"):
        status, body, _ = await sf.call("PATCH", f"{V}/sobjects/OrderItemSummary/{ois}", {field: 1})
        assert status == 400 and body[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE", (field, body)


async def test_allocation_moves_quantity_from_available_to_fulfill_to_allocated(sf: Client) -> None:
    """fulfillment-orders allocates: QuantityAllocated grows, QuantityAvailableToFulfill/ToCancel shrink, ALLOCATED."""
    _, ois = await _order(sf)
    row = await _ois(sf, ois)
    assert (row["QuantityAllocated"], row["QuantityAvailableToFulfill"], row["Status"]) == (3, 0, "ALLOCATED")


async def test_fulfilled_fo_sets_quantity_fulfilled_once(sf: Client) -> None:
    """An FO reaching Fulfilled (status category Closed) adds its line quantities to QuantityFulfilled, once."""
    order, ois = await _order(sf)
    await _fulfil(sf, order["fulfillment_order_id"], "Pickpack")
    assert (await _ois(sf, ois))["QuantityFulfilled"] == 0
    await _fulfil(sf, order["fulfillment_order_id"])
    await _fulfil(sf, order["fulfillment_order_id"])  # same status again: no second fulfilment
    row = await _ois(sf, ois)
    assert (row["QuantityFulfilled"], row["QuantityAvailableToReturn"], row["Status"]) == (3, 3, "FULFILLED")


async def test_partial_fulfilment_counts_only_the_fo_lines(sf: Client) -> None:
    """An FO holding part of a line fulfils only that part (PARTIALLYFULFILLED); the freed rest is cancelable."""
    order, ois = await _order(sf)
    assert (await _cancel_item(sf, order, 1))[0] == 201
    await _fulfil(sf, order["fulfillment_order_id"])
    row = await _ois(sf, ois)
    assert (row["QuantityFulfilled"], row["QuantityAllocated"], row["QuantityAvailableToCancel"]) == (2, 2, 1)
    assert row["Status"] == "PARTIALLYFULFILLED"


async def test_submit_return_refuses_quantity_never_fulfilled(sf: Client) -> None:
    """submit-return beyond QuantityAvailableToReturn (unfulfilled quantity) is a 400 and changes nothing."""
    order, ois = await _order(sf)
    status, body = await _change(sf, order["order_summary_id"], "return", ois, 1)
    _refused(status, body, "available to return")
    assert not sf.emu.org.children(order["order_summary_id"], "OrderItemSummaryChange", "OrderSummaryId")
    assert (await _ois(sf, ois))["QuantityReturned"] == 0


async def test_submit_return_counts_returned_and_return_initiated(sf: Client) -> None:
    """A simple return adds to QuantityReturned and QuantityReturnInitiated; the rest of the fulfilled is returnable."""
    order, ois = await _order(sf, status="Fulfilled")
    status, body = await _change(sf, order["order_summary_id"], "return", ois, 1)
    assert status == 201 and body["success"] is True
    row = await _ois(sf, ois)
    assert (row["QuantityReturned"], row["QuantityReturnInitiated"], row["QuantityAvailableToReturn"]) == (1, 1, 2)
    assert (row["Quantity"], row["Status"]) == (2, "FULFILLED")
    status, body = await _change(sf, order["order_summary_id"], "return", ois, 3)
    _refused(status, body, "available to return")
    assert (await _change(sf, order["order_summary_id"], "return", ois, 2))[0] == 201
    assert (await _ois(sf, ois))["Status"] == "RETURNED"


async def test_submit_cancel_refuses_allocated_quantity(sf: Client) -> None:
    """Quantity held by a FulfillmentOrder isn't available to cancel: submit-cancel answers 400 until cancel-item."""
    order, ois = await _order(sf)
    status, body = await _change(sf, order["order_summary_id"], "cancel", ois, 1)
    _refused(status, body, "available to cancel")
    assert (await _ois(sf, ois))["QuantityCanceled"] == 0


async def test_submit_cancel_refuses_fulfilled_quantity(sf: Client) -> None:
    """Fulfilled quantity can no longer be canceled: submit-cancel on a fulfilled line answers 400."""
    order, ois = await _order(sf, status="Fulfilled")
    status, body = await _change(sf, order["order_summary_id"], "cancel", ois, 1)
    _refused(status, body, "available to cancel")


async def test_cancel_item_releases_allocation_then_submit_cancel_cancels(sf: Client) -> None:
    """cancel-item only lowers QuantityAllocated (OIS not canceled); submit-cancel then takes the freed quantity."""
    order, ois = await _order(sf)
    assert (await _cancel_item(sf, order, 2))[0] == 201
    row = await _ois(sf, ois)
    assert (row["QuantityAllocated"], row["QuantityCanceled"], row["QuantityAvailableToCancel"]) == (1, 0, 2)
    assert row["Status"] == "PARTIALLYALLOCATED"
    _refused(*await _change(sf, order["order_summary_id"], "cancel", ois, 3), "available to cancel")
    assert (await _change(sf, order["order_summary_id"], "cancel", ois, 2))[0] == 201
    row = await _ois(sf, ois)
    assert (row["QuantityCanceled"], row["Quantity"], row["QuantityAvailableToCancel"]) == (2, 1, 0)
    assert row["Status"] == "ALLOCATED"


async def test_cancel_item_refuses_more_than_the_line_holds(sf: Client) -> None:
    """cancel-item beyond the FO line's remaining Quantity is a 400; line and allocation stay as they were."""
    order, ois = await _order(sf)
    assert (await _cancel_item(sf, order, 2))[0] == 201
    status, body = await _cancel_item(sf, order, 2)
    assert status == 400 and body[0]["errorCode"] == "INVALID_API_INPUT" and set(body[0]) == {"errorCode", "message"}
    assert sf.emu.org.get(order["lines"][0]["foli_id"])["Quantity"] == 1.0
    assert (await _ois(sf, ois))["QuantityAllocated"] == 1


async def test_change_items_of_one_line_count_together(sf: Client) -> None:
    """Two changeItems for the same line are checked as their sum, and a refused request applies none of them."""
    order, ois = await _order(sf, status="Fulfilled")
    item = {"orderItemSummaryId": ois, "quantity": 2, "reason": "Unknown", "shippingReductionFlag": False}
    status, body, _ = await sf.call("POST", f"{OM}/{order['order_summary_id']}/actions/submit-return",
                                    {"changeItems": [item, item]})
    _refused(status, body, "available to return")
    assert (await _ois(sf, ois))["QuantityReturned"] == 0


@pytest.mark.parametrize("sf", [{"fo_statuses": [("Draft", "Draft"), ("Allocated", "Activated"),
                                                 ("Shipped", "Closed"), ("Cancelled", "Cancelled")]}],
                         indirect=True)
async def test_any_closed_category_status_fulfils(sf: Client) -> None:
    """A customised FO status in the Closed category (here Shipped) fulfils like the default Fulfilled."""
    order, ois = await _order(sf)
    await _fulfil(sf, order["fulfillment_order_id"], "Shipped")
    assert (await _ois(sf, ois))["QuantityAvailableToReturn"] == 3


async def test_summary_totals_roll_up_after_cancel_and_return(sf: Client) -> None:
    """OrderSummary and OrderItemSummary amounts equal original + change orders; OrderSummary.Status is left alone."""
    order, ois = await _order(sf)  # 3 x 10 + 3 tax = 33
    summary = order["order_summary_id"]
    assert (await _cancel_item(sf, order, 1))[0] == 201
    status, body = await _change(sf, summary, "cancel", ois, 1)
    assert status == 201 and body["changeBalances"]["grandTotalAmount"] == 11.0
    assert sf.emu.org.get(summary)["GrandTotalAmount"] == 22.0
    await _fulfil(sf, order["fulfillment_order_id"])
    status, body = await _change(sf, summary, "return", ois, 1)
    assert status == 201
    after = sf.emu.org.get(summary)
    totals = (after["GrandTotalAmount"], after["TotalTaxAmount"], after["TotalAdjustedProductAmount"])
    assert totals == (11.0, 1.0, 10.0)
    assert after["Status"] == "Created"
    row = await _ois(sf, ois)
    assert (row["TotalPrice"], row["TotalTaxAmount"], row["Quantity"]) == (10, 1, 1)


async def test_cancel_item_refuses_a_fulfilled_fo(sf: Client) -> None:
    """cancel-item on a FulfillmentOrder already Fulfilled (category Closed) is a 400; quantities stay."""
    order, ois = await _order(sf, status="Fulfilled")
    status, body = await _cancel_item(sf, order, 1)
    assert status == 400 and body[0]["errorCode"] == "INVALID_API_INPUT"
    row = await _ois(sf, ois)
    assert (row["QuantityAllocated"], row["QuantityFulfilled"]) == (3, 3)


async def test_credit_memo_carries_the_returned_discount(sf: Client) -> None:
    """A returned line's share of its discount reduces the change order and the credit memo like changeBalances."""
    order = (await sf.orders(count=1, status="Fulfilled", lines=[
        {"sku": "SKU-0002", "quantity": 2, "unit_price": 10, "tax": 0, "discount": 4}]))[0]
    summary = order["order_summary_id"]
    ois = sf.emu.org.children(summary, "OrderItemSummary", "OrderSummaryId")[0]["Id"]
    status, body = await _change(sf, summary, "return", ois, 1)
    assert status == 201 and body["changeBalances"]["totalAmount"] == 8.0
    status, memo, _ = await sf.call("POST", f"{OM}/{summary}/actions/create-credit-memo",
                                    {"changeOrderIds": [body["changeOrderId"]]})
    assert status == 201 and sf.emu.org.get(memo["creditMemoId"])["TotalAmount"] == 8.0
    assert sf.emu.org.get(summary)["GrandTotalAmount"] == 8.0
