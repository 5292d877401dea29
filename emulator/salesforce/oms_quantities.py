"""OrderItemSummary quantities as Order Management keeps them, and the quantity limits of the Connect actions.

Every rule cites its source; the full list with links is ``emulator/REFERENCE-oms.md``. Abbreviations:

- [OR-OIS] Object Reference, OrderItemSummary
  https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_orderitemsummary.htm
- [HELP-OIS-STATUS] Salesforce Help, "Order Product Summary Status"
  https://help.salesforce.com/apex/HTViewHelpDoc?id=commerce.om_order_product_summary_statuses.htm
- [OR-FO] Object Reference, FulfillmentOrder (Status / StatusCategory; "Fulfilled (Closed)")
  https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_fulfillmentorder.htm
- [FLOW-CANCEL-FO-ITEM] OMS Developer Guide, "Flow Core Action for Order Management: Cancel Fulfillment Order Item"
  https://developer.salesforce.com/docs/atlas.en-us.order_management_developer_guide.meta/order_management_developer_guide/flow_ref_elements_om_actions_cancel_fo_item.htm

The org itself writes these fields (``system=True``): every Quantity* field of a managed OrderItemSummary is
read-only to API users ([OR-OIS]: properties "Filter, Sort", no Create/Update).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import SfError

if TYPE_CHECKING:
    from .org import Org

# The stored counters; everything else is a formula over them.
COUNTERS = ("QuantityOrdered", "QuantityAllocated", "QuantityFulfilled", "QuantityCanceled",
            "QuantityReturnInitiated", "QuantityReturned")
# FulfillmentOrder StatusCategory whose reaching means "fulfilled": the default status Fulfilled maps to it
# ([OR-FO]: "Default values are: ... Fulfilled (Closed)"; "Processing of the FulfillmentOrder depends on this
# value"). A customised status of the same category counts the same.
FULFILLED_CATEGORY = "Closed"


def _q(row: dict[str, Any], name: str) -> float:
    return float(row.get(name) or 0.0)


def ois_status(row: dict[str, Any]) -> str:
    """OrderItemSummary.Status from its quantities, first formula that holds wins ([OR-OIS] Status,
    [HELP-OIS-STATUS]). RESHIPPED is left out: the emulator keeps no QuantityReshipped (always 0)."""
    quantity, ordered = _q(row, "Quantity"), _q(row, "QuantityOrdered")
    canceled, fulfilled = _q(row, "QuantityCanceled"), _q(row, "QuantityFulfilled")
    initiated, returned = _q(row, "QuantityReturnInitiated"), _q(row, "QuantityReturned")
    allocated = _q(row, "QuantityAllocated")
    if quantity > 0 and initiated == fulfilled and returned < initiated:
        return "RETURNINITIATED"
    if quantity == 0 and returned > 0:
        return "RETURNED"
    if quantity == 0 and canceled > 0 and returned == 0:
        return "CANCELED"
    if quantity > 0 and ordered - canceled <= fulfilled:
        return "FULFILLED"
    if 0 < fulfilled < ordered - canceled:
        return "PARTIALLYFULFILLED"
    if 0 < quantity <= allocated:
        return "ALLOCATED"
    if 0 < allocated < quantity:
        return "PARTIALLYALLOCATED"
    return "ORDERED"


def derive(row: dict[str, Any]) -> None:
    """Recompute the formula fields of an OrderItemSummary row in place ([OR-OIS] field descriptions):

    - Quantity = QuantityOrdered - (QuantityCanceled + QuantityReturned)
    - QuantityNetOrdered = QuantityOrdered - QuantityCanceled
    - QuantityAvailableToFulfill = QuantityAvailableToCancel = QuantityOrdered - (QuantityCanceled +
      QuantityAllocated) ("This value duplicates QuantityAvailableToFulfill")
    - QuantityAvailableToReturn = QuantityFulfilled - QuantityReturnInitiated
    """
    ordered, canceled = _q(row, "QuantityOrdered"), _q(row, "QuantityCanceled")
    row["Quantity"] = ordered - canceled - _q(row, "QuantityReturned")
    row["QuantityNetOrdered"] = ordered - canceled
    row["QuantityAvailableToFulfill"] = row["QuantityAvailableToCancel"] = (
        ordered - canceled - _q(row, "QuantityAllocated"))
    row["QuantityAvailableToReturn"] = _q(row, "QuantityFulfilled") - _q(row, "QuantityReturnInitiated")
    row["Status"] = ois_status(row)


def _add(org: Org, ois_id: str, **deltas: float) -> None:
    row = org.get(ois_id)
    if row is None:
        return
    org.update(ois_id, {name: _q(row, name) + delta for name, delta in deltas.items()}, system=True)


def refuse(message: str) -> SfError:
    """A Connect action's refusal: HTTP 400, ``[{"errorCode": "INVALID_API_INPUT", "message": ...}]``
    (salesforce-wire.md 5.5 "Error with Output"; the errorCode and message wording are UNCONFIRMED)."""
    return SfError(400, "INVALID_API_INPUT", message)


def allocate(org: Org, ois: dict[str, Any], quantity: float) -> None:
    """fulfillment-orders allocates OrderItemSummary quantity to a FulfillmentOrderLineItem: QuantityAllocated
    grows ([OR-OIS] QuantityAllocated: "associated with one or more FulfillmentOrderLineItems"); at most
    QuantityAvailableToFulfill ([OR-OIS] "Quantity available to be fulfilled")."""
    available = _q(ois, "QuantityAvailableToFulfill")
    if quantity <= 0 or quantity > available:
        raise refuse(f"Quantity {quantity:g} for order item summary {ois['Id']} must be greater than 0 and at "
                     f"most its quantity available to fulfill ({available:g}).")
    _add(org, ois["Id"], QuantityAllocated=quantity)


def deallocate(org: Org, ois_id: str | None, quantity: float) -> None:
    """cancel-item "doesn't cancel the associated order product summaries; it only reduces their allocated
    quantities" ([FLOW-CANCEL-FO-ITEM]); the quantity becomes available to fulfill (reallocate) or cancel."""
    if ois_id:
        _add(org, ois_id, QuantityAllocated=-quantity)


