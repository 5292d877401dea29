"""How OMS builds its records: order summaries from activated orders, fulfillment orders, change orders."""

from __future__ import annotations

from typing import Any

from . import oms_quantities
from .errors import SfError
from .org import Org

CHANGE_TYPE = {"cancel": "Cancel", "return": "Return"}  # OrderItemSummaryChange.ChangeType per action


def connect_error(code: str, message: str, status: int = 400) -> SfError:
    """Connect REST error (``[{"errorCode","message"}]``)."""
    return SfError(status, code, message)


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def order_item_tax(org: Org, item_id: str) -> float:
    return sum(t["Amount"] or 0.0 for t in org.children(item_id, "OrderItemTaxLineItem", "OrderItemId"))


def order_item_adjustment(org: Org, item_id: str) -> float:
    return sum(a["Amount"] or 0.0 for a in org.children(item_id, "OrderItemAdjustmentLineItem", "OrderItemId"))


def create_order_summary(org: Org, order_id: str, name: str | None = None, lifecycle: str = "MANAGED",
                         status: str = "Created") -> str:
    """OrderSummary + OrderDeliveryGroupSummaries + OrderItemSummaries from an activated Order."""
    order = org.get(order_id)
    if order is None or org.object_of(order_id) != "Order":
        raise connect_error("NOT_FOUND", f"The order {order_id} doesn't exist.", 404)
    if order["Status"] != "Activated":
        raise connect_error("INVALID_API_INPUT", "An order summary can only be created for an activated order.")
    existing = org.children(order["Id"], "OrderSummary", "OriginalOrderId")
    if existing:
        raise connect_error("DUPLICATE_VALUE", f"An order summary already exists for this order: {existing[0]['Id']}")
    items = org.children(order["Id"], "OrderItem", "OrderId")
    product_total = sum(i["TotalPrice"] or 0.0 for i in items if i["TypeCode"] != "Charge")
    delivery_total = sum(i["TotalPrice"] or 0.0 for i in items if i["TypeCode"] == "Charge")
    adjustments = sum(order_item_adjustment(org, i["Id"]) for i in items)
    taxes = sum(order_item_tax(org, i["Id"]) for i in items)
    copy = {k: order[k] for k in ("AccountId", "BillingEmailAddress", "BillingPhoneNumber", "BillingStreet",
                                  "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry",
                                  "BillingStateCode", "BillingCountryCode", "SalesChannelId", "Pricebook2Id",
                                  "OrderedDate", "TaxLocaleType", "CurrencyIsoCode")}
    os_id = org.insert("OrderSummary", {
        **copy, "OrderNumber": name or order["OrderNumber"], "OriginalOrderId": order["Id"], "Status": status,
        "OrderLifeCycleType": lifecycle, "TotalAdjustedProductAmount": _money(product_total + adjustments),
        "TotalAdjustedDeliveryAmount": _money(delivery_total), "TotalTaxAmount": _money(taxes),
        "GrandTotalAmount": _money(product_total + delivery_total + adjustments + taxes),
        "ExternalReferenceIdentifier": order["OrderReferenceNumber"],
    }, system=True)
    group_map: dict[str, str] = {}
    for group in org.children(order["Id"], "OrderDeliveryGroup", "OrderId"):
        group_map[group["Id"]] = org.insert("OrderDeliveryGroupSummary", {
            "OrderSummaryId": os_id, "OriginalOrderDeliveryGroupId": group["Id"],
            "OrderDeliveryMethodId": group["OrderDeliveryMethodId"], "DeliverToName": group["DeliverToName"],
            "EmailAddress": group["EmailAddress"], "PhoneNumber": group["PhoneNumber"],
            **{k: group[k] for k in ("DeliverToStreet", "DeliverToCity", "DeliverToState", "DeliverToPostalCode",
                                     "DeliverToCountry", "DeliverToStateCode", "DeliverToCountryCode")},
        }, system=True)
    for item in items:
        product = org.get(item["Product2Id"]) or {}
        org.insert("OrderItemSummary", {
            "OrderSummaryId": os_id, "OriginalOrderItemId": item["Id"], "Product2Id": item["Product2Id"],
            "OrderDeliveryGroupSummaryId": group_map.get(item["OrderDeliveryGroupId"] or ""),
            "Name": product.get("Name"), "StockKeepingUnit": product.get("StockKeepingUnit"),
            "ProductCode": product.get("ProductCode"), "Description": item["Description"],
            "QuantityOrdered": item["Quantity"], "UnitPrice": item["UnitPrice"], "ListPrice": item["ListPrice"],
            "TotalLineAmount": item["TotalLineAmount"] if item["TotalLineAmount"] is not None else item["TotalPrice"],
            "TotalPrice": item["TotalPrice"], "TotalTaxAmount": _money(order_item_tax(org, item["Id"])),
            "TotalAdjustmentAmount": _money(order_item_adjustment(org, item["Id"])), "Type": item["Type"],
            "TypeCode": item["TypeCode"],
        }, system=True)
    return os_id


