"""Order history for BORIS (DESIGN flow 5), with Salesforce OMS as the order master: order search and detail
queries, their POS shapes, and the quantities OMS allows to return or cancel. Pure: SOQL text in, rows out; the SPI
handlers (:mod:`worker.spi`) are a thin HTTP layer over it and the returns flow imports it, never the server."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from worker.salesforce.soql import quote_soql

SEARCH_FIELDS = ("OrderNumber", "FirstName", "LastName", "BillingEmailAddress", "BillToContactId")


class OrderApi(Protocol):
    async def query(self, soql: str) -> list[dict[str, Any]]: ...
    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...



class CancelRefused(ValueError):
    """An online cancel that cannot be asked of Salesforce: ``status`` and ``code`` for the POS's answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


def _ms(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00").replace("+0000", "+00:00")
    if len(text) == 10:
        text += "T00:00:00+00:00"
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _money(value: Any) -> float:
    return float(Decimal(str(value or 0)).quantize(Decimal("0.01")))


def search_condition(params: dict[str, str]) -> str:
    """The WHERE condition for the search parameters given (prefix LIKE, escaped); raises ValueError if none."""
    parts = []
    for field in SEARCH_FIELDS:
        value = params.get(field, "").strip()
        if not value:
            continue
        column = {"FirstName": "Account.FirstName", "LastName": "Account.LastName"}.get(field, field)
        if field in ("BillToContactId",):
            parts.append(quote_soql(f"{column} = {{}}", value))
        else:
            parts.append(quote_soql(f"{column} LIKE '{{:like}}%'", value))
    if not parts:
        raise ValueError(f"give at least one of {', '.join(SEARCH_FIELDS)}")
    return " AND ".join(parts)


def order_summary(row: dict[str, Any]) -> dict[str, Any]:
    account = row.get("Account") or {}
    out = {"OrderID": row.get("OrderNumber"), "emailId": row.get("BillingEmailAddress"),
           "Total": _money(row.get("GrandTotalAmount")), "orderDate": _ms(row.get("OrderedDate")),
           "OrderstatusText": row.get("Status"), "firstName": account.get("FirstName"),
           "lastName": account.get("LastName")}
    return {k: v for k, v in out.items() if v is not None}


def search_query(condition: str, limit: int, offset: int) -> str:
    """One page of the search (one row more than ``limit``, to tell whether more follow)."""
    return ("SELECT Id, OrderNumber, GrandTotalAmount, OrderedDate, Status, BillingEmailAddress, Account.FirstName, "
            f"Account.LastName FROM OrderSummary WHERE {condition} ORDER BY OrderedDate DESC, OrderNumber "
            f"LIMIT {limit + 1} OFFSET {offset}")


def search_page(rows: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    """The POS's search answer for the rows of :func:`search_query`."""
    orders = [order_summary(r) for r in rows[:limit]]
    body: dict[str, Any] = {"orders": orders, "count": len(orders), "offset": offset, "hasMore": len(rows) > limit}
    if not orders:
        body["errorMessage"] = "No orders match the search"
    return body


def detail_query(value: str, *, by: str = "OrderNumber") -> str:
    """OrderSummary with lines and delivery groups, by OrderNumber (default) or Id."""
    if by not in ("OrderNumber", "Id"):
        raise ValueError(f"cannot look an order up by {by}")
    return quote_soql(
        "SELECT Id, OrderNumber, Status, OrderedDate, GrandTotalAmount, TotalTaxAmount, BillingEmailAddress, "
        "BillingPhoneNumber, Account.FirstName, Account.LastName, "
        "(SELECT Id, Quantity, QuantityCanceled, QuantityReturned, QuantityReturnInitiated, QuantityAvailableToReturn, "
        "QuantityAvailableToCancel, UnitPrice, TotalPrice, TotalTaxAmount, Type, StockKeepingUnit, Name "
        "FROM OrderItemSummaries), "
        "(SELECT Id, DeliverToName, DeliverToCity, DeliverToPostalCode, OrderDeliveryMethodId "
        "FROM OrderDeliveryGroupSummaries) "
        f"FROM OrderSummary WHERE {by} = {{}} LIMIT 1", value)


def _available(item: dict[str, Any], field: str) -> Decimal:
    return max(Decimal(0), Decimal(str(item.get(field) or 0)))


def returnable(item: dict[str, Any]) -> Decimal:
    """Quantity a line can still return, as OMS keeps it: ``QuantityAvailableToReturn`` (= QuantityFulfilled -
    QuantityReturnInitiated). Quantity never fulfilled can't be returned; submit-return refuses more than this."""
    return _available(item, "QuantityAvailableToReturn")


def cancelable(item: dict[str, Any]) -> Decimal:
    """Quantity a line can still cancel: ``QuantityAvailableToCancel`` (= ordered - canceled - allocated).
    Quantity allocated to a FulfillmentOrder needs cancel-item there first; fulfilled quantity is returned instead."""
    return _available(item, "QuantityAvailableToCancel")


def order_detail(row: dict[str, Any]) -> dict[str, Any]:
    items = ((row.get("OrderItemSummaries") or {}).get("records")) or []
    products, returned = [], []
    for item in items:
        if item.get("Type") not in (None, "Order Product"):
            continue
        line = {"orderItemId": item["Id"], "productId": item.get("StockKeepingUnit"), "name": item.get("Name"),
                "quantity": float(Decimal(str(item.get("Quantity") or 0))), "price": _money(item.get("UnitPrice")),
                "total": _money(item.get("TotalPrice")), "tax": _money(item.get("TotalTaxAmount")),
                "returnableQuantity": float(returnable(item))}
        products.append({k: v for k, v in line.items() if v is not None})
        if Decimal(str(item.get("QuantityReturned") or 0)) > 0:
            returned.append({"orderItemId": item["Id"], "quantity": float(Decimal(str(item["QuantityReturned"])))})
    groups = ((row.get("OrderDeliveryGroupSummaries") or {}).get("records")) or []
    detail = {**order_summary(row), "orderId": row.get("OrderNumber"), "orderProductList": products,
              "returnProductList": returned, "taxSubTotal": _money(row.get("TotalTaxAmount")),
              "deliveryGroups": [{k: v for k, v in g.items() if k != "attributes" and v is not None} for g in groups],
              "canReturn": "TRUE" if any(p["returnableQuantity"] > 0 for p in products) else "FALSE"}
    return detail


def plan_cancel(row: dict[str, Any], wanted: dict[str, Decimal], reason: str) -> list[dict[str, Any]]:
    """submit-cancel changeItems for an OrderSummary row of :func:`detail_query`: the lines ``wanted`` (all open
    quantity when empty), never more than OMS allows; raises :class:`CancelRefused`."""
    change = []
    products = [item for item in ((row.get("OrderItemSummaries") or {}).get("records")) or []
                if item.get("Type") in (None, "Order Product")]
    unknown = sorted(set(wanted) - {str(item["Id"]) for item in products})
    if unknown:
        raise CancelRefused(400, "INVALID_FIELD", f"not product lines of this order: {', '.join(unknown)}")
    for item in products:
        open_qty = cancelable(item)
        # items given: cancel only those lines; none given: cancel every open quantity
        qty = wanted.get(str(item["Id"]), Decimal(0)) if wanted else open_qty
        if qty > open_qty:
            raise CancelRefused(400, "OVER_CANCEL", f"line {item['Id']}: {qty} requested, {open_qty} cancelable")
        if qty > 0:
            change.append({"orderItemSummaryId": item["Id"], "quantity": float(qty), "reason": reason,
                           "shippingReductionFlag": False})
    if not change:
        raise CancelRefused(409, "NOTHING_TO_CANCEL", "no quantity available to cancel (allocated quantity is "
                            "canceled on its fulfillment order first)")
    return change
