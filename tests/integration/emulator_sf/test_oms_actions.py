"""Connect REST OMS actions: order summaries, fulfillment orders, cancel-item, cancel/return, refunds."""

from __future__ import annotations

import pytest

from .conftest import Client, V, fo_events

OM = f"{V}/commerce/order-management/order-summaries"
FF = f"{V}/commerce/fulfillment/fulfillment-orders"


async def _activated_order(sf: Client) -> str:
    org = sf.emu.org
    account = org.insert("Account", {"Name": "Shop"})
    order = org.insert("Order", {"AccountId": account, "EffectiveDate": "2025-05-01"})
    product = org.find("Product2", "StockKeepingUnit", "SKU-0002")[0]
    entry = org.children(product["Id"], "PricebookEntry", "Product2Id")[0]
    method = org.find("OrderDeliveryMethod", "Name", "BOFIS")[0]
    group = org.insert("OrderDeliveryGroup", {"OrderId": order, "OrderDeliveryMethodId": method["Id"],
                                              "DeliverToName": "Shop"})
    item = org.insert("OrderItem", {"OrderId": order, "Product2Id": product["Id"], "PricebookEntryId": entry["Id"],
                                    "Quantity": 3, "UnitPrice": 10, "OrderDeliveryGroupId": group})
    org.insert("OrderItemTaxLineItem", {"OrderItemId": item, "Name": "t", "Type": "Actual", "Amount": 3,
                                        "TaxEffectiveDate": "2025-05-01"})
    org.update(order, {"Status": "Activated"})
    return order


async def test_order_summary_and_fulfillment_order_creation(sf: Client) -> None:
    """order-summaries creates OS + OIS + ODGS (name -> OrderNumber); fulfillment-orders allocates an FO."""
    order = await _activated_order(sf)
    status, body, _ = await sf.call("POST", OM, {"orderId": order, "name": "ORD-1001"})
    assert status == 201 and body["success"] is True and body["errors"] == []
    summary = body["orderSummaryId"]
    assert summary.startswith("1Os") and sf.emu.org.get(summary)["OrderNumber"] == "ORD-1001"
    status, again, _ = await sf.call("POST", OM, {"orderId": order})
    assert status == 400 and again[0]["errorCode"] == "DUPLICATE_VALUE"
    data = await sf.query("SELECT Id, GrandTotalAmount, (SELECT Id, QuantityOrdered FROM OrderItemSummaries) "
                          f"FROM OrderSummary WHERE Id = '{summary}'")
    ois = data["records"][0]["OrderItemSummaries"]["records"][0]["Id"]
    odgs = sf.emu.org.children(summary, "OrderDeliveryGroupSummary", "OrderSummaryId")[0]["Id"]
    store = sf.emu.org.find("Location", "warehouseID__c", "257")[0]["Id"]
    status, body, _ = await sf.call("POST", FF, {
        "orderSummaryId": summary, "orderDeliveryGroupSummaryId": odgs,
        "fulfillmentGroups": [{"fulfilledFromLocationId": store, "fulfillmentType": "retail store",
                               "orderItemSummaries": [{"orderItemSummaryId": ois, "quantity": 2}]}]})
    assert status == 201 and len(body["fulfillmentOrderIds"]) == 1
    fo = sf.emu.org.get(body["fulfillmentOrderIds"][0])
    assert fo["Status"] == "Allocated" and fo["Type"] == "Retail Store" and fo["TotalProductAmount"] == 20.0
    assert fo["TotalTaxAmount"] == 2.0 and fo["ItemCount"] == 2.0
    assert fo_events(sf)[-1]["NewStatus"] == "Allocated"
    status, body, _ = await sf.call("POST", FF, {
        "orderSummaryId": summary, "orderDeliveryGroupSummaryId": odgs,
        "fulfillmentGroups": [{"fulfilledFromLocationId": store, "fulfillmentType": "Warehouse",
                               "orderItemSummaries": [{"orderItemSummaryId": ois, "quantity": 2}]}]})
    assert status == 400 and body[0]["errorCode"] == "INVALID_API_INPUT"


async def test_order_summary_requires_activated_order(sf: Client) -> None:
    """A Draft order can't become an OrderSummary; an unknown id is 404."""
    account = sf.emu.org.insert("Account", {"Name": "d"})
    draft = sf.emu.org.insert("Order", {"AccountId": account, "EffectiveDate": "2025-05-01"})
    status, body, _ = await sf.call("POST", OM, {"orderId": draft})
    assert status == 400 and set(body[0]) == {"errorCode", "message"}
    status, body, _ = await sf.call("POST", OM, {"orderId": "801R00000000zzzIAA"})
    assert status == 404