def create_fulfillment_order(org: Org, os_id: str, odgs_id: str, location_id: str | None, fo_type: str | None,
                             lines: list[tuple[str, float]], *, include_charges: bool = False,
                             status: str = "Allocated") -> tuple[str, list[str]]:
    """A FulfillmentOrder with lines, taxes and adjustments (scaled from the order items); then ``status``."""
    summary = org.get(os_id) or {}
    group = org.get(odgs_id)
    if group is None or group["OrderSummaryId"] != os_id:
        raise connect_error("INVALID_API_INPUT", f"Order delivery group summary {odgs_id} doesn't belong to {os_id}.")
    if include_charges:
        taken = {ois for ois, _ in lines}
        for ois in org.children(os_id, "OrderItemSummary", "OrderSummaryId"):
            if (ois["TypeCode"] == "Charge" and ois["OrderDeliveryGroupSummaryId"] == odgs_id
                    and ois["Id"] not in taken and (ois["QuantityAvailableToFulfill"] or 0.0) > 0):
                lines.append((ois["Id"], ois["QuantityAvailableToFulfill"]))
    fo_id = org.insert("FulfillmentOrder", {
        "OrderSummaryId": os_id, "OrderId": summary.get("OriginalOrderId"), "AccountId": summary.get("AccountId"),
        "FulfilledFromLocationId": location_id, "DeliveryMethodId": group["OrderDeliveryMethodId"],
        "FulfilledToName": group["DeliverToName"], "FulfilledToEmailAddress": group["EmailAddress"],
        "FulfilledToPhone": group["PhoneNumber"], "Type": fo_type, "Status": "Draft",
        "FulfilledToStreet": group["DeliverToStreet"], "FulfilledToCity": group["DeliverToCity"],
        "FulfilledToState": group["DeliverToState"], "FulfilledToPostalCode": group["DeliverToPostalCode"],
        "FulfilledToCountry": group["DeliverToCountry"], "TaxLocaleType": summary.get("TaxLocaleType"),
    }, system=True)
    foli_ids: list[str] = []
    for ois_id, quantity in lines:
        found = org.get(ois_id)
        if found is None or found["OrderSummaryId"] != os_id:
            raise connect_error("INVALID_API_INPUT", f"Order item summary {ois_id} doesn't belong to {os_id}.")
        ois = found
        oms_quantities.allocate(org, ois, quantity)
        item_id = ois["OriginalOrderItemId"]
        foli = org.insert("FulfillmentOrderLineItem", {
            "FulfillmentOrderId": fo_id, "OrderItemSummaryId": ois_id, "OrderItemId": item_id,
            "Product2Id": ois["Product2Id"], "Quantity": quantity, "OriginalQuantity": quantity,
            "UnitPrice": ois["UnitPrice"], "Type": ois["Type"], "Description": ois["Description"],
        }, system=True)
        foli_ids.append(foli)
        share = quantity / (ois["QuantityOrdered"] or quantity)
        for adj in org.children(item_id, "OrderItemAdjustmentLineItem", "OrderItemId") if item_id else []:
            org.insert("FulfillmentOrderItemAdjustment", {
                "FulfillmentOrderId": fo_id, "FulfillmentOrderLineItemId": foli, "Name": adj["Name"],
                "Amount": _money((adj["Amount"] or 0.0) * share), "Description": adj["Description"],
            }, system=True)
        for tax in org.children(item_id, "OrderItemTaxLineItem", "OrderItemId") if item_id else []:
            org.insert("FulfillmentOrderItemTax", {
                "FulfillmentOrderId": fo_id, "FulfillmentOrderLineItemId": foli, "Name": tax["Name"],
                "Amount": _money((tax["Amount"] or 0.0) * share), "Rate": tax["Rate"], "Type": tax["Type"],
                "TaxEffectiveDate": tax["TaxEffectiveDate"], "Description": tax["Description"],
            }, system=True)
    if status != "Draft":
        org.update(fo_id, {"Status": status}, system=True)
    return fo_id, foli_ids


def change_balances(total: float, tax: float, product: float, delivery: float, kind: str) -> dict[str, float]:
    grand = _money(total + tax)
    return {
        "grandTotalAmount": grand, "totalAmount": _money(total), "totalTaxAmount": _money(tax),
        "totalAdjustedProductAmount": _money(product), "totalAdjustedProductTaxAmount": _money(tax),
        "totalAdjustedDeliveryAmount": _money(delivery), "totalAdjustedDeliveryTaxAmount": 0.0,
        "totalAdjustmentDistributedAmount": 0.0, "totalAdjustmentDistributedTaxAmount": 0.0,
        "totalAdjDeliveryAmtWithTax": _money(delivery), "totalAdjDistAmountWithTax": 0.0,
        "totalAdjProductAmtWithTax": _money(product + tax),
        "totalExcessFundsAmount": grand if kind == "cancel" else 0.0,
        "totalRefundableAmount": grand if kind == "return" else 0.0,
    }


