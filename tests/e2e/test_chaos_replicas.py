"""Real worker processes under signals: two PostgreSQL replicas, one SIGKILLed every few seconds during a burst
of orders, sales and store events; and a SIGTERM drain. Nothing is lost and nothing is done twice.

Scale the burst with OMS_CHAOS_SCALE (1.0 = 2,000 orders and 1,000 sales, the issue's figures; default 0.25).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import yaml

from worker.store import open_store

from .harness import TRANSPORTS, WEBHOOK_KEY, Stack, emulators, eventually, imported_ids, posted_orders, raw_config
from .test_crash_restart import free_port, start_worker

pytestmark = pytest.mark.e2e
PG = "postgresql://postgres@127.0.0.1:5432/test"
SCALE = float(os.environ.get("OMS_CHAOS_SCALE", "0.25"))
HOOKS = ("ORDER", "ORDER_UPDATE", "RETURN", "BOPIS_EXPORT", "BOFIS_EXPORT", "STORE_FULFILLMENT")


class Replica:
    """One ``oms-worker run`` process; its log file lives in the test's tmp dir."""

    def __init__(self, stack: Stack, tmp: Path, name: str, store_url: str, **worker: Any) -> None:
        self.stack, self.port, self.log = stack, free_port(), tmp / f"{name}.log"
        raw = raw_config(stack.sf_url, stack.pos_url, store_url, http={"host": "127.0.0.1", "port": self.port},
                         worker_id=f"replica-{name}", log_level="INFO", **worker)
        raw["pos"]["rate_limit_per_second"] = 10  # the production default, per replica (the POS allows 10/s)
        self.config = tmp / f"{name}.yaml"
        self.config.write_text(yaml.safe_dump(raw))
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, hook: str) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/pos/{hook}"

    def start(self) -> None:
        self.proc = start_worker(self.config, self.log)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    async def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.proc.wait, timeout)

    async def stop_quietly(self) -> None:
        """For ``finally`` blocks: SIGKILL what still runs (a clean exit is asserted on the success path)."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    async def ready(self) -> None:
        async def ok() -> bool:  # accepting webhooks and its stream positioned (see Stack.stream_positioned)
            try:
                async with self.stack.http.get(f"http://127.0.0.1:{self.port}/status") as resp:
                    body = await resp.json()
            except (OSError, aiohttp.ClientError, ValueError):
                return False
            return bool(body.get("ready")) and await self.stack.stream_positioned(body)

        await eventually(ok, timeout=30, what=f"{self.log.stem} ready")


@asynccontextmanager
async def pg_schema() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema for one test, dropped at the end."""
    conn = await asyncpg.connect(PG)
    schema = f"chaos_{uuid.uuid4().hex[:10]}"
    await conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


async def check_posted_once(stack: Stack, sales: set[str]) -> None:
    orders = await posted_orders(stack)
    assert sorted(o["OrderReferenceNumber"] for o in orders) == sorted(sales), "a sale missing or posted twice"
    assert {o["Status"] for o in orders} == {"Activated"}
    ids = {o["Id"] for o in orders}
    rows = (await stack.sf_admin("GET", "records/OrderSummary"))["records"]
    summaries = Counter(r["OriginalOrderId"] for r in rows if r["OriginalOrderId"] in ids)
    assert set(summaries) == ids and set(summaries.values()) == {1}, "one OrderSummary per posted sale"


async def busy_queues(store_url: str) -> dict[str, dict[str, int]]:
    """Queues holding pending, leased or dead jobs (empty when all accepted work is done)."""
    store = await open_store(store_url)
    try:
        return {q: c for q, c in (await store.queue_counts()).items() if c["pending"] + c["processing"] + c["dead"]}
    finally:
        await store.close()


async def dead_letter_errors(store_url: str) -> list[tuple[str, str | None, str]]:
    """(queue, ordering key, last error) of the first dead letters, so a failed run says why they died."""
    store = await open_store(store_url)
    try:
        dead = await store.dead_letters(limit=5)
        return [(job.queue, job.ordering_key, (job.last_error or "")[:300]) for job in dead]
    finally:
        await store.close()


