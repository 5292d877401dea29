"""Benchmark scenarios against running emulators and a running worker; each returns a dict of figures."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

NON_API_KINDS = ("cometd", "oauth", "pubsub")  # streaming and login: not in the REST allowance
CLIENTS = 32  # concurrent senders in a burst (tills, associates' devices)


def api_calls(counters: dict[str, Any]) -> int:
    """REST API calls as Salesforce counts them (the org's 24 h allowance): not OAuth, not streaming."""
    kinds = counters.get("by_kind") or counters.get("kinds") or {}
    if isinstance(kinds, dict) and kinds:
        return sum(int(v) for k, v in kinds.items() if not str(k).startswith(NON_API_KINDS))
    return int(counters.get("api_calls", counters.get("total", 0)))


class Bench:
    def __init__(self, http: aiohttp.ClientSession, sf_url: str, pos_url: str) -> None:
        self.http, self.sf_url, self.pos_url = http, sf_url, pos_url

    async def call(self, method: str, url: str, body: Any = None) -> Any:
        async with self.http.request(method, url, json=body) as resp:
            text = await resp.text()
            if resp.status >= 300:
                raise RuntimeError(f"{method} {url} -> {resp.status}: {text[:300]}")
            return await resp.json(content_type=None) if text else None

    async def sf(self, method: str, path: str, body: Any = None) -> Any:
        return await self.call(method, f"{self.sf_url}/__admin/{path}", body)

    async def pos(self, method: str, path: str, body: Any = None) -> Any:
        return await self.call(method, f"{self.pos_url}/__admin/{path}", body)

    async def calls(self) -> int:
        return api_calls(await self.sf("GET", "counters"))

    async def pos_orders(self) -> list[dict[str, Any]]:
        body = await self.pos("GET", "orders")
        return list(body.get("orders", body))

    async def pos_order_count(self) -> int:
        return int((await self.pos("GET", "stats"))["orders_imported"])

    async def sf_count(self, sobject: str) -> int:
        return int((await self.sf("GET", f"records/{sobject}?count=true"))["totalSize"])

    async def until(self, check: Callable[[], Awaitable[bool]], limit: float) -> float:
        started = time.monotonic()
        while not await check():
            if time.monotonic() - started > limit:
                raise TimeoutError("benchmark condition not reached")
            await asyncio.sleep(0.02)
        return time.monotonic() - started

    async def together(self, calls: list[Callable[[], Awaitable[Any]]], width: int = CLIENTS) -> list[Any]:
        """Run ``calls`` with ``width`` at a time, as a burst from many tills would arrive."""
        slots = asyncio.Semaphore(width)

        async def one(call: Callable[[], Awaitable[Any]]) -> Any:
            async with slots:
                return await call()

        return list(await asyncio.gather(*(one(c) for c in calls)))

    async def import_run(self, count: int, *, limit: float = 240) -> dict[str, Any]:
        """Create ``count`` BOPIS FOs at once; measure the import rate and API calls per FO."""
        before_orders = await self.pos_order_count()
        before = await self.calls()
        started = time.monotonic()
        for start in range(0, count, 500):
            await self.sf("POST", "scenario/orders", {"count": min(500, count - start), "kind": "BOPIS",
                                                       "store": "256"})
        created = time.monotonic() - started  # the emulator building the orders, on the same cores

        async def done() -> bool:
            return await self.pos_order_count() >= before_orders + count

        await self.until(done, limit)
        elapsed = time.monotonic() - started
        used = await self.calls() - before
        return {"count": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed, 1),
                "api_calls": used, "calls_per_fo": round(used / count, 4),
                "emulator_create_seconds": round(created, 3)}

    async def latency_run(self, samples: int) -> dict[str, Any]:
        """Added latency, FO event published -> POS order created, one order at a time (p50/p95/p99, ms).

        The start is taken just before the admin call that creates the FO and publishes its event; the end is the
        POS order's ``createdDate`` (the same wall clock: both emulators run in one process on this machine).
        """
        waits = []
        for _ in range(samples):
            before = await self.pos_order_count()
            started_ms = time.time() * 1000
            created = await self.sf("POST", "scenario/orders", {"count": 1, "kind": "BOPIS", "store": "256"})
            fo_id = created["orders"][0]["fulfillment_order_id"]

            async def done(before: int = before) -> bool:
                return await self.pos_order_count() > before

            await self.until(done, 30)
            order = next(o for o in await self.pos_orders() if o["externalOrderId"] == fo_id)
            waits.append(max(0.0, order["createdDate"] - started_ms))
            await asyncio.sleep(0.05)  # one at a time: no batching helps these
        waits.sort()

        def pct(p: float) -> float:
            return round(waits[min(len(waits) - 1, int(p * len(waits)))], 1)

        return {"samples": samples, "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
                "mean_ms": round(statistics.fmean(waits), 1)}

    async def fulfilled_count(self) -> int:
        return int((await self.sf("GET", "records/FulfillmentOrder?where=Status:Fulfilled&count=true"))["totalSize"])

    async def latency_under_load(self, rate: float = 100.0, seconds: float = 10.0, *, tick: float = 0.1,
                                 limit: float = 120) -> dict[str, Any]:
        """Added latency, FO created -> POS order created, for every FO of a steady ``rate`` per second.

        Every ``tick`` the driver creates ``rate * tick`` BOPIS FOs in one admin call (their events publish when it
        commits); each FO's start is taken just before that call, its end is its POS order's ``createdDate``.
        """
        per_tick = max(1, round(rate * tick))
        started: dict[str, float] = {}
        loop_start = time.monotonic()
        ticks = int(seconds / tick)
        for n in range(ticks):
            await asyncio.sleep(max(0.0, loop_start + n * tick - time.monotonic()))
            at_ms = time.time() * 1000
            made = await self.sf("POST", "scenario/orders", {"count": per_tick, "kind": "BOPIS", "store": "256"})
            started.update({o["fulfillment_order_id"]: at_ms for o in made["orders"]})
        offered = len(started) / max(time.monotonic() - loop_start, 1e-9)
        waits: list[float] = []

        async def all_in() -> bool:
            waits.clear()
            for order in await self.pos_orders():
                if order["externalOrderId"] in started:
                    waits.append(max(0.0, order["createdDate"] - started[order["externalOrderId"]]))
            return len(waits) >= len(started)

        await self.until(all_in, limit)
        waits.sort()

        def pct(p: float) -> float:
            return round(waits[min(len(waits) - 1, int(p * len(waits)))], 1)

        return {"events": len(waits), "offered_per_second": round(offered, 1), "p50_ms": pct(0.50),
                "p95_ms": pct(0.95), "p99_ms": pct(0.99), "max_ms": round(waits[-1], 1)}

    async def sales_run(self, count: int, *, kind: str = "in_store", limit: float = 240,
                        fulfilled: bool = False) -> dict[str, Any]:
        """A burst of ``count`` in-store sales through the POS emulator; posting rate and calls per sale.

        Done when every sale has its OrderSummary, or (``fulfilled``) its take-with FulfillmentOrder is Fulfilled:
        the last step of a take-with sale in either summary mode (only posted sales reach Fulfilled in the bench).
        """
        count_done = self.fulfilled_count if fulfilled else lambda: self.sf_count("OrderSummary")
        before_orders = await count_done()
        before = await self.calls()
        started = time.monotonic()
        body = {"kind": kind, "tender": "card", "store": "256"}
        await self.together([lambda: self.pos("POST", "sales", body)] * count)
        await self.pos("POST", "webhooks/drain")  # every sale's webhook answered by the worker (queued durably)
        intake = time.monotonic() - started

        async def done() -> bool:
            return await count_done() >= before_orders + count

        await self.until(done, limit)
        elapsed = time.monotonic() - started
        used = await self.calls() - before
        return {"count": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed, 1),
                "api_calls": used, "calls_per_sale": round(used / count, 3),
                "webhooks_accepted_per_second": round(count / intake, 1)}

    async def status_run(self, orders: list[dict[str, Any]], *, limit: float = 240) -> dict[str, Any]:
        """PACK every given POS order; measure the write-back rate and calls per status change."""
        ids = {o["externalOrderId"] for o in orders}
        before = await self.calls()
        started = time.monotonic()
        await self.together([
            lambda order=order: self.pos("POST", f"fulfillmentorders/{order['orderId']}/events", {"eventType": "PACK"})
            for order in orders])

        async def done() -> bool:
            packed = await self.sf("GET", "records/FulfillmentOrder?where=Status:Pickpack")
            return sum(1 for r in packed["records"] if r["Id"] in ids) >= len(ids)

        await self.until(done, limit)
        elapsed = time.monotonic() - started
        used = await self.calls() - before
        return {"count": len(ids), "seconds": round(elapsed, 3), "per_second": round(len(ids) / elapsed, 1),
                "api_calls": used, "calls_per_status": round(used / max(1, len(ids)), 3)}