def submit_change(org: Org, os_id: str, items: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """Cancel or return OrderItemSummary quantities via a reduction change order; returns the Connect output."""
    summary = org.get(os_id)
    original = org.get(summary["OriginalOrderId"]) if summary and summary["OriginalOrderId"] else None
    if summary is None or original is None:
        raise connect_error("NOT_FOUND", f"The order summary {os_id} doesn't exist.", 404)
    change_id = org.insert("Order", {
        "AccountId": original["AccountId"], "EffectiveDate": original["EffectiveDate"], "Status": "Draft",
        "RelatedOrderId": original["Id"], "Pricebook2Id": original["Pricebook2Id"],
        "SalesChannelId": original["SalesChannelId"], "OrderedDate": original["OrderedDate"],
        "IsReductionOrder": True, "Name": f"{kind.capitalize()} of {summary['OrderNumber']}",
    }, system=True)
    total = tax = product = delivery = 0.0
    for change in items:
        ois = org.get(change["orderItemSummaryId"]) or {}
        item = org.get(ois["OriginalOrderItemId"]) or {}
        quantity = float(change["quantity"])
        share = quantity / (ois["QuantityOrdered"] or quantity)
        line_tax = _money(order_item_tax(org, item["Id"]) * share)
        line_adj = _money(order_item_adjustment(org, item["Id"]) * share)
        change_item = org.insert("OrderItem", {
            "OrderId": change_id, "Product2Id": item["Product2Id"], "PricebookEntryId": item["PricebookEntryId"],
            "OrderDeliveryGroupId": item["OrderDeliveryGroupId"], "OriginalOrderItemId": item["Id"],
            "Quantity": -quantity, "UnitPrice": item["UnitPrice"], "Type": item["Type"],
        }, system=True)
        if line_tax:
            org.insert("OrderItemTaxLineItem", {"OrderItemId": change_item, "Name": "Tax", "Type": "Actual",
                                                "Amount": -line_tax, "TaxEffectiveDate": original["EffectiveDate"]},
                       system=True)
        if line_adj:
            org.insert("OrderItemAdjustmentLineItem", {"OrderItemId": change_item, "Name": "Adjustment",
                                                       "Amount": -line_adj}, system=True)
        org.insert("OrderItemSummaryChange", {
            "OrderSummaryId": os_id, "OrderItemSummaryId": ois["Id"], "ChangeOrderItemId": change_item,
            "Reason": change["reason"], "IsPreFulfillment": kind == "cancel",
            "ChangeType": CHANGE_TYPE[kind],
        }, system=True)
        oms_quantities.record_change(org, ois["Id"], quantity, kind)
        amount = quantity * (item["UnitPrice"] or 0.0) + line_adj
        total, tax, product = total + amount, tax + line_tax, product + amount
    org.update(change_id, {"Status": "Activated"}, system=True)
    rollup_summary(org, os_id)
    return {"changeOrderId": change_id,
            "changeBalances": change_balances(total, tax, product, delivery, kind), "errors": [], "success": True}


def rollup_summary(org: Org, os_id: str) -> None:
    """Summary amounts after a change order: "The values in the summary are equal to the sums of the corresponding
    values in the original order and change orders" (Salesforce Help, "Summary Objects and Change Objects",
    https://help.salesforce.com/s/articleView?id=commerce.om_summary_change_objects.htm). Each OrderItemSummary
    sums its original OrderItem and the change OrderItems pointing at it; the OrderSummary sums the lines the same
    way create_order_summary does. OrderSummary.Status is not touched: it is an optional picklist that flows or
    integrations set, not a formula (Object Reference, OrderSummary.Status)."""
    product = delivery = adjustments = taxes = 0.0
    for ois in org.children(os_id, "OrderItemSummary", "OrderSummaryId"):
        original = org.get(ois["OriginalOrderItemId"] or "")
        if original is None:
            continue
        changes = org.children(original["Id"], "OrderItem", "OriginalOrderItemId")
        items = [original, *changes]
        price = sum(i["TotalPrice"] or 0.0 for i in items)
        line = (original["TotalLineAmount"] if original["TotalLineAmount"] is not None else original["TotalPrice"]
                or 0.0) + sum(c["TotalPrice"] or 0.0 for c in changes)
        tax = sum(order_item_tax(org, i["Id"]) for i in items)
        adj = sum(order_item_adjustment(org, i["Id"]) for i in items)
        org.update(ois["Id"], {"TotalLineAmount": _money(line), "TotalPrice": _money(price),
                               "TotalTaxAmount": _money(tax), "TotalAdjustmentAmount": _money(adj)}, system=True)
        if ois["TypeCode"] == "Charge":
            delivery += price
        else:
            product += price
        adjustments, taxes = adjustments + adj, taxes + tax
    org.update(os_id, {"TotalAdjustedProductAmount": _money(product + adjustments),
                       "TotalAdjustedDeliveryAmount": _money(delivery), "TotalTaxAmount": _money(taxes),
                       "GrandTotalAmount": _money(product + delivery + adjustments + taxes)}, system=True)
