"""A real aiohttp server from ``worker.server.create_app`` on 127.0.0.1 (port 0) over a real SQLite store.

``serve(**webhook)`` starts one (webhook config overrides such as ``max_body_bytes``) and returns a
:class:`Served` with the base URL, the store, the Health and Metrics objects, a client session and the
queues whose ``notify`` callbacks fired. ``sale_body()`` and ``event_body()`` build valid payloads in the
shapes of ``worker.pos.models`` (PosSale, StoreFulfillmentEvent).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from worker.config import WebhookConfig
from worker.health import Health
from worker.metrics import Metrics
from worker.server import create_app
from worker.store import Store, open_store

WEBHOOK_KEY = "whk-S3CRET-7f31c2d9"

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


@dataclass
class Served:
    url: str
    store: Store
    health: Health
    metrics: Metrics
    http: aiohttp.ClientSession
    notified: list[str] = field(default_factory=list)

    def headers(self, key: str = WEBHOOK_KEY) -> dict[str, str]:
        return {"Authorization": key}

    async def post(self, endpoint: str, body: Any, *, key: str | None = WEBHOOK_KEY,
                   raw: bytes | None = None) -> tuple[int, Any]:
        """POST a webhook; returns (status, parsed JSON body or the text when it is not JSON)."""
        headers = {"Authorization": key} if key is not None else {}
        if raw is None:
            async with self.http.post(f"{self.url}/webhooks/pos/{endpoint}", json=body, headers=headers) as resp:
                return resp.status, await _body(resp)
        headers["Content-Type"] = "application/json"
        async with self.http.post(f"{self.url}/webhooks/pos/{endpoint}", data=raw, headers=headers) as resp:
            return resp.status, await _body(resp)

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

    async def start(store: Store | None = None, health: Health | None = None, **webhook: Any) -> Served:
        if store is None:
            store = await open_store(f"sqlite:///{tmp_path / 's.db'}")
            stores.append(store)
        health = health or Health(cache_seconds=0)
        metrics = Metrics()
        config = WebhookConfig.model_validate({"api_key": WEBHOOK_KEY, **webhook})
        notified: list[str] = []
        notify = {q: (lambda q=q: notified.append(q)) for q in ("sale", "return", "status")}
        runner = web.AppRunner(create_app(store, health, metrics, config, notify))
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        http = aiohttp.ClientSession()
        sessions.append(http)
        return Served(f"http://127.0.0.1:{port}", store, health, metrics, http, notified)

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