async def emulator_rest_rate(http: aiohttp.ClientSession, sf_url: str, token: str, record_id: str,
                             *, seconds: float = 3.0, clients: int = 64) -> dict[str, Any]:
    """REST requests/s the Salesforce emulator serves (one process, one event loop: one core).

    ``clients`` loops GET one FulfillmentOrder by id, then the same through a SOQL query, for ``seconds`` each.
    The load comes from this process, so the figure is a lower bound of the emulator's capacity.
    """
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{sf_url}/services/data/v62.0"
    soql = f"SELECT Id, Status FROM FulfillmentOrder WHERE Id = '{record_id}'"
    shapes = {"get_record": (f"{base}/sobjects/FulfillmentOrder/{record_id}", None),
              "soql_by_id": (f"{base}/query", {"q": soql})}
    out: dict[str, Any] = {}
    for name, (url, params) in shapes.items():
        done, errors = 0, 0
        deadline = time.monotonic() + seconds

        async def loop(url: str = url, params: dict[str, str] | None = params, deadline: float = deadline) -> None:
            nonlocal done, errors
            while time.monotonic() < deadline:
                async with http.get(url, params=params, headers=headers) as resp:
                    await resp.read()
                    if resp.status == 200:
                        done += 1
                    else:
                        errors += 1

        started = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(clients)))
        out[f"{name}_per_second"] = round(done / (time.monotonic() - started), 1)
        out[f"{name}_errors"] = errors
    return out
