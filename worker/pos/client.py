"""The POS HTTP client (contract of reference ``pos-api.md`` §8.2) for both auth modes.

Every call goes through :meth:`PosClient._request`: auth headers, ``Content-Type: application/json``, timeout,
client-side rate limit, one ``pos_request`` log event per attempt (method, path template, status, duration,
attempt; never headers or bodies), error mapping through :func:`worker.errors.pos_error`, and retries as data:

* transient answers (5xx, 408, 429 with ``Retry-After`` honoured) are retried under the retry policy;
* a 401 invalidates the token and is retried once, immediately, with a fresh token;
* a connection that could not be opened is transient for every method (nothing was sent);
* a connection lost or timed out *after* sending is ``OutcomeUnknown`` for a non-idempotent POST, which is
  never re-sent blindly (the caller must look first); idempotent calls are simply retried;
* refused client credentials (:class:`~worker.auth_hold.CredentialsRefused`, see :mod:`worker.pos.auth`) are
  raised at once, never retried or waited for here: the queue runner pauses outbound work instead.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Literal

import aiohttp
import structlog

from worker.auth_hold import CredentialsRefused
from worker.config import PosConfig
from worker.errors import OutcomeUnknown, PermanentError, ServiceError, TransientError, pos_error
from worker.retry import RetryPolicy, retrying

from .auth import HyperforceAuth, LegacyAuth, make_auth
from .base import ImportResult, PosApi
from .endpoints import Endpoints
from .ratelimit import TokenBucket

log = structlog.get_logger(__name__)

DEFAULT_RETRY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=30.0)
MAX_PAGES = 10_000


class _Final(Exception):
    """Carries an error that must not be retried (OutcomeUnknown and CredentialsRefused are TransientErrors)."""

    def __init__(self, error: ServiceError) -> None:
        super().__init__(str(error))
        self.error = error


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: fall back to the policy's own backoff
    return max(0.0, seconds)


def _parse(text: str) -> Any:
    if not text:
        return None
    try:
        return jsonlib.loads(text)
    except ValueError:
        return text[:500]


class PosClient(PosApi):
    """Talks to the POS; built once per process around the shared aiohttp session."""

    def __init__(
        self,
        config: PosConfig,
        session: aiohttp.ClientSession,
        *,
        retry: RetryPolicy | None = None,
        credentials: Literal["basic", "form"] = "basic",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config, self._session = config, session
        self._endpoints = Endpoints(config)
        self.auth: LegacyAuth | HyperforceAuth = make_auth(
            config, session, credentials=credentials, clock=clock
        )
        self._retry = retry or DEFAULT_RETRY
        self._sleep = sleep
        self._bucket = TokenBucket(config.rate_limit_per_second, sleep=sleep)
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)

    def __repr__(self) -> str:
        return f"PosClient(base_url={self._endpoints.base_url!r}, mode={self._config.rest_auth.mode!r})"

    # ------------------------------------------------------------------ transport

    async def _request(
        self,
        method: str,
        path_key: str,
        *,
        order_id: str | None = None,
        json: Any = None,
        idempotent: bool,
        missing_ok: bool = False,
    ) -> tuple[int, Any]:
        """One logical call; returns (status, parsed body). With ``missing_ok`` a 404 returns (404, None)."""
        template = self._endpoints.template(path_key)
        url = self._endpoints.url(path_key, order_id)
        data = None if json is None else jsonlib.dumps(json, separators=(",", ":"))
        attempt = 0

        async def send_once() -> tuple[int, Any]:
            nonlocal attempt
            refreshed = False
            while True:
                attempt += 1
                auth_headers = await self.auth.headers()
                await self._bucket.acquire()
                status, body, retry_after = await self._send(method, url, template, data, auth_headers,
                                                             attempt, idempotent)
                if status == 401 and not refreshed:
                    refreshed = True
                    self.auth.invalidate(auth_headers)
                    continue
                if status == 404 and missing_ok:
                    return status, None
                if status >= 400:
                    raise pos_error(status, body, retry_after=retry_after)
                return status, body

        async def call() -> tuple[int, Any]:
            try:
                return await send_once()
            except (OutcomeUnknown, CredentialsRefused) as exc:
                raise _Final(exc) from None

        try:
            return await retrying(self._retry, call, what=f"pos {method} {template}", sleep=self._sleep)
        except _Final as final:
            raise final.error from None

    async def _send(
        self, method: str, url: str, template: str, data: str | None, auth_headers: dict[str, str],
        attempt: int, idempotent: bool,
    ) -> tuple[int, Any, float | None]:
        headers = {**auth_headers, "Content-Type": "application/json", "Accept": "application/json"}
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            async with self._session.request(method, url, data=data, headers=headers,
                                             timeout=self._timeout) as resp:
                status = resp.status
                text = await resp.text()
                return status, _parse(text), _retry_after(resp.headers.get("Retry-After"))
        except aiohttp.ClientConnectorError as exc:
            # The connection was never opened, so nothing reached the POS: safe to retry any method.
            error = type(exc).__name__
            raise TransientError("pos", f"could not connect ({error})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = type(exc).__name__
            if idempotent:
                raise TransientError("pos", f"no answer ({error})") from None
            raise OutcomeUnknown("pos", f"{method} {template} sent but no answer ({error}); "
                                 "look before sending again") from None
        finally:
            log.info("pos_request", method=method, path=template, status=status, attempt=attempt,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1), error=error)

    async def _pages(self, path_key: str, query: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page's orders, following ``nextPageToken`` (memory stays bounded by one page)."""
        seen: set[str] = set()
        token: str | None = None
        for _ in range(MAX_PAGES):
            body = dict(query, pageToken=token) if token else dict(query)
            # A search is a read: safe to repeat.
            _, page = await self._request("POST", path_key, json=body, idempotent=True)
            if not isinstance(page, dict) or not isinstance(page.get("orders"), list):
                raise PermanentError("pos", f"search answered without an orders list ({path_key})")
            yield [o for o in page["orders"] if isinstance(o, dict)]
            token = page.get("nextPageToken") or None
            if token is None:
                return
            if token in seen:
                raise PermanentError("pos", f"search returned the same nextPageToken twice ({path_key})")
            seen.add(str(token))
        raise PermanentError("pos", f"search did not finish within {MAX_PAGES} pages ({path_key})")

    async def _paged(self, path_key: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        return [order async for page in self._pages(path_key, query) for order in page]

    # ------------------------------------------------------------------ fulfillment orders

    async def import_fulfillment_order(self, order: dict[str, Any]) -> ImportResult:
        # The import POST is idempotent by contract (§8.2: the same externalOrderId returns the existing order
        # with 200 + "duplicate": true), so a lost answer is retried instead of raising OutcomeUnknown.
        status, body = await self._request("POST", "import_fulfillment_order", json=order, idempotent=True)
        if not isinstance(body, dict):
            raise PermanentError("pos", "import answered without an order", status=status)
        stored = {k: v for k, v in body.items() if k != "duplicate"}
        pos_order_id = stored.get("orderId")
        if not isinstance(pos_order_id, str) or not pos_order_id:
            raise PermanentError("pos", "import answer has no orderId", status=status)
        line_ids = _line_ids(stored)
        sent = [str(line.get("orderItemId")) for line in order.get("orderProductList") or []
                if isinstance(line, dict)]
        missing = [s for s in sent if s not in line_ids]
        if missing:
            raise PermanentError("pos", f"import answer of {pos_order_id} lacks lines {', '.join(missing)}",
                                 status=status)
        created = status == 201 and not body.get("duplicate")
        return ImportResult(pos_order_id=pos_order_id, created=created, line_ids=line_ids, order=stored)

    async def get_fulfillment_order(self, pos_order_id: str) -> dict[str, Any] | None:
        _, body = await self._request("GET", "fulfillment_order", order_id=pos_order_id, idempotent=True,
                                      missing_ok=True)
        return body if isinstance(body, dict) else None

    async def search_fulfillment_orders(
        self,
        *,
        external_order_ids: Sequence[str] | None = None,
        store_id: str | None = None,
        status: Sequence[str] | None = None,
        updated_since_ms: int | None = None,
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if external_order_ids is not None:
            query["externalOrderIds"] = list(external_order_ids)
        if store_id is not None:
            query["storeId"] = store_id
        if status is not None:
            query["status"] = list(status)
        if updated_since_ms is not None:
            query["updatedSince"] = updated_since_ms
        return await self._paged("search_fulfillment_orders", query)

    async def cancel_fulfillment_order(
        self, pos_order_id: str, order_item_ids: Sequence[str] | None, reason: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"reason": reason}
        if order_item_ids is not None:
            body["orderItemIds"] = list(order_item_ids)
        _, answer = await self._request("POST", "cancel_fulfillment_order", order_id=pos_order_id, json=body,
                                        idempotent=False)
        if not isinstance(answer, dict):
            raise PermanentError("pos", f"cancel of {pos_order_id} answered without an order")
        return answer

    # ------------------------------------------------------------------ sales

    async def get_sale(self, order_id: str) -> dict[str, Any] | None:
        _, body = await self._request("GET", "sale", order_id=order_id, idempotent=True, missing_ok=True)
        return body if isinstance(body, dict) else None

    async def search_sales(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return await self._paged("search_sales", dict(query))

    def sale_pages(self, query: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
        """``sa/orders/search`` page by page (the sale sweep enqueues each page before asking for the next)."""
        return self._pages("search_sales", dict(query))

    async def repost(self, order_ids: Sequence[str]) -> None:
        # Not idempotent: a repeated repost re-sends the exports again (harmless duplicates, but not blind).
        _, body = await self._request("POST", "repost", json={"orderIds": list(order_ids)}, idempotent=False)
        unknown = body.get("notFound") if isinstance(body, dict) else None
        if unknown:
            log.warning("pos_repost_unknown_orders", count=len(unknown), order_ids=list(unknown)[:20])

    # ------------------------------------------------------------------ health

    async def ping(self) -> None:
        await self._request("GET", "fulfillment_order", order_id="oms-worker-ping", idempotent=True,
                            missing_ok=True)

    async def close(self) -> None:
        """Nothing to release: the aiohttp session belongs to the caller."""


def _line_ids(order: dict[str, Any]) -> dict[str, str]:
    """FOLI Id (``externalLineId``, the id we sent) -> POS ``orderItemId``.

    A POS that keeps the sent id (no ``externalLineId``) maps each line to itself.
    """
    ids: dict[str, str] = {}
    for line in order.get("orderProductList") or []:
        if not isinstance(line, dict) or line.get("orderItemId") in (None, ""):
            continue
        pos_id = str(line["orderItemId"])
        ids[str(line.get("externalLineId") or pos_id)] = pos_id
    return ids
