"""The edge of the BORIS SPIs (:mod:`worker.spi`): key first, bounded input, Salesforce failures as answers.

* **Key first.** :func:`spi_edge` is an application middleware: every request under ``/spi/`` (any path,
  any method, routed or not) is checked against the configured keys before anything else, in constant time
  over every key; a wrong, missing, over-long or undecodable ``api_key`` is ``401`` with an empty body (POS
  SPI rule). Only then does routing speak: an unknown SPI path is ``404``, a wrong method ``405``, both in
  the POS error shape ``{"errorCode", "errorMessage"}``.
* **Bounded input.** ``limit`` is a whole number 1..200 and ``offset`` 0..2000 (SOQL refuses an OFFSET above
  2,000); search values and order numbers are at most 255 characters without control characters, and
  ``BillToContactId`` is a Salesforce Id: anything else is ``400`` naming the parameter, before any query.
  A cancel body is strict JSON (:mod:`worker.strict_json`), at most 64 KiB, read under the body timeout.
* **Salesforce failures.** Down, unreachable, refusing the login or out of API calls: ``503 UNAVAILABLE``
  (the POS may try again); a query refused for a reason the edge did not foresee: ``502 SALESFORCE_ERROR``.
  Never an unhandled exception.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from pydantic import SecretStr

from worker.errors import PermanentError, ServiceError
from worker.http_limits import read_body
from worker.pos.fields import quantity
from worker.strict_json import JsonRejected, loads_strict

log = structlog.get_logger(__name__)
SPI_KEYS = web.AppKey("spi_keys", tuple[SecretStr, ...])
MAX_PAGE = 200
MAX_OFFSET = 2000  # SOQL's OFFSET cap
MAX_VALUE = 255
MAX_CANCEL_BODY = 65_536
_DIGITS = re.compile(r"[0-9]{1,6}")
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


class BadInput(ValueError):
    """Input refused at the edge; the message starts with the parameter's name."""


def failure(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"errorCode": code, "errorMessage": message}, status=status)


def _key_bytes(request: web.Request) -> bytes:
    try:
        given = request.query.get("api_key", "")
        return given.encode("utf-8", "surrogateescape")
    except (UnicodeError, ValueError):
        return b""


def authorized(request: web.Request) -> bool:
    """``?api_key=`` equals one of the keys; every key is compared (constant time), empty never matches."""
    given = _key_bytes(request)
    matched = False
    for key in request.app[SPI_KEYS]:
        expected = key.get_secret_value().encode()
        matched |= bool(expected) and hmac.compare_digest(given, expected)
    return matched


def is_spi(path: str) -> bool:
    return path == "/spi" or path.startswith("/spi/")


@web.middleware
async def spi_edge(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if not is_spi(request.path):
        return await handler(request)
    if not authorized(request):
        return web.Response(status=401)
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return failure(404, "NOT_FOUND", "no such SPI")
    except web.HTTPMethodNotAllowed as exc:
        answer = failure(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here")
        answer.headers["Allow"] = exc.headers.get("Allow", "")
        return answer
    except ServiceError as exc:
        if isinstance(exc, PermanentError):
            log.error("spi_salesforce_refused", code=exc.code, message=exc.message[:200])
            return failure(502, "SALESFORCE_ERROR", "Salesforce refused the request")
        log.warning("spi_salesforce_unavailable", error=type(exc).__name__, code=exc.code)
        return failure(503, "UNAVAILABLE", "Salesforce is unavailable; try again later")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.warning("spi_salesforce_unavailable", error=type(exc).__name__)
        return failure(503, "UNAVAILABLE", "Salesforce is unavailable; try again later")


def page_param(query: Any, name: str, default: int, low: int, high: int) -> int:
    """A paging parameter: absent means ``default``; else decimal digits within low..high."""
    text = query.get(name)
    if text is None:
        return default
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise BadInput(f"{name}: expected a whole number from {low} to {high}")
    return int(text)


def _controls(value: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value)


def text_param(name: str, value: str) -> str:
    """A search value or order number: at most 255 characters, no control characters."""
    if len(value) > MAX_VALUE:
        raise BadInput(f"{name}: longer than {MAX_VALUE} characters")
    if _controls(value):
        raise BadInput(f"{name}: contains a control character")
    return value


def search_params(query: Any, fields: tuple[str, ...]) -> dict[str, str]:
    """The search values given (stripped, checked); BillToContactId must be a Salesforce Id."""
    values: dict[str, str] = {}
    for field in fields:
        value = text_param(field, query.get(field, "")).strip()
        if value and field == "BillToContactId" and not _SALESFORCE_ID.fullmatch(value):
            raise BadInput(f"{field}: expected a Salesforce Id (15 or 18 letters and digits)")
        if value:
            values[field] = value
    return values


async def cancel_body(request: web.Request) -> tuple[dict[str, Decimal], str | None]:
    """``{"items": [{"orderItemId", "quantity" > 0}], "reason"}`` of an online cancel; raises BadInput (400),
    ``TimeoutError`` (408) or ``OverflowError`` (413)."""
    raw = await read_body(request, MAX_CANCEL_BODY + 1) if request.can_read_body else b""
    if len(raw) > MAX_CANCEL_BODY:
        raise OverflowError(f"body exceeds {MAX_CANCEL_BODY} bytes")
    if not raw.strip():
        return {}, None
    try:
        body = loads_strict(raw)
    except JsonRejected as exc:
        raise BadInput(str(exc) if exc.path else f"body is {exc.reason}") from None
    if not isinstance(body, dict):
        raise BadInput("body: expected a JSON object")
    items = body.get("items") or []
    if not isinstance(items, list):
        raise BadInput("items: expected [{orderItemId, quantity > 0}]")
    wanted: dict[str, Decimal] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("orderItemId"), str | int):
            raise BadInput(f"items.{i}: expected {{orderItemId, quantity > 0}}")
        item_id = text_param(f"items.{i}.orderItemId", str(item["orderItemId"]))
        try:
            amount = quantity(item.get("quantity"))
        except ValueError as exc:
            raise BadInput(f"items.{i}.quantity: {exc}") from None
        if amount <= 0:
            raise BadInput(f"items.{i}.quantity: must be above 0")
        wanted[item_id] = amount
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadInput("reason: expected a string")
    return wanted, text_param("reason", reason) if reason else None
