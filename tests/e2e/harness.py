"""Run the whole worker against both emulators, in-process, on loopback ports chosen by the OS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from emulator.pos.app import start_pos_emulator
from emulator.salesforce.app import SfEmulatorSettings, start_sf_emulator
from worker.app import Running, serve
from worker.config import Config
from worker.config_load import parse_config
from worker.demo import SALES_SEED

WEBHOOK_KEY = "e2e-webhook-key"
SPI_KEY = "e2e-spi-key"
CHANNEL = "/event/FOStatusChangedEvent"
TRANSPORTS = ("cometd", "pubsub")  # @pytest.mark.parametrize("transport", TRANSPORTS): a scenario on both


def raw_config(sf_url: str, pos_url: str, store_url: str, *, salesforce: dict[str, Any] | None = None,
               **worker_overrides: Any) -> dict[str, Any]:
    """The YAML document (as data) of a worker pointed at the emulators; ``salesforce`` overrides that section."""
    worker: dict[str, Any] = {
        "store_url": store_url,
        "http": {"host": "127.0.0.1", "port": 0},
        "webhook": {"auth_header": "Authorization", "api_key": WEBHOOK_KEY},
        "spi": {"api_keys": [SPI_KEY]},
        "reconcile": {"interval_seconds": 3600, "overlap_seconds": 60},
        "retry": {"attempts": 8, "base_delay_seconds": 0.05, "max_delay_seconds": 0.5, "http_attempts": 3},
        "lease_seconds": 10,
        "drain_grace_seconds": 5,
        "effect_settle_seconds": 0.5,  # the emulator answers at once: a sent graph lands well within this
        "log_format": "json",
        "log_level": "WARNING",
    }
    worker.update(worker_overrides)
    raw = {
        "salesforce": {
            "UrlBase": sf_url, "Username": "integration@example.com", "Password": "demo-password",
            "ApiVersion": "v62.0", "QueryApiVersion": "v62.0",
            "OMSCustomField": [{"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID", "applyTo": "LOCATION"}],
            "FilterQuery": "DeliveryMethod.Name IN ('BOPIS', 'BOFIS')",
            "OMSStatusesToProcess": ["Allocated"], "OMSStatusCanceledValue": "Cancelled",
            "allow_insecure_local": True,
        },
        "auth": {"flow": "password", "client_id": "demo-client", "client_secret": "demo-secret"},
        "pos": {
            "environment": "Test", "base_url": pos_url, "token_url": f"{pos_url}/oauth2/token",
            "merchant_id": "acme", "locale": "en-US", "region": "US", "rate_limit_per_second": 1000,
            "auth": {"mode": "legacy", "client_id": "demo-pos-client", "client_secret": "demo-pos-secret",
                     "pos_secret": "demo-pos-secret-header", "api_key": "demo-pos-api-key"},
        },
        "worker": worker,
    }
    raw["salesforce"].update(salesforce or {})
    return raw


def worker_config(sf_url: str, pos_url: str, store_url: str, *, salesforce: dict[str, Any] | None = None,
                  **worker_overrides: Any) -> Config:
    return parse_config(raw_config(sf_url, pos_url, store_url, salesforce=salesforce, **worker_overrides), {})


@dataclass
class Stack:
    sf_url: str
    pos_url: str
    http: aiohttp.ClientSession
    sf_emulator: Any
    pos_emulator: Any
    workers: list[Running] = field(default_factory=list)

    async def sf_admin(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, f"{self.sf_url}/__admin/{path}", json=body) as resp:
            assert resp.status < 300, (resp.status, await resp.text())
            return await resp.json(content_type=None)

    async def pos_admin(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, f"{self.pos_url}/__admin/{path}", json=body) as resp:
            assert resp.status < 300, (resp.status, await resp.text())
            return await resp.json(content_type=None)

    @property
    def pubsub_target(self) -> str:
        """host:port of the SF emulator's Pub/Sub API (gRPC, plaintext)."""
        target = getattr(self.sf_emulator, "pubsub_target", None)
        assert target, "the SF emulator runs no Pub/Sub API"
        return str(target)

    async def stream_positioned(self, status: dict[str, Any]) -> bool:
        """A worker's ``/status`` says its stream is subscribed, and for Pub/Sub the server has taken the first
        FetchRequest (a Subscribe is not acknowledged: a LATEST subscription starts where the server's bus is when
        that request is read, so an event published before then is not the stream's to deliver)."""
        stream = status["dependencies"]["stream"]
        if not stream.get("subscribed"):
            return False
        return stream.get("transport") != "pubsub" or bool((await self.sf_admin("GET", "pubsub"))["streams"])

    def stream(self, transport: str, **settings: Any) -> dict[str, Any]:
        """The worker's ``stream`` section for ``transport``; ``pubsub`` settings merge into its pubsub part."""
        if transport == "cometd":
            return {"transport": "cometd", **settings}
        pubsub = {"target": self.pubsub_target, "tls": False, **settings.pop("pubsub", {})}
        return {"transport": "pubsub", **settings, "pubsub": pubsub}

    async def point_webhooks_at(self, worker: Running, **options: Any) -> None:
        base = f"http://127.0.0.1:{worker.http_port}/webhooks/pos"
        names = ["ORDER", "ORDER_UPDATE", "RETURN", "BOPIS_EXPORT", "BOFIS_EXPORT", "STORE_FULFILLMENT"]
        await self.pos_admin("POST", "webhooks", {
            "urls": {name: f"{base}/{name}" for name in names},
            "headers": {"Authorization": f"Bearer {WEBHOOK_KEY}"}, **options,
        })


