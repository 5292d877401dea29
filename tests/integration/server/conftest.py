"""A real aiohttp server from ``worker.server.create_app`` on 127.0.0.1 (port 0) over a real SQLite store.

``serve(**webhook)`` starts one (webhook config overrides such as ``max_body_bytes``; ``http={...}`` for the
``worker.http`` limits) the way the worker does (``server_options`` + ``GuardedSite``) and returns a
:class:`Served` with the base URL, the store, the Health and Metrics objects, a client session, the queues
whose ``notify`` callbacks fired and the site (its ``guard`` counts connections). The BORIS SPIs are mounted
too (``add_spi_routes``, key ``SPI_KEY``) over a :class:`FakeOrg` that refuses what a real org refuses and can
be switched down. ``sale_body()`` and
``event_body()`` build valid payloads in the shapes of ``worker.pos.models`` (PosSale, StoreFulfillmentEvent).
"""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from worker.config import HttpConfig, WebhookConfig
from worker.errors import AuthenticationError, LimitExceeded, PermanentError, TransientError
from worker.health import Health
from worker.http_limits import GuardedSite, server_options
from worker.metrics import Metrics
from worker.server import create_app
from worker.spi import add_spi_routes
from worker.store import Store, open_store

WEBHOOK_KEY = "whk-S3CRET-7f31c2d9"
SPI_KEY = "spi-S3CRET-41d2aa"

SALE: dict[str, Any] = {
    "orderId": "S-256-000001",
    "displayOrderId": "S-256-000001",
    "orderSource": "IN_STORE",
    "orderStatus": "COMPLETED",
    "orderDate": 1717168580000,
    "currency": "USD",
    "storeId": "256",
    "email": "a@example.com",
    "customerProfile": {"customerId": "C1", "email": "a@example.com", "firstName": "Ann", "lastName": "Lee"},
    "billingAddress": {"firstName": "Ann", "lastName": "Lee", "addressLine1": "1 Main St", "city": "Austin",
                       "state": "TX", "postalCode": "78701", "country": "US"},
    "orderProductList": [
        {"orderItemId": "1", "productId": "SKU-0001", "name": "Tee", "quantity": 2, "price": 20.00,
         "subTotal": 40.00, "discount": 4.00, "tax": 2.97, "total": 38.97, "fulfillmentType": "IN_STORE",
         "fulfillmentSubType": "DEFAULT"},
    ],
    "returnProductList": [],
    "tenders": [
        {"paymentId": "7d1c0d3e", "transactionId": "256-20240531-1", "paymentMethod": "CreditCard",
         "cardType": "Visa", "lastFour": "4242", "amountAuthorized": 38.97, "paymentStatus": "APPROVED"},
    ],
    "orderSubTotal": 40.00,
    "discount": 4.00,
    "taxSubTotal": 2.97,
    "shippingCharge": 0.00,
    "totalAmount": 38.97,
}

EVENT: dict[str, Any] = {
    "eventType": "PACK",
    "orderType": "BOPIS",
    "orderId": "POS-ORD-1",
    "externalOrderId": "0a3xx0000000001AAA",
    "storeId": "256",
    "eventDate": 1717168580000,
    "items": [{"orderItemId": "L1", "quantity": 1}],
}


SUMMARY: dict[str, Any] = {
    "Id": "1OsA", "OrderNumber": "00001001", "Status": "Created", "OrderedDate": "2025-05-01T12:00:00.000+0000",
    "GrandTotalAmount": 38.97, "TotalTaxAmount": 2.97, "BillingEmailAddress": "ann@example.com",
    "Account": {"FirstName": "Ann", "LastName": "Lee"},
    "OrderItemSummaries": {"totalSize": 1, "done": True, "records": [
        {"Id": "10uA", "Type": "Order Product", "StockKeepingUnit": "SKU-1", "Name": "Tee", "Quantity": 2.0,
         "QuantityCanceled": 0.0, "QuantityReturned": 0.0, "QuantityReturnInitiated": 0.0, "UnitPrice": 20.0,
         "TotalPrice": 36.0, "TotalTaxAmount": 2.97}]},
    "OrderDeliveryGroupSummaries": None,
}
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class FakeOrg:
    """Salesforce behind the SPIs: answers ``rows``, refuses what a real org refuses, or is down (``mode``).

    Refused like the org would (a PermanentError, which the SPI must never let through as a 5xx): a control
    character in the SOQL text, OFFSET above 2,000, LIMIT below 1, a BillToContactId that is not an Id.
    Modes: ``ok``; ``down`` (503 after retries), ``unreachable`` (connection refused), ``auth`` (login
    refused), ``limit`` (REQUEST_LIMIT_EXCEEDED).
    """

    rows: list[dict[str, Any]] = field(default_factory=lambda: [copy.deepcopy(SUMMARY)])
    queries: list[str] = field(default_factory=list)
    actions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    mode: str = "ok"

    def _fail(self) -> None:
        if self.mode == "down":
            raise TransientError("salesforce", "Service Unavailable", status=503)
        if self.mode == "unreachable":
            raise aiohttp.ClientConnectionError("Cannot connect to host acme.my.salesforce.com:443")
        if self.mode == "auth":
            raise AuthenticationError("salesforce", "authentication failure", status=400, code="invalid_grant")
        if self.mode == "limit":
            raise LimitExceeded("salesforce", "TotalRequests Limit exceeded.", status=403,
                                code="REQUEST_LIMIT_EXCEEDED")

    async def query(self, soql: str) -> list[dict[str, Any]]:
        self._fail()
        self.queries.append(soql)
        if CONTROL.search(soql):
            raise PermanentError("salesforce", "unexpected token", status=400, code="MALFORMED_QUERY")
        offset = re.search(r"OFFSET (\d+)", soql)
        if offset and int(offset.group(1)) > 2000:
            raise PermanentError("salesforce", "maximum SOQL offset allowed is 2000", status=400,
                                 code="NUMBER_OUTSIDE_VALID_RANGE")
        limit = re.search(r"LIMIT (-?\d+)", soql)
        if limit and int(limit.group(1)) < 1:
            raise PermanentError("salesforce", "unexpected token: '-'", status=400, code="MALFORMED_QUERY")
        contact = re.search(r"BillToContactId = '([^']*)'", soql)
        if contact and not re.fullmatch(r"[A-Za-z0-9]{15}|[A-Za-z0-9]{18}", contact.group(1)):
            raise PermanentError("salesforce", "invalid ID field", status=400, code="INVALID_QUERY_FILTER_OPERATOR")
        return copy.deepcopy(self.rows)

    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self._fail()
        self.actions.append((path, body))
        return {"changeOrderId": "801CHG", "success": True, "errors": []}


