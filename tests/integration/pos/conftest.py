"""Fixtures for the POS client and emulator tests: the emulator, a client for it, a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from emulator.pos.app import RunningPos, start_pos_emulator
from emulator.pos.settings import PosEmulatorSettings
from worker.config import PosConfig
from worker.pos.client import PosClient
from worker.retry import RetryPolicy

ENDPOINTS = ("ORDER", "ORDER_UPDATE", "RETURN", "BOPIS_EXPORT", "BOFIS_EXPORT", "STORE_FULFILLMENT")
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=2.0)


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self, start: float = 1_717_168_580.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def legacy_config(url: str, **overrides: Any) -> PosConfig:
    raw: dict[str, Any] = {
        "environment": "Test",
        "base_url": url,
        "token_url": f"{url}/oauth2/token",
        "merchant_id": "acme",
        "rate_limit_per_second": 1000,
        "auth": {
            "mode": "legacy",
            "client_id": "demo-pos-client",
            "client_secret": "demo-pos-secret",
            "pos_secret": "demo-pos-secret-header",
            "api_key": "demo-pos-api-key",
        },
    }
    auth = overrides.pop("auth", {})
    raw.update(overrides)
    raw["auth"] = {**raw["auth"], **auth}
    return PosConfig.model_validate(raw)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


Starter = Callable[..., Awaitable[RunningPos]]


@pytest.fixture
async def start_pos() -> AsyncIterator[Starter]:
    started: list[RunningPos] = []

    async def start(**settings: Any) -> RunningPos:
        running = await start_pos_emulator(PosEmulatorSettings(**settings))
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()


@pytest.fixture
async def pos(start_pos: Starter) -> RunningPos:
    return await start_pos(rate_limit_per_second=0)


@pytest.fixture
def client(pos: RunningPos, http: aiohttp.ClientSession) -> PosClient:
    return PosClient(legacy_config(pos.url), http, retry=FAST_RETRY)


@dataclass
class Receiver:
    """A webhook endpoint (real aiohttp server) that records what it got and answers as scripted."""

    url: str = ""
    received: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)  # consumed one per request; default 200 OK

    def bodies(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        return [body for name, _, body in self.received if endpoint is None or name == endpoint]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def handle(request: web.Request) -> web.Response:
        rec.received.append((request.match_info["name"], dict(request.headers), await request.json()))
        status, body = rec.answers.pop(0) if rec.answers else (200, {"status": "OK"})
        return web.json_response(body, status=status)

    async with hook_server(handle) as url:
        rec.url = url
        yield rec


@asynccontextmanager
async def hook_server(handle: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    """A webhook receiver on 127.0.0.1, port 0, answering ``POST /hooks/{name}`` with ``handle``; yields its base
    URL (``.../hooks``) and stops it afterwards."""
    app = web.Application()
    app.router.add_post("/hooks/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hooks"
    finally:
        await runner.cleanup()


def fo_payload(
    n: int = 1, *, lines: int = 2, omni: str = "PICKUP_IN_STORE", store: str = "256"
) -> dict[str, Any]:
    """A §8.3 import payload for FulfillmentOrder number ``n``."""
    fo_id = f"0a3xx00000000{n:02d}AAA"
    return {
        "externalOrderId": fo_id,
        "orderId": f"FO-{n:06d}",
        "displayOrderId": f"{n:08d}",
        "storeId": store,
        "omniFulfillmentType": omni,
        "orderDate": 1717168580000,
        "currency": "USD",
        "customerProfile": {
            "customerId": "001xx",
            "firstName": "Ann",
            "lastName": "Lee",
            "email": "a@example.com",
            "phoneMobile": "+15550100",
        },
        "shippingAddress": {
            "firstName": "Ann",
            "lastName": "Lee",
            "addressLine1": "1 Main St",
            "addressLine2": None,
            "city": "Austin",
            "state": "TX",
            "postalCode": "78701",
            "country": "US",
        },
        "orderProductList": [
            {
                "orderItemId": f"0a4xx0000{n:02d}{i:04d}AAA",
                "externalId": f"FO-{n:06d}-{i}",
                "lineNumber": i,
                "productId": f"SKU-{i:04d}",
                "name": "Tee",
                "quantity": 2,
                "price": 20.0,
                "subTotal": 40.0,
                "discount": 0.0,
                "tax": 3.3,
                "total": 43.3,
                "omniFulfillmentType": omni,
                "fulfillmentType": "ONLINE",
                "fulfillmentSubType": "DEFAULT",
            }
            for i in range(1, lines + 1)
        ],
        "tenders": [],
        "orderSubTotal": 40.0 * lines,
        "discount": 0.0,
        "taxSubTotal": 3.3 * lines,
        "totalAmount": 43.3 * lines,
    }


async def admin(
    http: aiohttp.ClientSession,
    pos: RunningPos,
    method: str,
    path: str,
    body: Any = None,
    expect: int | None = None,
) -> Any:
    async with http.request(method, f"{pos.url}/__admin/{path}", json=body) as resp:
        data = await resp.json(content_type=None)
        if expect is not None:
            assert resp.status == expect, (resp.status, data)
        elif resp.status >= 300:
            raise AssertionError((resp.status, data))
        return data


HOOK_HEADERS = {"Authorization": "Bearer hook-secret", "X-Extra": "1"}


async def configure(http: aiohttp.ClientSession, pos: RunningPos, receiver: Receiver, **options: Any) -> None:
    """Point every webhook endpoint of the emulator at ``receiver`` with HOOK_HEADERS."""
    urls = {name: f"{receiver.url}/{name}" for name in ENDPOINTS}
    await admin(http, pos, "POST", "webhooks", {"urls": urls, "headers": HOOK_HEADERS, **options})