@pytest.mark.parametrize("sf", [{"cancel_status_value": "Canceled"}], indirect=True)
async def test_cancel_item_partial_then_full_cancels_fo(sf: Client) -> None:
    """cancel-item reduces FOLI Quantity; when all product lines reach 0 the FO gets the configured cancel status."""
    order = (await sf.orders(count=1, kind="BOPIS", lines=[{"sku": "SKU-0001", "quantity": 3, "tax": 1.5}]))[0]
    fo, line = order["fulfillment_order_id"], order["lines"][0]["foli_id"]
    url = f"{FF}/{fo}/actions/cancel-item"
    status, body, _ = await sf.call("POST", url, {"fulfillmentOrderLineItemsToCancel": [
        {"fulfillmentOrderLineItemId": line, "quantity": 1}]})
    assert (status, body) == (201, {"errors": [], "success": True})
    row = sf.emu.org.get(line)
    assert (row["Quantity"], row["OriginalQuantity"]) == (2.0, 3.0)
    assert sf.emu.org.get(fo)["Status"] == "Allocated"
    status, body, _ = await sf.call("POST", url, {"fulfillmentOrderLineItemsToCancel": [
        {"fulfillmentOrderLineItemId": line, "quantity": 5}]})
    assert status == 400 and body[0]["errorCode"] == "INVALID_API_INPUT"
    await sf.call("POST", url, {"fulfillmentOrderLineItemsToCancel": [
        {"fulfillmentOrderLineItemId": line, "quantity": 2}]})
    assert sf.emu.org.get(fo)["Status"] == "Canceled"
    last = fo_events(sf)[-1]
    assert (last["NewStatus"], last["NewStatusCategory"], last["FulfillmentOrderId"]) == ("Canceled", "Cancelled", fo)


async def test_return_credit_memo_and_refund_chain(sf: Client) -> None:
    """submit-return -> create-credit-memo -> ensure-refunds-async, with input validation at each step."""
    order = (await sf.orders(count=1, status="Fulfilled",
                             lines=[{"sku": "SKU-0003", "quantity": 2, "unit_price": 10, "tax": 2}]))[0]
    summary = order["order_summary_id"]
    ois = sf.emu.org.children(summary, "OrderItemSummary", "OrderSummaryId")[0]["Id"]
    item = {"orderItemSummaryId": ois, "quantity": 1, "reason": "Wrong Item", "shippingReductionFlag": False}
    status, body, _ = await sf.call("POST", f"{OM}/{summary}/actions/submit-return",
                                    {"changeItems": [{k: v for k, v in item.items() if k != "reason"}]})
    assert status == 400 and "reason" in body[0]["message"]
    status, body, _ = await sf.call("POST", f"{OM}/{summary}/actions/submit-return",
                                    {"changeItems": [{**item, "quantity": 3}]})
    assert status == 400 and body[0]["errorCode"] == "INVALID_API_INPUT"
    status, body, _ = await sf.call("POST", f"{OM}/{summary}/actions/submit-return", {"changeItems": [item]})
    assert status == 201 and body["success"] is True and body["changeOrderId"].startswith("801")
    assert body["changeBalances"]["totalAmount"] == 10.0 and body["changeBalances"]["totalTaxAmount"] == 1.0
    assert sf.emu.org.get(ois)["QuantityReturned"] == 1.0
    changes = sf.emu.org.children(summary, "OrderItemSummaryChange", "OrderSummaryId")
    assert [(c["ChangeType"], c["IsPreFulfillment"]) for c in changes] == [("Return", False)]
    status, memo, _ = await sf.call("POST", f"{OM}/{summary}/actions/create-credit-memo",
                                    {"changeOrderIds": [body["changeOrderId"]]})
    assert status == 201 and memo["creditMemoId"].startswith("50g")
    assert sf.emu.org.get(memo["creditMemoId"])["TotalAmountWithTax"] == 11.0
    status, refund, _ = await sf.call("POST", f"{OM}/{summary}/async-actions/ensure-refunds-async",
                                      {"creditMemoId": memo["creditMemoId"]})
    assert status == 201 and refund["backgroundOperationId"].startswith("0Ad") and refund["success"] is True
    status, body, _ = await sf.call("POST", f"{OM}/{summary}/async-actions/ensure-refunds-async", {})
    assert status == 400


