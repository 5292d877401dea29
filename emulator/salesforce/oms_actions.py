"""Connect REST OMS actions under ``/services/data/vNN.N/commerce/``; outputs always carry success + errors[]."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import SfError, not_found
from .ids import to18
from .oms_build import (
    connect_error,
    create_fulfillment_order,
    create_order_summary,
    order_item_adjustment,
    order_item_tax,
    submit_change,
)
from .oms_quantities import check_change, deallocate, refuse
from .schema_data import PICKLISTS

if TYPE_CHECKING:
    from .org import Org
    from .rest import Reply

MULTIPLE_SINCE = 50.0  # fulfillment/actions/create-multiple: "Available version 50.0"
_CHANGE_KEYS = ("orderItemSummaryId", "quantity", "reason", "shippingReductionFlag")


def _ok(payload: dict[str, Any]) -> Reply:
    from .rest import Reply

    return Reply(201, {**payload, "errors": [], "success": True})


def _body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise connect_error("JSON_PARSER_ERROR", "The request body must be a JSON object.")
    return body


def _record(org: Org, rid: Any, sobject: str, what: str) -> dict[str, Any]:
    full = to18(rid) if isinstance(rid, str) else None
    row = org.get(full) if full else None
    if row is None or org.object_of(row["Id"]) != sobject:
        raise connect_error("NOT_FOUND", f"The {what} {rid} doesn't exist.", 404)
    return row


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise connect_error("INVALID_API_INPUT", f"{name} must be a number greater than 0.")
    return float(value)


def handle(org: Org, method: str, version: str, parts: list[str], body: Any) -> Reply:
    if method != "POST":
        raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are POST")
    path = "/".join(parts)
    with org.atomic():
        if path == "order-management/order-summaries":
            return _create_summary(org, _body(body))
        if len(parts) == 5 and parts[:2] == ["order-management", "order-summaries"]:
            summary = _record(org, parts[2], "OrderSummary", "order summary")
            action = "/".join(parts[3:])
            if action in ("actions/submit-cancel", "actions/submit-return"):
                return _submit(org, summary, _body(body), "cancel" if action.endswith("cancel") else "return")
            if action == "actions/create-credit-memo":
                return _credit_memo(org, summary, _body(body))
            if action == "async-actions/ensure-refunds-async":
                return _ensure_refunds(org, summary, _body(body))
        if path == "fulfillment/fulfillment-orders":
            return _create_fulfillment_orders(org, _body(body))
        if path == "fulfillment/actions/create-multiple" and float(version.lstrip("v")) >= MULTIPLE_SINCE:
            return _create_multiple(org, _body(body))
        if len(parts) == 5 and parts[:2] == ["fulfillment", "fulfillment-orders"] and parts[3:] == [
                "actions", "cancel-item"]:
            return _cancel_items(org, _record(org, parts[2], "FulfillmentOrder", "fulfillment order"), _body(body))
    raise not_found()


def _create_summary(org: Org, body: dict[str, Any]) -> Reply:
    if not body.get("orderId"):
        raise connect_error("INVALID_API_INPUT", "Missing required input parameter: orderId")
    lifecycle = body.get("orderLifeCycleType") or "MANAGED"
    if lifecycle not in PICKLISTS["OS_LIFECYCLE"]:
        raise connect_error("INVALID_API_INPUT", f"Invalid orderLifeCycleType: {lifecycle}")
    status = body.get("status") or "Created"
    if status not in PICKLISTS["OS_STATUS"]:
        raise connect_error("INVALID_API_INPUT", f"Invalid status: {status}")
    order = _record(org, body["orderId"], "Order", "order")
    return _ok({"orderSummaryId": create_order_summary(org, order["Id"], body.get("name"), lifecycle, status)})


def _managed(summary: dict[str, Any], what: str) -> None:
    """Unmanaged order summaries get no order services: "You can't process order services, such as cancellations,
    appeasements, or returns" and "Fulfillment and invoice records aren't created" (Salesforce Help, "Unmanaged
    Orders", commerce.om_unmanaged_orders_oobo.htm); the error wording is UNCONFIRMED."""
    if summary["OrderLifeCycleType"] == "UNMANAGED":
        raise refuse(f"You can't {what} for the unmanaged order summary {summary['Id']}.")