async def slowly(check: Callable[[], Awaitable[bool]], last: dict[str, Any], *, timeout: float, what: str) -> None:
    """``eventually`` for heavy checks (they share the event loop with both emulators): every 0.5 s, and the last
    observation in the failure message."""

    async def paced() -> bool:
        await asyncio.sleep(0.5)
        return await check()

    try:
        await eventually(paced, timeout=timeout, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {last}") from None


@pytest.mark.chaos
@pytest.mark.postgres
@pytest.mark.timeout(300 + 600 * SCALE)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_two_replicas_with_kills_import_post_and_write_back_everything_once(tmp_path: Path,
                                                                                 transport: str) -> None:
    """One of two PostgreSQL replicas SIGKILLed every 1.5-4 s: FOs imported once, sales posted once, statuses right
    (both replicas subscribe, on CometD or on the Pub/Sub API, and share one stored cursor)."""
    n_orders, n_sales = max(40, int(2000 * SCALE)), max(20, int(1000 * SCALE))
    rng = random.Random(11)
    async with pg_schema() as schema, emulators() as stack:
        store_url = f"{PG}?schema={schema}"
        a, b = (Replica(stack, tmp_path, name, store_url, lease_seconds=3, stream=stack.stream(transport))
                for name in ("a", "b"))
        cleanups: list[asyncio.Future[None]] = []
        try:
            for replica in (a, b):
                replica.start()
            await a.ready()
            await b.ready()
            # Sales arrive at the replica that keeps dying (a webhook it cannot answer stays failed in the POS until
            # reposted, as the real POS does); store events at the other one.
            await stack.pos_admin("POST", "webhooks", {"urls": {h: (a if h in ("ORDER", "ORDER_UPDATE") else b).url(h)
                                                                for h in HOOKS},
                                                       "headers": {"Authorization": f"Bearer {WEBHOOK_KEY}"}})
            stop, kills = asyncio.Event(), [0]

            async def killer() -> None:
                while not stop.is_set():
                    await asyncio.sleep(rng.uniform(1.5, 4.0))
                    a.kill()
                    kills[0] += 1
                    await asyncio.sleep(rng.uniform(0.1, 0.8))
                    a.start()

            chaos = asyncio.ensure_future(killer())
            cleanups.append(chaos)
            fos: set[str] = set()
            sales: set[str] = set()
            chunks = 8
            for _ in range(chunks):
                created = await stack.sf_admin("POST", "scenario/orders", {"count": n_orders // chunks,
                                                                           "kind": "BOPIS", "store": "256"})
                fos |= {o["fulfillment_order_id"] for o in created["orders"]}
                for _ in range(n_sales // chunks):
                    sale = await stack.pos_admin("POST", "sales", {"kind": "in_store", "tender": "card"})
                    sales.add(sale["orderId"])
                await asyncio.sleep(0.5)

            # Store associates act on the first imported FOs while the kills go on.
            wanted_events, last = max(12, len(fos) // 10), dict[str, Any]()

            async def enough_imported() -> bool:
                last["imported"] = len(set(await imported_ids(stack)) & fos)
                return last["imported"] >= wanted_events

            await slowly(enough_imported, last, timeout=120, what="the first orders imported")
            in_pos = (await stack.pos_admin("GET", "orders"))["orders"]
            pos_orders = {o["externalOrderId"]: o["orderId"] for o in in_pos}
            expected = {fo: "Allocated" for fo in fos}
            plans = [(["PACK"], "Pickpack"), (["PACK", "DELIVERED"], "Fulfilled"), (["CANCELED"], "Cancelled")]
            for i, fo in enumerate(sorted(set(pos_orders) & fos)[:wanted_events]):
                events, expected[fo] = plans[i % 3]
                for event in events:
                    await stack.pos_admin("POST", f"fulfillmentorders/{pos_orders[fo]}/events", {"eventType": event})

            # A bound, not a speed test: the POS takes 10 imports/s, so the bound grows with the burst.
            await slowly(lambda: _imported_and_posted(stack, fos, sales, last), last, timeout=120 + n_orders * 0.3,
                         what="imports and posts")
            stop.set()
            await chaos
            assert kills[0] >= 5
            if a.proc is not None and a.proc.poll() is not None:
                a.start()
            await a.ready()

            async def settled() -> bool:
                if await _failed_reposted(stack, last):
                    return False
                current = {r["Id"]: r["Status"] for r in (await stack.sf_admin("GET", "records/FulfillmentOrder"))
                           ["records"] if r["Id"] in fos}
                last["wrong statuses"] = {fo: (current.get(fo), want) for fo, want in expected.items()
                                          if current.get(fo) != want}
                last["busy queues"] = await busy_queues(store_url)
                last["dead letters"] = await dead_letter_errors(store_url)
                return not last["wrong statuses"] and not last["busy queues"]

            await slowly(settled, last, timeout=120, what="statuses written back and queues idle")
            ids = await imported_ids(stack)
            assert sorted(ids) == sorted(fos), "an FO missing from the POS or imported twice"
            await check_posted_once(stack, sales)
            for replica in (a, b):
                assert await replica.terminate() == 0, replica.log.read_text()[-3000:]
        finally:
            for task in cleanups:
                task.cancel()
            await asyncio.gather(*cleanups, return_exceptions=True)
            for replica in (a, b):
                await replica.stop_quietly()


async def _failed_reposted(stack: Stack, last: dict[str, Any]) -> bool:
    """Repost what the POS holds as failed (the operator's move; the POS never retries alone); True if any."""
    failed = (await stack.pos_admin("GET", "webhooks/failed"))["failed"]
    last["failed webhooks"] = [(f["endpoint"], f["orderId"], f["eventType"]) for f in failed[:5]]
    if failed:
        await stack.pos_admin("POST", "webhooks/repost")
    return bool(failed)


async def _imported_and_posted(stack: Stack, fos: set[str], sales: set[str], last: dict[str, Any]) -> bool:
    await _failed_reposted(stack, last)
    last["not imported"] = len(fos - set(await imported_ids(stack)))
    last["not posted"] = len(sales - {o["OrderReferenceNumber"] for o in await posted_orders(stack)})
    return not last["not imported"] and not last["not posted"]


async def test_sigterm_drains_in_flight_work_and_a_restart_finishes_it_once(tmp_path: Path) -> None:
    """SIGTERM mid-burst: exit 0 within the grace, accepted work done or queued (none leased); restart ends it once."""
    grace = 3.0
    async with emulators() as stack:
        db = tmp_path / "state.db"
        replica = Replica(stack, tmp_path, "worker", f"sqlite:///{db}", drain_grace_seconds=grace, lease_seconds=30)
        replica.start()
        try:
            await replica.ready()
            await stack.pos_admin("POST", "webhooks", {"urls": {h: replica.url(h) for h in HOOKS},
                                                       "headers": {"Authorization": f"Bearer {WEBHOOK_KEY}"}})
            await stack.sf_admin("POST", "faults", {"latency_ms": 250, "paths": ["/services/data"]})  # slow org
            created = await stack.sf_admin("POST", "scenario/orders", {"count": 60, "kind": "BOPIS", "store": "256"})
            fos = {o["fulfillment_order_id"] for o in created["orders"]}
            sales = {(await stack.pos_admin("POST", "sales", {"kind": "in_store", "tender": "card"}))["orderId"]
                     for _ in range(30)}

            async def working() -> bool:
                return bool(await imported_ids(stack)) and bool(await posted_orders(stack))

            await eventually(working, timeout=60, what="imports and posts under way")
            started = time.monotonic()
            assert await replica.terminate(timeout=grace + 30) == 0, replica.log.read_text()[-3000:]
            assert time.monotonic() - started < grace + 2.5, "did not exit within the drain grace"
            await stack.sf_admin("DELETE", "faults")

            with sqlite3.connect(db) as conn:
                jobs = conn.execute("SELECT queue, state, payload FROM jobs").fetchall()
            assert {state for _, state, _ in jobs} <= {"pending", "done"}, "a job was left leased or dead"
            done_or_queued = {json.loads(p)["sale"]["orderId"] for q, _, p in jobs if q == "sale"}
            log = (await stack.pos_admin("GET", "webhooks/log"))["deliveries"]
            accepted = {d["orderId"] for d in log if d["endpoint"] == "ORDER" and d["status"] == 200}
            assert accepted and accepted <= done_or_queued, "a sale answered 200 is not in the store"
            refs = [o["OrderReferenceNumber"] for o in await posted_orders(stack)]
            assert len(refs) == len(set(refs))
            done = [json.loads(p) for _, state, p in jobs if state == "done"]
            assert {d["sale"]["orderId"] for d in done if "sale" in d} <= set(refs), "a done sale is not in SF"
            assert {d["fo_id"] for d in done if "fo_id" in d} <= set(await imported_ids(stack))

            replica.start()
            await replica.ready()
            await stack.pos_admin("POST", "webhooks/repost")  # what the draining worker refused (503)
            last: dict[str, Any] = {}
            await slowly(lambda: _imported_and_posted(stack, fos, sales, last), last, timeout=90,
                         what="the restart finishing")
            await slowly(lambda: _idle(f"sqlite:///{db}"), last, timeout=30, what="queues idle")
            assert sorted(await imported_ids(stack)) == sorted(fos)
            await check_posted_once(stack, sales)
            assert await replica.terminate() == 0
        finally:
            await replica.stop_quietly()


async def _idle(store_url: str) -> bool:
    return not await busy_queues(store_url)
