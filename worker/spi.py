"""SPIs the POS calls for BORIS and order history, with Salesforce OMS as the order master.

``GET /spi/{version}/orders/search?api_key=K&OrderNumber=..|FirstName=..|LastName=..|BillingEmailAddress=..|
BillToContactId=..&limit=&offset=`` (SEARCH_ORDERS), ``GET /spi/{version}/orders/{orderNumber}?api_key=K``
(GET_ORDER_DETAIL) and ``POST /spi/{version}/orders/{orderNumber}/cancel?api_key=K`` (online cancellation ->
submit-cancel). A wrong or missing ``api_key`` answers 401 with an empty body on every ``/spi/`` path, before
routing (POS SPI rule); input is bounded and Salesforce failures become 503/502 answers (:mod:`worker.spi_edge`).
Search input is escaped into SOQL (LIKE prefix search), never concatenated. Responses omit unused fields rather
than send null; errors are ``{"errorCode", "errorMessage"}``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import structlog
from aiohttp import web
from pydantic import SecretStr

from worker.errors import PermanentError, TransientError
from worker.salesforce.soql import quote_soql
from worker.spi_edge import (
    MAX_OFFSET,
    MAX_PAGE,
    SPI_KEYS,
    BadInput,
    cancel_body,
    failure,
    page_param,
    search_params,
    spi_edge,
    text_param,
)

log = structlog.get_logger(__name__)
SEARCH_FIELDS = ("OrderNumber", "FirstName", "LastName", "BillingEmailAddress", "BillToContactId")


class OrderApi(Protocol):
    async def query(self, soql: str) -> list[dict[str, Any]]: ...
    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...


SPI_SF = web.AppKey("spi_sf", OrderApi)


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


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    account = row.get("Account") or {}
    out = {"OrderID": row.get("OrderNumber"), "emailId": row.get("BillingEmailAddress"),
           "Total": _money(row.get("GrandTotalAmount")), "orderDate": _ms(row.get("OrderedDate")),
           "OrderstatusText": row.get("Status"), "firstName": account.get("FirstName"),
           "lastName": account.get("LastName")}
    return {k: v for k, v in out.items() if v is not None}


async def search_orders(request: web.Request) -> web.Response:
    try:
        limit = page_param(request.query, "limit", 50, 1, MAX_PAGE)
        offset = page_param(request.query, "offset", 0, 0, MAX_OFFSET)
        condition = search_condition(search_params(request.query, SEARCH_FIELDS))
    except BadInput as exc:
        return failure(400, "INVALID_PARAMETER", str(exc))
    except ValueError as exc:
        return failure(400, "INVALID_SEARCH", str(exc))
    soql = ("SELECT Id, OrderNumber, GrandTotalAmount, OrderedDate, Status, BillingEmailAddress, Account.FirstName, "
            f"Account.LastName FROM OrderSummary WHERE {condition} ORDER BY OrderedDate DESC, OrderNumber "
            f"LIMIT {limit + 1} OFFSET {offset}")
    rows = await request.app[SPI_SF].query(soql)
    more = len(rows) > limit
    orders = [_summary(r) for r in rows[:limit]]
    body: dict[str, Any] = {"orders": orders, "count": len(orders), "offset": offset, "hasMore": more}
    if not orders:
        body["errorMessage"] = "No orders match the search"
    return web.json_response(body)


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
    detail = {**_summary(row), "orderId": row.get("OrderNumber"), "orderProductList": products,
              "returnProductList": returned, "taxSubTotal": _money(row.get("TotalTaxAmount")),
              "deliveryGroups": [{k: v for k, v in g.items() if k != "attributes" and v is not None} for g in groups],
              "canReturn": "TRUE" if any(p["returnableQuantity"] > 0 for p in products) else "FALSE"}
    return detail


def _order_number(request: web.Request) -> str:
    return text_param("orderNumber", request.match_info["order_number"])


async def get_order_detail(request: web.Request) -> web.Response:
    try:
        number = _order_number(request)
    except BadInput as exc:
        return failure(400, "INVALID_PARAMETER", str(exc))
    rows = await request.app[SPI_SF].query(detail_query(number))
    if not rows:
        return failure(404, "ORDER_NOT_FOUND", f"no order {number}")
    return web.json_response(order_detail(rows[0]))


async def cancel_order(request: web.Request) -> web.Response:
    """Online cancellation of unfulfilled quantities: submit-cancel on the OrderSummary."""
    try:
        number = _order_number(request)
        wanted, given_reason = await cancel_body(request)
    except BadInput as exc:
        return failure(400, "INVALID_FIELD", str(exc))
    except OverflowError as exc:
        return failure(413, "PAYLOAD_TOO_LARGE", str(exc))
    except TimeoutError:
        answer = failure(408, "REQUEST_TIMEOUT", "the request body did not arrive in time")
        answer.force_close()
        return answer
    sf = request.app[SPI_SF]
    rows = await sf.query(detail_query(number))
    if not rows:
        return failure(404, "ORDER_NOT_FOUND", "no such order")
    reason = given_reason or "Unknown"  # must be an OrderItemSummaryChange.Reason picklist value
    change = []
    products = [item for item in ((rows[0].get("OrderItemSummaries") or {}).get("records")) or []
                if item.get("Type") in (None, "Order Product")]
    unknown = sorted(set(wanted) - {str(item["Id"]) for item in products})
    if unknown:
        return web.json_response({"errorCode": "INVALID_FIELD", "errorMessage":
                                  f"not product lines of this order: {', '.join(unknown)}"}, status=400)
    for item in products:
        open_qty = cancelable(item)
        # items given: cancel only those lines; none given: cancel every open quantity
        qty = wanted.get(str(item["Id"]), Decimal(0)) if wanted else open_qty
        if qty > open_qty:
            return web.json_response({"errorCode": "OVER_CANCEL", "errorMessage":
                                      f"line {item['Id']}: {qty} requested, {open_qty} cancelable"}, status=400)
        if qty > 0:
            change.append({"orderItemSummaryId": item["Id"], "quantity": float(qty), "reason": reason,
                           "shippingReductionFlag": False})
    if not change:
        return web.json_response({"errorCode": "NOTHING_TO_CANCEL", "errorMessage": "no quantity available to cancel "
                                  "(allocated quantity is canceled on its fulfillment order first)"}, status=409)
    path = f"commerce/order-management/order-summaries/{rows[0]['Id']}/actions/submit-cancel"
    try:
        result = await sf.connect(path, {"changeItems": change})
    except PermanentError as exc:
        return failure(409, exc.code or "CANCEL_REFUSED", exc.message)
    except TransientError as exc:  # an OutcomeUnknown too: the cancel may have been made, so look first
        log.warning("order_cancel_unavailable", order_summary_id=rows[0]["Id"], error=type(exc).__name__)
        return failure(503, "UNAVAILABLE", "Salesforce is unavailable; check the order, then try again")
    log.info("order_canceled_online", order_summary_id=rows[0]["Id"], lines=len(change))
    return web.json_response({"status": "OK", "changeOrderId": result.get("changeOrderId")})


def add_spi_routes(app: web.Application, salesforce: OrderApi, api_keys: tuple[SecretStr, ...]) -> None:
    """The SPI routes, behind the key-first middleware (it answers every ``/spi/`` path, routed or not)."""
    app[SPI_SF], app[SPI_KEYS] = salesforce, api_keys
    app.middlewares.append(spi_edge)
    app.router.add_get("/spi/{version}/orders/search", search_orders)
    app.router.add_get("/spi/{version}/orders/{order_number}", get_order_detail)
    app.router.add_post("/spi/{version}/orders/{order_number}/cancel", cancel_order)