@dataclass
class Served:
    url: str
    store: Store
    health: Health
    metrics: Metrics
    http: aiohttp.ClientSession
    notified: list[str] = field(default_factory=list)
    org: FakeOrg = field(default_factory=FakeOrg)
    app: web.Application | None = None
    site: GuardedSite | None = None

    def headers(self, key: str = WEBHOOK_KEY) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    async def post(self, endpoint: str, body: Any, *, key: str | None = WEBHOOK_KEY, auth: str | None = None,
                   raw: bytes | None = None) -> tuple[int, Any]:
        """POST a webhook with ``Authorization: Bearer <key>`` (or exactly ``auth`` when given); returns
        (status, parsed JSON body or the text when it is not JSON)."""
        value = auth if auth is not None else (f"Bearer {key}" if key is not None else None)
        headers = {"Authorization": value} if value is not None else {}
        if raw is None:
            async with self.http.post(f"{self.url}/webhooks/pos/{endpoint}", json=body, headers=headers) as resp:
                return resp.status, await _body(resp)
        headers["Content-Type"] = "application/json"
        async with self.http.post(f"{self.url}/webhooks/pos/{endpoint}", data=raw, headers=headers) as resp:
            return resp.status, await _body(resp)

    async def spi(self, method: str, path: str, *, key: str | None = SPI_KEY, params: dict[str, str] | None = None,
                  body: Any = None, raw: bytes | None = None) -> tuple[int, Any, bytes]:
        """Call ``/spi/1.0<path>``; returns (status, parsed JSON or None, raw body bytes)."""
        query = dict(params or {})
        if key is not None:
            query["api_key"] = key
        kwargs: dict[str, Any] = {"params": query}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.http.request(method, f"{self.url}/spi/1.0{path}", **kwargs) as resp:
            data = await resp.read()
            parsed = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, parsed, data

    async def counts(self) -> dict[str, int]:
        """Jobs per queue, every state summed (only queues holding at least one job)."""
        found = await self.store.queue_counts()
        return {queue: sum(states.values()) for queue, states in found.items() if sum(states.values())}

    async def pending(self, queue: str) -> list[Any]:
        """Every job of a queue, oldest first (ids of a fresh store run 1..n)."""
        total = sum((await self.counts()).values())
        jobs = [await self.store.get_job(i) for i in range(1, total + 1)]
        return [job for job in jobs if job is not None and job.queue == queue]


async def _body(resp: aiohttp.ClientResponse) -> Any:
    text = await resp.text()
    if resp.content_type == "application/json":
        return await resp.json()
    return text


@pytest.fixture
def sale_body() -> Callable[..., dict[str, Any]]:
    """A valid PosSale body; keyword arguments replace top-level fields."""

    def build(**changes: Any) -> dict[str, Any]:
        body = copy.deepcopy(SALE)
        body.update(changes)
        return body

    return build


@pytest.fixture
def event_body() -> Callable[..., dict[str, Any]]:
    """A valid StoreFulfillmentEvent body; keyword arguments replace top-level fields."""

    def build(**changes: Any) -> dict[str, Any]:
        body = copy.deepcopy(EVENT)
        body.update(changes)
        return body

    return build


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    runners: list[web.AppRunner] = []
    stores: list[Store] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(store: Store | None = None, health: Health | None = None, org: FakeOrg | None = None,
                    http: dict[str, Any] | None = None, **webhook: Any) -> Served:
        if store is None:
            store = await open_store(f"sqlite:///{tmp_path / 's.db'}")
            stores.append(store)
        health = health or Health(cache_seconds=0)
        metrics = Metrics()
        config = WebhookConfig.model_validate({"api_key": WEBHOOK_KEY, **webhook})
        notified: list[str] = []
        notify = {q: (lambda q=q: notified.append(q)) for q in ("sale", "return", "status")}
        org = org or FakeOrg()
        app = create_app(store, health, metrics, config, notify)
        add_spi_routes(app, org, (SecretStr(SPI_KEY), SecretStr("spi-staging-key")))
        limits = HttpConfig.model_validate({"host": "127.0.0.1", "port": 0, **(http or {})})
        runner = web.AppRunner(app, **server_options(limits))
        await runner.setup()
        runners.append(runner)
        site = GuardedSite(runner, limits)
        await site.start()
        client = aiohttp.ClientSession()
        sessions.append(client)
        return Served(f"http://127.0.0.1:{site.port}", store, health, metrics, client, notified, org, app, site)

    yield start
    for http in sessions:
        await http.close()
    for runner in runners:
        await runner.cleanup()
    for store in stores:
        await store.close()


@pytest.fixture
async def server(serve: Callable[..., Awaitable[Served]]) -> Served:
    """The server with production defaults (1 MiB body limit, Authorization header)."""
    return await serve()