def cursor_key(transport: str) -> str:
    """Where the worker stores the replay id of ``transport`` (Pub/Sub's opaque one under its own key)."""
    return CHANNEL if transport == "cometd" else f"pubsub:{CHANNEL}"


async def imported_ids(stack: Stack) -> list[str]:
    """externalOrderId (the FO Id) of every order the POS has imported, repeats included."""
    body = await stack.pos_admin("GET", "orders")
    return [o["externalOrderId"] for o in body.get("orders", body)]


async def new_sales(stack: Stack, count: int) -> set[str]:
    """Ring up ``count`` in-store card sales at store 256; their POS order ids."""
    sales = [await stack.pos_admin("POST", "sales", {"kind": "in_store", "tender": "card", "store": "256"})
             for _ in range(count)]
    return {sale["orderId"] for sale in sales}


async def posted_orders(stack: Stack) -> list[dict[str, Any]]:
    """Orders the worker posted for POS sales (POS order ids start with S-; scenario web orders with WEB-)."""
    rows = (await stack.sf_admin("GET", "records/Order"))["records"]
    return [r for r in rows if str(r.get("OrderReferenceNumber") or "").startswith("S-")]


async def references(stack: Stack) -> list[str]:
    """OrderReferenceNumber of every posted sale's Order, repeats included."""
    return [r["OrderReferenceNumber"] for r in await posted_orders(stack)]


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``check`` until it is true; fail with ``what`` after ``timeout`` seconds (a bound, not a speed test)."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def emulators(*, sales_seed: dict[str, Any] | None = SALES_SEED, seed: str = "demo",
                    **sf_settings: Any) -> AsyncIterator[Stack]:
    """Both emulators on loopback; the org gets ``seed`` (emulator --seed) plus ``sales_seed`` (None: no POS setup
    records)."""
    sf = await start_sf_emulator(SfEmulatorSettings(seed=seed, **sf_settings))
    pos = await start_pos_emulator(None)
    async with aiohttp.ClientSession() as http:
        stack = Stack(sf.url, pos.url, http, sf, pos)
        if sales_seed is not None:
            await stack.sf_admin("POST", "seed", sales_seed)
        try:
            yield stack
        finally:
            await pos.stop()
            await sf.stop()


@asynccontextmanager
async def worker(stack: Stack, tmp: Path, *, transport: str = "cometd", **overrides: Any) -> AsyncIterator[Running]:
    """The worker in-process against ``stack``, on ``transport`` (cometd | pubsub); returns once subscribed."""
    store_url = overrides.pop("store_url", f"sqlite:///{tmp / 'state.db'}")
    overrides["stream"] = stack.stream(transport, **overrides.get("stream", {}))
    config = worker_config(stack.sf_url, stack.pos_url, store_url, **overrides)
    stop = asyncio.Event()
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()

    def started(running: Running) -> None:
        ready.set_result(running)

    task = asyncio.create_task(serve(config, stop, started=started))
    try:
        running = await asyncio.wait_for(asyncio.shield(ready), timeout=30)
    except BaseException:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        raise
    stack.workers.append(running)
    await stack.point_webhooks_at(running)

    async def ready() -> bool:  # accepting webhooks (/readyz) and subscribed to the stream (/status says both)
        async with stack.http.get(f"http://127.0.0.1:{running.http_port}/status") as resp:
            body = await resp.json()
            return bool(body["ready"]) and await stack.stream_positioned(body)

    await eventually(ready, timeout=30, what="worker ready and subscribed")
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
        stack.workers.remove(running)