def fulfill(org: Org, fo_id: str) -> None:
    """A FulfillmentOrder reaching the Closed status category (default status Fulfilled, [OR-FO]) fulfils its
    lines: each line's Quantity adds to its OrderItemSummary's QuantityFulfilled ([OR-OIS] QuantityFulfilled:
    "Fulfilled quantity ... This quantity can no longer be canceled")."""
    for line in org.children(fo_id, "FulfillmentOrderLineItem", "FulfillmentOrderId"):
        if line["OrderItemSummaryId"] and (line["Quantity"] or 0) > 0:
            _add(org, line["OrderItemSummaryId"], QuantityFulfilled=float(line["Quantity"]))


def check_change(ois: dict[str, Any], quantity: float, kind: str) -> None:
    """submit-cancel may take at most QuantityAvailableToCancel (ordered - canceled - allocated: allocated or
    fulfilled quantity can't be canceled, [OR-OIS]); submit-return at most QuantityAvailableToReturn
    (fulfilled - return initiated: quantity never fulfilled can't be returned, [OR-OIS])."""
    field = "QuantityAvailableToCancel" if kind == "cancel" else "QuantityAvailableToReturn"
    available = max(0.0, _q(ois, field))
    if quantity > available:
        what = "cancel" if kind == "cancel" else "return"
        raise refuse(f"The quantity to {what} ({quantity:g}) of order item summary {ois['Id']} is greater than "
                     f"its quantity available to {what} ({available:g}).")


def record_change(org: Org, ois_id: str, quantity: float, kind: str) -> None:
    """submit-cancel adds to QuantityCanceled. submit-return (a simple return: a change order, no ReturnOrder) adds
    to QuantityReturned and to QuantityReturnInitiated, which is "Quantity returned or pending return" ([OR-OIS]),
    so QuantityAvailableToReturn shrinks by the returned quantity."""
    if kind == "cancel":
        _add(org, ois_id, QuantityCanceled=quantity)
    else:
        _add(org, ois_id, QuantityReturned=quantity, QuantityReturnInitiated=quantity)