async def test_submit_cancel_reduces_quantity(sf: Client) -> None:
    """submit-cancel records QuantityCanceled and a Cancel OrderItemSummaryChange once cancel-item freed the lines."""
    order = (await sf.orders(count=1, lines=[{"sku": "SKU-0004", "quantity": 2}]))[0]
    summary = order["order_summary_id"]
    ois = sf.emu.org.children(summary, "OrderItemSummary", "OrderSummaryId")[0]["Id"]
    status, _, _ = await sf.call("POST", f"{FF}/{order['fulfillment_order_id']}/actions/cancel-item", {
        "fulfillmentOrderLineItemsToCancel": [{"fulfillmentOrderLineItemId": order["lines"][0]["foli_id"],
                                               "quantity": 2}]})
    assert status == 201
    status, body, _ = await sf.call("POST", f"{OM}/{summary}/actions/submit-cancel", {"changeItems": [
        {"orderItemSummaryId": ois, "quantity": 2, "reason": "Unknown", "shippingReductionFlag": True}]})
    assert status == 201 and body["changeBalances"]["totalExcessFundsAmount"] > 0
    row = sf.emu.org.get(ois)
    assert (row["QuantityCanceled"], row["Quantity"]) == (2.0, 0.0)
    changes = sf.emu.org.children(summary, "OrderItemSummaryChange", "OrderSummaryId")
    assert [(c["ChangeType"], c["IsPreFulfillment"]) for c in changes] == [("Cancel", True)]


async def test_unmanaged_summary_gets_no_order_services(sf: Client) -> None:
    """An UNMANAGED OrderSummary refuses submit-cancel, submit-return and fulfillment-orders with a 400."""
    status, body, _ = await sf.call("POST", OM, {"orderId": await _activated_order(sf),
                                                 "orderLifeCycleType": "UNMANAGED"})
    summary = body["orderSummaryId"]
    ois = sf.emu.org.children(summary, "OrderItemSummary", "OrderSummaryId")[0]["Id"]
    for kind in ("cancel", "return"):
        status, body, _ = await sf.call("POST", f"{OM}/{summary}/actions/submit-{kind}", {"changeItems": [
            {"orderItemSummaryId": ois, "quantity": 1, "reason": "Unknown", "shippingReductionFlag": False}]})
        assert status == 400 and body[0]["errorCode"] == "INVALID_API_INPUT" and "unmanaged" in body[0]["message"]
    odgs = sf.emu.org.children(summary, "OrderDeliveryGroupSummary", "OrderSummaryId")[0]["Id"]
    status, body, _ = await sf.call("POST", FF, {
        "orderSummaryId": summary, "orderDeliveryGroupSummaryId": odgs,
        "fulfillmentGroups": [{"fulfilledFromLocationId": sf.emu.org.find("Location", "warehouseID__c", "257")[0]["Id"],
                               "fulfillmentType": "Retail Store",
                               "orderItemSummaries": [{"orderItemSummaryId": ois, "quantity": 1}]}]})
    assert status == 400 and "unmanaged" in body[0]["message"]
    assert sf.emu.org.get(ois)["QuantityCanceled"] == 0 and sf.emu.org.get(ois)["QuantityAllocated"] == 0


async def test_take_with_sale_becomes_returnable_only_once_its_fo_is_fulfilled(sf: Client) -> None:
    """A MANAGED summary without an FO has nothing to return; fulfillment-orders + FO Fulfilled make it returnable."""
    status, body, _ = await sf.call("POST", OM, {"orderId": await _activated_order(sf), "name": "POS-1"})
    summary = body["orderSummaryId"]
    ois = sf.emu.org.children(summary, "OrderItemSummary", "OrderSummaryId")[0]["Id"]
    change = {"changeItems": [{"orderItemSummaryId": ois, "quantity": 1, "reason": "Unknown",
                               "shippingReductionFlag": False}]}
    status, body, _ = await sf.call("POST", f"{OM}/{summary}/actions/submit-return", change)
    assert status == 400 and "available to return (0)" in body[0]["message"]
    odgs = sf.emu.org.children(summary, "OrderDeliveryGroupSummary", "OrderSummaryId")[0]["Id"]
    store = sf.emu.org.find("Location", "warehouseID__c", "256")[0]["Id"]
    status, body, _ = await sf.call("POST", FF, {
        "orderSummaryId": summary, "orderDeliveryGroupSummaryId": odgs,
        "fulfillmentGroups": [{"fulfilledFromLocationId": store, "fulfillmentType": "Retail Store",
                               "orderItemSummaries": [{"orderItemSummaryId": ois, "quantity": 3}]}]})
    assert status == 201
    status, _, _ = await sf.call("PATCH", f"{V}/sobjects/FulfillmentOrder/{body['fulfillmentOrderIds'][0]}",
                                 {"Status": "Fulfilled"})
    assert status == 204 and sf.emu.org.get(ois)["QuantityAvailableToReturn"] == 3.0
    status, body, _ = await sf.call("POST", f"{OM}/{summary}/actions/submit-return", change)
    assert status == 201 and body["success"] is True