def _submit(org: Org, summary: dict[str, Any], body: dict[str, Any], kind: str) -> Reply:
    _managed(summary, f"submit a {kind}")
    items = body.get("changeItems")
    if not isinstance(items, list) or not items:
        raise connect_error("INVALID_API_INPUT", "Missing required input parameter: changeItems")
    requested: dict[str, float] = {}
    for change in items:
        missing = [k for k in _CHANGE_KEYS if not isinstance(change, dict) or change.get(k) is None]
        if missing:
            raise connect_error("INVALID_API_INPUT", f"Missing required input parameter: {missing[0]}")
        quantity = _number(change["quantity"], "quantity")
        if change["reason"] not in PICKLISTS["CHANGE_REASON"]:
            raise connect_error("INVALID_API_INPUT", f"Invalid reason: {change['reason']}")
        ois = _record(org, change["orderItemSummaryId"], "OrderItemSummary", "order item summary")
        change["orderItemSummaryId"] = ois["Id"]
        if ois["OrderSummaryId"] != summary["Id"]:
            raise connect_error("INVALID_API_INPUT", f"Order item summary {ois['Id']} isn't part of this order.")
        if ois["TypeCode"] == "Charge":
            raise connect_error("INVALID_API_INPUT", "A change item can't be a delivery charge.")
        requested[ois["Id"]] = requested.get(ois["Id"], 0.0) + quantity
        check_change(ois, requested[ois["Id"]], kind)  # several changeItems of one line count together
    return _ok(submit_change(org, summary["Id"], items, kind))


def _credit_memo(org: Org, summary: dict[str, Any], body: dict[str, Any]) -> Reply:
    ids = body.get("changeOrderIds")
    if not isinstance(ids, list) or not ids:
        raise connect_error("INVALID_API_INPUT", "Missing required input parameter: changeOrderIds")
    total = tax = 0.0
    for rid in ids:
        order = _record(org, rid, "Order", "change order")
        if order["RelatedOrderId"] != summary["OriginalOrderId"]:
            raise connect_error("INVALID_API_INPUT", f"{order['Id']} isn't a change order of this order summary.")
        for item in org.children(order["Id"], "OrderItem", "OrderId"):
            total += -(item["TotalPrice"] or 0.0) - order_item_adjustment(org, item["Id"])
            tax += -order_item_tax(org, item["Id"])
    memo = org.insert("CreditMemo", {"AccountId": summary["AccountId"], "ReferenceEntityId": summary["Id"],
                                     "TotalAmount": round(total, 2), "TotalTaxAmount": round(tax, 2),
                                     "TotalAmountWithTax": round(total + tax, 2),
                                     "Description": "Change orders: " + ", ".join(map(str, ids))}, system=True)
    return _ok({"creditMemoId": memo})


def _ensure_refunds(org: Org, summary: dict[str, Any], body: dict[str, Any]) -> Reply:
    if body.get("creditMemoId") is None and body.get("excessFundsAmount") is None:
        raise connect_error("INVALID_API_INPUT", "Specify a creditMemoId, an excessFundsAmount or both.")
    if body.get("creditMemoId") is not None:
        memo = _record(org, body["creditMemoId"], "CreditMemo", "credit memo")
        if memo["ReferenceEntityId"] != summary["Id"]:
            raise connect_error("INVALID_API_INPUT", "The credit memo doesn't belong to this order summary.")
    if body.get("excessFundsAmount") is not None:
        _number(body["excessFundsAmount"], "excessFundsAmount")
    operation = org.insert("BackgroundOperation", {"Name": "EnsureRefunds", "Status": "Complete"}, system=True)
    return _ok({"backgroundOperationId": operation})


def _create_fulfillment_orders(org: Org, body: dict[str, Any]) -> Reply:
    return _ok({"fulfillmentOrderIds": _fulfillment_orders(org, body)})


def _create_multiple(org: Org, body: dict[str, Any]) -> Reply:
    """``fulfillment/actions/create-multiple`` (v50.0+): Multiple Fulfillment Order Input ``{fulfillmentOrders:
    [Fulfillment Order Input]}`` -> Multiple Fulfillment Order Output ``{fulfillmentOrders: [Fulfillment Group
    Output]}``, one entry per fulfillment group: ``fulfillmentOrderId`` and ``referenceId`` when created; when not,
    the input echoed (``orderSummaryId``, ``orderDeliveryGroupSummaryId``, ``fulfilledFromLocationId``,
    ``fulfillmentType``, ``orderItemSummaries`` with ``errors``) so it can be resubmitted (Connect REST API,
    connect_resources_sfom_fulfillment_orders_create_multiple.htm; Apex FulfillmentGroupOutputRepresentation).
    Each input stands alone: one failing leaves the others created. A failed group's error is put on each of its
    items' ``errors``, inputs per request are not limited, and the answer is 200: what is unconfirmed of this is
    listed once, in REFERENCE-oms.md rule E1b."""
    inputs = body.get("fulfillmentOrders")
    if not isinstance(inputs, list) or not inputs:
        raise connect_error("INVALID_API_INPUT", "Missing required input parameter: fulfillmentOrders")
    out: list[dict[str, Any]] = []
    for entry in inputs:
        groups = entry.get("fulfillmentGroups") if isinstance(entry, dict) else None
        groups = [g for g in groups if isinstance(g, dict)] if isinstance(groups, list) else []
        try:
            with org.atomic():  # this input alone: a failure rolls back its own records only
                created = _fulfillment_orders(org, _body(entry))
        except SfError as exc:
            error = {"errorCode": exc.error_code, "message": exc.message}
            for group in groups or [{}]:
                out.append({
                    "orderSummaryId": entry.get("orderSummaryId") if isinstance(entry, dict) else None,
                    "orderDeliveryGroupSummaryId": (entry.get("orderDeliveryGroupSummaryId")
                                                    if isinstance(entry, dict) else None),
                    "fulfilledFromLocationId": group.get("fulfilledFromLocationId"),
                    "fulfillmentType": group.get("fulfillmentType"), "referenceId": group.get("referenceId"),
                    "orderItemSummaries": [
                        {"orderItemSummaryId": i.get("orderItemSummaryId"), "quantity": i.get("quantity"),
                         "errors": [error]}
                        for i in (group.get("orderItemSummaries") or []) if isinstance(i, dict)] or [
                        {"orderItemSummaryId": None, "quantity": None, "errors": [error]}]})
            continue
        for group, fo_id in zip(groups, created, strict=True):
            out.append({"fulfillmentOrderId": fo_id, "referenceId": group.get("referenceId")})
    return _ok({"fulfillmentOrders": out})


