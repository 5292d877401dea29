"""Per-object business rules and formulas: person accounts, order activation, roll-ups, FO status events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import oms_quantities
from .errors import dml
from .validate import timestamp

if TYPE_CHECKING:
    from .org import Org
    from .schema import ObjectDef

FO_CHANNEL = "/event/FOStatusChangedEvent"
_CHARGE_TYPES = {"Delivery Charge", "Fee"}
_FO_TYPE_CATEGORY = {"Download": "Digital", "Email": "Digital", "Supplier": "Drop Ship"}


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def before_insert(org: Org, obj: ObjectDef, row: dict[str, Any], system: bool) -> None:
    """Defaults and checks that only apply when a record is created."""
    name = obj.name
    if name == "Account":
        if row["FirstName"] or row["LastName"] or row["PersonEmail"] or row["IsPersonAccount"]:
            if not row["LastName"] and not row["Name"]:
                raise dml("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"])
            if row["LastName"]:
                row["IsPersonAccount"] = True
                row["Name"] = " ".join(p for p in (row["FirstName"], row["LastName"]) if p)
        if not row["Name"]:
            raise dml("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ["Name"])
    elif name == "Order":
        if row["Status"] != "Draft" and not system:
            raise dml("FIELD_INTEGRITY_EXCEPTION",
                      "You can't activate this order because it has no order products.", ["Status"])
    elif name == "PricebookEntry":
        if row["Pricebook2Id"] and row["Product2Id"]:
            for other in org.children(row["Product2Id"], "PricebookEntry", "Product2Id"):
                if other["Pricebook2Id"] == row["Pricebook2Id"]:
                    raise dml("DUPLICATE_VALUE", "This price definition already exists in this price book", [])
            product = org.get(row["Product2Id"]) or {}
            row["Name"], row["ProductCode"] = product.get("Name"), product.get("ProductCode")
    elif name == "FulfillmentOrderLineItem":
        if row["OriginalQuantity"] is None:
            row["OriginalQuantity"] = row["Quantity"]
    elif name in ("FulfillmentOrderItemTax", "FulfillmentOrderItemAdjustment"):
        line = org.get(row["FulfillmentOrderLineItemId"]) if row["FulfillmentOrderLineItemId"] else None
        if line is not None and row["FulfillmentOrderId"] is None:
            row["FulfillmentOrderId"] = line["FulfillmentOrderId"]
    _derive(org, obj, row)


def _derive(org: Org, obj: ObjectDef, row: dict[str, Any]) -> None:
    name = obj.name
    if name in ("OrderItem", "FulfillmentOrderLineItem"):
        row["TypeCode"] = "Charge" if row["Type"] in _CHARGE_TYPES else "Product"
        if name == "OrderItem" and row["Quantity"] is not None and row["UnitPrice"] is not None:
            row["TotalPrice"] = _money(row["Quantity"] * row["UnitPrice"])
    elif name == "FulfillmentOrder":
        row["StatusCategory"] = org.schema.category_of(row["Status"])
        if row["Type"]:
            row["TypeCategory"] = _FO_TYPE_CATEGORY.get(row["Type"], "Physical")
    elif name == "OrderItemSummary":
        oms_quantities.derive(row)


def before_update(org: Org, obj: ObjectDef, old: dict[str, Any], new: dict[str, Any], system: bool) -> None:
    """Checks on status transitions and derived values."""
    if obj.name == "Order" and old["Status"] == "Draft" and new["Status"] == "Activated":
        if not org.children(new["Id"], "OrderItem", "OrderId"):
            raise dml("FIELD_INTEGRITY_EXCEPTION",
                      "You can't activate this order because it has no order products.", ["Status"])
        new["ActivatedDate"] = timestamp(org.clock())
    elif obj.name == "Order" and old["Status"] == "Activated" and new["Status"] == "Draft" and not system:
        raise dml("FIELD_INTEGRITY_EXCEPTION", "You can't change an activated order back to draft.", ["Status"])
    elif obj.name == "FulfillmentOrderLineItem" and new["Quantity"] is not None:
        if new["Quantity"] < 0 or (new["OriginalQuantity"] is not None and new["Quantity"] > new["OriginalQuantity"]):
            raise dml("FIELD_INTEGRITY_EXCEPTION",
                      "Quantity must be between 0 and the original quantity of the fulfillment order product.",
                      ["Quantity"])
    if obj.name == "FulfillmentOrder" and old["Status"] != new["Status"]:
        category = org.schema.category_of(new["Status"])
        if category in ("Closed", "Cancelled", "Canceled"):
            new["ClosedDate"] = timestamp(org.clock())
    _derive(org, obj, new)


def after_write(org: Org, obj: ObjectDef, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    """Roll-ups to parents and the FOStatusChangedEvent."""
    name = obj.name
    row = new or old
    assert row is not None
    if name == "OrderItem":
        _rollup_order(org, row["OrderId"])
    elif (name == "Order" and org.order_summary_flow and old is not None and new is not None
          and old["Status"] != "Activated" and new["Status"] == "Activated" and not new["RelatedOrderId"]):
        _order_summary_flow(org, new["Id"])
    elif name == "FulfillmentOrderLineItem":
        _rollup_foli(org, row["Id"])
        _rollup_fo(org, row["FulfillmentOrderId"])
    elif name in ("FulfillmentOrderItemTax", "FulfillmentOrderItemAdjustment"):
        if name == "FulfillmentOrderItemAdjustment" and new is not None:
            taxes = [t["Amount"] or 0.0 for t in org.children(new["Id"], "FulfillmentOrderItemTax",
                                                                "FulfillmentOrderItemAdjustId")]
            org.patch(new["Id"], {"TotalTaxAmount": _money(sum(taxes)),
                                  "TotalAmtWithTax": _money((new["Amount"] or 0.0) + sum(taxes))})
        if row["FulfillmentOrderLineItemId"] and org.get(row["FulfillmentOrderLineItemId"]):
            _rollup_foli(org, row["FulfillmentOrderLineItemId"])
        if row["FulfillmentOrderId"] and org.get(row["FulfillmentOrderId"]):
            _rollup_fo(org, row["FulfillmentOrderId"])
    elif name == "FulfillmentOrder" and old is not None and new is not None and old["Status"] != new["Status"]:
        if (org.schema.category_of(new["Status"]) == oms_quantities.FULFILLED_CATEGORY
                and org.schema.category_of(old["Status"]) != oms_quantities.FULFILLED_CATEGORY):
            oms_quantities.fulfill(org, new["Id"])
        org.emit(FO_CHANNEL, {
            "FulfillmentOrderId": new["Id"], "OrderSummaryId": new["OrderSummaryId"],
            "OldStatus": old["Status"], "NewStatus": new["Status"],
            "OldStatusCategory": org.schema.category_of(old["Status"]),
            "NewStatusCategory": org.schema.category_of(new["Status"]),
        })


def _order_summary_flow(org: Org, order_id: str) -> None:
    """The org's record-triggered flow (after save, Order Status changed to Activated): the Create Order Summary
    action, MANAGED, in the same transaction as the activation, so a failure rolls the activation back. Many Order
    Management orgs create summaries this way (Salesforce Help, "Create Order Summaries with a Flow"). Change orders
    (RelatedOrderId set) are left alone, as the usual entry condition does. Emulator setting, off by default."""
    from .oms_build import create_order_summary  # oms_build writes through the org, which calls these rules

    if not org.children(order_id, "OrderSummary", "OriginalOrderId"):
        create_order_summary(org, order_id)


def _rollup_order(org: Org, order_id: str | None) -> None:
    if not order_id or org.get(order_id) is None:
        return
    items = org.children(order_id, "OrderItem", "OrderId")
    org.patch(order_id, {"TotalAmount": _money(sum(i["TotalPrice"] or 0.0 for i in items))})


def _rollup_foli(org: Org, foli_id: str) -> None:
    line = org.get(foli_id)
    if line is None:
        return
    taxes = sum(t["Amount"] or 0.0 for t in org.children(foli_id, "FulfillmentOrderItemTax",
                                                         "FulfillmentOrderLineItemId"))
    adjustments = sum(a["Amount"] or 0.0 for a in org.children(foli_id, "FulfillmentOrderItemAdjustment",
                                                               "FulfillmentOrderLineItemId"))
    line_amount = _money((line["UnitPrice"] or 0.0) * (line["Quantity"] or 0.0))
    org.patch(foli_id, {
        "TotalLineAmount": line_amount, "TotalAdjustmentAmount": _money(adjustments),
        "TotalPrice": _money(line_amount + adjustments), "TotalTaxAmount": _money(taxes),
        "TotalAmount": _money(line_amount + adjustments + taxes),
    })


def _rollup_fo(org: Org, fo_id: str | None) -> None:
    if not fo_id or org.get(fo_id) is None:
        return
    product = delivery = adjustment = tax = items = 0.0
    for line in org.children(fo_id, "FulfillmentOrderLineItem", "FulfillmentOrderId"):
        if line["TypeCode"] == "Charge":
            delivery += line["TotalLineAmount"] or 0.0
        else:
            product += line["TotalLineAmount"] or 0.0
            items += line["Quantity"] or 0.0
        adjustment += line["TotalAdjustmentAmount"] or 0.0
        tax += line["TotalTaxAmount"] or 0.0
    total = product + delivery + adjustment
    org.patch(fo_id, {
        "TotalProductAmount": _money(product), "TotalDeliveryAmount": _money(delivery),
        "TotalAdjustmentAmount": _money(adjustment), "TotalAmount": _money(total),
        "TotalTaxAmount": _money(tax), "GrandTotalAmount": _money(total + tax), "ItemCount": items,
    })
