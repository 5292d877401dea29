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

import structlog
from aiohttp import web
from pydantic import SecretStr

from worker.errors import PermanentError, TransientError
from worker.order_history import (
    SEARCH_FIELDS,
    CancelRefused,
    OrderApi,
    detail_query,
    order_detail,
    plan_cancel,
    search_condition,
    search_page,
    search_query,
)
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


SPI_SF = web.AppKey("spi_sf", OrderApi)


async def search_orders(request: web.Request) -> web.Response:
    try:
        limit = page_param(request.query, "limit", 50, 1, MAX_PAGE)
        offset = page_param(request.query, "offset", 0, 0, MAX_OFFSET)
        condition = search_condition(search_params(request.query, SEARCH_FIELDS))
    except BadInput as exc:
        return failure(400, "INVALID_PARAMETER", str(exc))
    except ValueError as exc:
        return failure(400, "INVALID_SEARCH", str(exc))
    rows = await request.app[SPI_SF].query(search_query(condition, limit, offset))
    return web.json_response(search_page(rows, limit, offset))


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
    try:
        change = plan_cancel(rows[0], wanted, given_reason or "Unknown")  # reason: a Reason picklist value
    except CancelRefused as exc:
        return failure(exc.status, exc.code, exc.message)
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