def _fulfillment_orders(org: Org, body: dict[str, Any]) -> list[str]:
    for key in ("orderSummaryId", "orderDeliveryGroupSummaryId", "fulfillmentGroups"):
        if not body.get(key):
            raise connect_error("INVALID_API_INPUT", f"Missing required input parameter: {key}")
    summary = _record(org, body["orderSummaryId"], "OrderSummary", "order summary")
    _managed(summary, "create fulfillment orders")
    group = _record(org, body["orderDeliveryGroupSummaryId"], "OrderDeliveryGroupSummary",
                    "order delivery group summary")
    fo_types = {t.lower(): t for t in PICKLISTS["FO_TYPE"]}
    created = []
    for fgroup in body["fulfillmentGroups"]:
        if not isinstance(fgroup, dict) or not isinstance(fgroup.get("orderItemSummaries"), list):
            raise connect_error("INVALID_API_INPUT", "Each fulfillment group needs orderItemSummaries.")
        location = _record(org, fgroup.get("fulfilledFromLocationId"), "Location", "location")
        fo_type = fo_types.get(str(fgroup.get("fulfillmentType", "")).lower())
        if fo_type is None:
            raise connect_error("INVALID_API_INPUT", f"Invalid fulfillmentType: {fgroup.get('fulfillmentType')}")
        lines = [(_record(org, i.get("orderItemSummaryId"), "OrderItemSummary", "order item summary")["Id"],
                  _number(i.get("quantity"), "quantity")) for i in fgroup["orderItemSummaries"]]
        fo_id, _ = create_fulfillment_order(org, summary["Id"], group["Id"], location["Id"], fo_type, lines)
        created.append(fo_id)
    return created


def _cancel_items(org: Org, fo: dict[str, Any], body: dict[str, Any]) -> Reply:
    lines = body.get("fulfillmentOrderLineItemsToCancel")
    if not isinstance(lines, list) or not lines:
        raise connect_error("INVALID_API_INPUT", "Missing required input parameter: fulfillmentOrderLineItemsToCancel")
    category = org.schema.category_of(fo["Status"])
    if category in ("Closed", "Cancelled", "Canceled", "Rejected"):
        raise connect_error("INVALID_API_INPUT", f"Fulfillment order {fo['Id']} is {fo['Status']} and can't change.")
    for entry in lines:
        if not isinstance(entry, dict):
            raise connect_error("INVALID_API_INPUT", "Each entry needs fulfillmentOrderLineItemId and quantity.")
        line = _record(org, entry.get("fulfillmentOrderLineItemId"), "FulfillmentOrderLineItem",
                       "fulfillment order line item")
        quantity = _number(entry.get("quantity"), "quantity")
        if line["FulfillmentOrderId"] != fo["Id"]:
            raise connect_error("INVALID_API_INPUT", f"{line['Id']} isn't a line of fulfillment order {fo['Id']}.")
        if quantity > (line["Quantity"] or 0.0):  # a line can lose at most what it still holds
            raise connect_error("INVALID_API_INPUT", f"The quantity to cancel ({quantity:g}) exceeds the quantity "
                                                     f"({line['Quantity']:g}) of {line['Id']}.")
        org.update(line["Id"], {"Quantity": (line["Quantity"] or 0.0) - quantity}, system=True)
        deallocate(org, line["OrderItemSummaryId"], quantity)
    remaining = [ln for ln in org.children(fo["Id"], "FulfillmentOrderLineItem", "FulfillmentOrderId")
                 if ln["TypeCode"] == "Product" and (ln["Quantity"] or 0.0) > 0]
    if not remaining:
        org.update(fo["Id"], {"Status": org.cancel_status}, system=True)
    return _ok({})
