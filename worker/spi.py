"""SPIs the POS calls for BORIS and order history, with Salesforce OMS as the order master.

``GET /spi/{version}/orders/search?api_key=K&OrderNumber=..|FirstName=..|LastName=..|BillingEmailAddress=..|
BillToContactId=..&limit=&offset=`` (SEARCH_ORDERS), ``GET /spi/{version}/orders/{orderNumber}?api_key=K``
(GET_ORDER_DETAIL) and ``POST /spi/{version}/orders/{orderNumber}/cancel?api_key=K`` (online cancellation ->
submit-cancel). A wrong or missing ``api_key`` answers 401 with an empty body (POS SPI rule); search input is
escaped into SOQL (LIKE prefix search), never concatenated. Responses omit unused fields rather than send null.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import structlog
from aiohttp import web
from pydantic import SecretStr

from worker.errors import PermanentError, ServiceError
from worker.salesforce.soql import quote_soql

log = structlog.get_logger(__name__)
SEARCH_FIELDS = ("OrderNumber", "FirstName", "LastName", "BillingEmailAddress", "BillToContactId")
MAX_PAGE = 200


class OrderApi(Protocol):
    async def query(self, soql: str) -> list[dict[str, Any]]: ...
    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...


SPI_SF = web.AppKey("spi_sf", OrderApi)
SPI_KEYS = web.AppKey("spi_keys", tuple[SecretStr, ...])


def _authorized(request: web.Request) -> bool:
    given = request.query.get("api_key", "").encode()
    return any(hmac.compare_digest(given, key.get_secret_value().encode()) for key in request.app[SPI_KEYS])


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
    if not _authorized(request):
        return web.Response(status=401)
    try:
        condition = search_condition(dict(request.query))
        limit = min(int(request.query.get("limit", "50")), MAX_PAGE)
        offset = max(int(request.query.get("offset", "0")), 0)
    except ValueError as exc:
        return web.json_response({"errorCode": "INVALID_SEARCH", "errorMessage": str(exc)}, status=400)
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
        "(SELECT Id, Quantity, QuantityCanceled, QuantityReturned, QuantityReturnInitiated, UnitPrice, "
        "TotalPrice, TotalTaxAmount, Type, StockKeepingUnit, Name FROM OrderItemSummaries), "
        "(SELECT Id, DeliverToName, DeliverToCity, DeliverToPostalCode, OrderDeliveryMethodId "
        "FROM OrderDeliveryGroupSummaries) "
        f"FROM OrderSummary WHERE {by} = {{}} LIMIT 1", value)


def returnable(item: dict[str, Any]) -> Decimal:
    """Quantity a line can still return: ordered - canceled - returned - return already initiated.

    An OrderItemSummary's ``Quantity`` is already ``QuantityOrdered - QuantityCanceled``, so only the returned
    and return-initiated quantities come off it (taking ``QuantityCanceled`` off again counted cancels twice).
    """
    got = [Decimal(str(item.get(k) or 0)) for k in ("Quantity", "QuantityReturned", "QuantityReturnInitiated")]
    return max(Decimal(0), got[0] - got[1] - got[2])


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


async def get_order_detail(request: web.Request) -> web.Response:
    if not _authorized(request):
        return web.Response(status=401)
    rows = await request.app[SPI_SF].query(detail_query(request.match_info["order_number"]))
    if not rows:
        return web.json_response({"errorCode": "ORDER_NOT_FOUND",
                                  "errorMessage": f"no order {request.match_info['order_number']}"}, status=404)
    return web.json_response(order_detail(rows[0]))


async def cancel_order(request: web.Request) -> web.Response:
    """Online cancellation of unfulfilled quantities: submit-cancel on the OrderSummary."""
    if not _authorized(request):
        return web.Response(status=401)
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        return web.json_response({"errorCode": "INVALID_JSON", "errorMessage": "body is not valid JSON"}, status=400)
    sf = request.app[SPI_SF]
    rows = await sf.query(detail_query(request.match_info["order_number"]))
    if not rows:
        return web.json_response({"errorCode": "ORDER_NOT_FOUND", "errorMessage": "no such order"}, status=404)
    try:
        wanted = {str(i["orderItemId"]): Decimal(str(i["quantity"])) for i in (body.get("items") or [])}
        if any(not q.is_finite() or q <= 0 for q in wanted.values()):
            raise ValueError("quantity must be positive")
    except (TypeError, KeyError, ValueError, ArithmeticError, AttributeError):
        return web.json_response({"errorCode": "INVALID_FIELD", "errorMessage":
                                  "items: expected [{orderItemId, quantity > 0}]"}, status=400)
    reason = str(body.get("reason") or "Unknown")  # must be an OrderItemSummaryChange.Reason picklist value
    change = []
    products = [item for item in ((rows[0].get("OrderItemSummaries") or {}).get("records")) or []
                if item.get("Type") in (None, "Order Product")]
    unknown = sorted(set(wanted) - {str(item["Id"]) for item in products})
    if unknown:
        return web.json_response({"errorCode": "INVALID_FIELD", "errorMessage":
                                  f"not product lines of this order: {', '.join(unknown)}"}, status=400)
    for item in products:
        open_qty = returnable(item)
        # items given: cancel only those lines; none given: cancel every open quantity
        qty = wanted.get(str(item["Id"]), Decimal(0)) if wanted else open_qty
        if qty > open_qty:
            return web.json_response({"errorCode": "OVER_CANCEL", "errorMessage":
                                      f"line {item['Id']}: {qty} requested, {open_qty} cancelable"}, status=400)
        if qty > 0:
            change.append({"orderItemSummaryId": item["Id"], "quantity": float(qty), "reason": reason,
                           "shippingReductionFlag": False})
    if not change:
        return web.json_response({"errorCode": "NOTHING_TO_CANCEL", "errorMessage": "no open quantity"}, status=409)
    path = f"commerce/order-management/order-summaries/{rows[0]['Id']}/actions/submit-cancel"
    try:
        result = await sf.connect(path, {"changeItems": change})
    except PermanentError as exc:
        return web.json_response({"errorCode": exc.code or "CANCEL_REFUSED", "errorMessage": exc.message}, status=409)
    except ServiceError as exc:
        return web.json_response({"errorCode": "UNAVAILABLE", "errorMessage": exc.message}, status=503)
    log.info("order_canceled_online", order_summary_id=rows[0]["Id"], lines=len(change))
    return web.json_response({"status": "OK", "changeOrderId": result.get("changeOrderId")})


def add_spi_routes(app: web.Application, salesforce: OrderApi, api_keys: tuple[SecretStr, ...]) -> None:
    app[SPI_SF], app[SPI_KEYS] = salesforce, api_keys
    app.router.add_get("/spi/{version}/orders/search", search_orders)
    app.router.add_get("/spi/{version}/orders/{order_number}", get_order_detail)
    app.router.add_post("/spi/{version}/orders/{order_number}/cancel", cancel_order)
