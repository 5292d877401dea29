"""``oms-worker demo`` (``make demo``): the emulators and the worker through a scripted store day.

Starts ``python -m emulator`` and ``oms-worker run --config config/demo.yaml`` as real processes on loopback,
drives BOPIS/BOFIS orders, store-associate actions and in-store sales of every kind, then prints a summary and
exits 0 only if every expected outcome is observed in the emulators.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_KEY = "demo-webhook-key"
# The org setup a retailer does once for POS sales (seed rules of DESIGN.md flow 2), on top of the emulator's demo
# seed; the e2e harness and the benchmarks load the same.
SALES_SEED: dict[str, Any] = {
    "pricebook": {"Name": "acme-en-US-US", "IsActive": True},
    "sales_channels": [{"SalesChannelName": "POS"}],
    "delivery_methods": [{"Name": "IN_STORE-DEFAULT"}, {"Name": "IN_STORE-PICKUP_LATER"}, {"Name": "ONLINE-DEFAULT"}],
    "payment_gateways": [{"PaymentGatewayName": "Cash"}, {"PaymentGatewayName": "POS"}],
}
SALE_KINDS = [("in_store", "card"), ("pickup_later", "cash"), ("endless_aisle", "wallet"), ("mixed_cart", "split")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


class Demo:
    def __init__(self, workdir: Path, pos: str = "retail_cloud") -> None:
        self.workdir, self.pos = workdir, pos  # pos: the POS back-end (retail_cloud or graphql)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.sf_url = self.pos_url = self.worker_url = self.graphql_url = self.pubsub_target = ""
        self.http: aiohttp.ClientSession | None = None
        self.failures: list[str] = []

    async def call(self, method: str, url: str, body: Any = None) -> Any:
        assert self.http is not None
        async with self.http.request(method, url, json=body) as resp:
            text = await resp.text()
            if resp.status >= 300:
                raise RuntimeError(f"{method} {url} -> {resp.status}: {text[:300]}")
            return json.loads(text) if text else None

    async def until(self, what: str, check: Callable[[], Awaitable[bool]], limit: float = 60) -> bool:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                if await check():
                    _say(f"ok: {what}")
                    return True
            except (aiohttp.ClientError, RuntimeError):
                pass
            await asyncio.sleep(0.25)
        self.failures.append(what)
        _say(f"FAILED: {what}")
        return False

    def start_emulator(self) -> None:
        log = open(self.workdir / "emulator.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--sf-port", "0", "--pos-port", "0",
             "--seed", "demo"], stdout=subprocess.PIPE, stderr=log, cwd=ROOT)
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"emulator did not start; see {self.workdir / 'emulator.log'}")
        urls = json.loads(line)
        self.sf_url, self.pos_url, self.graphql_url = urls["sf_url"], urls["pos_url"], urls.get("graphql_url") or ""
        self.pubsub_target = urls.get("pubsub_target") or ""
        _say(f"emulators: Salesforce {self.sf_url}, POS {self.pos_url}")

    def start_worker(self) -> None:
        port = _free_port()
        env = dict(os.environ, OMS_DEMO_SF_URL=self.sf_url, OMS_DEMO_POS_URL=self.pos_url,
                   OMS_DEMO_GRAPHQL_URL=self.graphql_url, OMS_DEMO_DIR=str(self.workdir), OMS_DEMO_HTTP_PORT=str(port),
                   **({"OMS_DEMO_PUBSUB_TARGET": self.pubsub_target} if self.pubsub_target else {}))
        log = open(self.workdir / "worker.log", "wb")
        config = ROOT / ("config/demo-graphql.yaml" if self.pos == "graphql" else "config/demo.yaml")
        proc = subprocess.Popen([sys.executable, "-m", "worker.cli", "run", "--config", str(config)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        self.procs.append(proc)
        self.worker_url = f"http://127.0.0.1:{port}"
        _say(f"worker: {self.worker_url} (logs: {self.workdir / 'worker.log'})")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    async def store_day(self) -> dict[str, Any]:
        if self.pos == "graphql":
            from worker.demo_graphql import graphql_store_day

            return await graphql_store_day(self, SALES_SEED)
        sf, pos = f"{self.sf_url}/__admin", f"{self.pos_url}/__admin"
        await self.call("POST", f"{sf}/seed", SALES_SEED)
        ok = await self.until("worker ready (/readyz 200)",
                              lambda: self._status(f"{self.worker_url}/readyz", 200), limit=60)
        if not ok:
            return {}
        names = ["ORDER", "ORDER_UPDATE", "RETURN", "BOPIS_EXPORT", "BOFIS_EXPORT", "STORE_FULFILLMENT"]
        await self.call("POST", f"{pos}/webhooks", {
            "urls": {n: f"{self.worker_url}/webhooks/pos/{n}" for n in names},
            "headers": {"Authorization": f"Bearer {WEBHOOK_KEY}"}})
        await self.call("POST", f"{sf}/counters/reset")
        _say("online orders arrive: 3 BOPIS, 2 BOFIS and 1 ship-from-warehouse (not for the store)")
        bopis = (await self.call("POST", f"{sf}/scenario/orders", {"count": 3, "kind": "BOPIS", "store": "256"}))
        bofis = (await self.call("POST", f"{sf}/scenario/orders", {"count": 2, "kind": "BOFIS", "store": "257"}))
        await self.call("POST", f"{sf}/scenario/orders", {"count": 1, "kind": "SHIP", "store": "258"})
        fos = [o["fulfillment_order_id"] for o in bopis["orders"] + bofis["orders"]]

        async def imported() -> bool:
            orders = await self.call("GET", f"{pos}/orders")
            got = {o.get("externalOrderId") for o in orders.get("orders", orders)}
            return set(fos) <= got and len(got) == len(fos)

        await self.until("5 store orders imported into the POS (and not the warehouse order)", imported, 60)
        pos_orders = {o["externalOrderId"]: o for o in (await self.call("GET", f"{pos}/orders")).get("orders", [])}

        def pos_id(fo: str) -> str:
            return str(pos_orders[fo]["orderId"])

        _say("store associates pack, hand over, ship and cancel")
        b1, b2, b3, f1, f2 = fos
        actions = [(b1, "PACK"), (b1, "DELIVERED"), (b2, "PACK"), (f1, "PACK"), (f1, "SHIPPED"), (f2, "CANCELED")]
        for fo, event in actions:
            await self.call("POST", f"{pos}/fulfillmentorders/{pos_id(fo)}/events", {"eventType": event})
        lines = pos_orders[b3].get("orderProductList", [])
        if lines:
            first = lines[0]
            await self.call("POST", f"{pos}/fulfillmentorders/{pos_id(b3)}/events", {
                "eventType": "CANCELED", "items": [{"orderItemId": first["orderItemId"], "quantity": 1}]})
        expected = {b1: "Fulfilled", b2: "Pickpack", f1: "Fulfilled", f2: "Cancelled"}

        async def statuses() -> bool:
            rows = (await self.call("GET", f"{sf}/records/FulfillmentOrder"))
            current = {r["Id"]: r["Status"] for r in rows.get("records", rows)}
            return all(current.get(fo) == status for fo, status in expected.items())

        await self.until("FO statuses written back (Fulfilled, Pickpack, Fulfilled, Cancelled)", statuses, 60)

        _say("in-store sales of every kind, an exchange and a return")
        sale_ids = []
        for kind, tender in SALE_KINDS:
            sale = await self.call("POST", f"{pos}/sales", {"kind": kind, "tender": tender, "store": "256"})
            sale_ids.append(str(sale["orderId"]))
        # Only fulfilled quantity can be returned in OMS: the return and the exchange take back goods of in-store
        # take-with sales (fulfilled when posted), not of the pickup-later one (the store has not handed it over).
        taken = await self.call("POST", f"{pos}/sales", {"kind": "in_store", "tender": "card", "store": "256"})
        sale_ids.append(str(taken["orderId"]))

        async def posted() -> bool:
            rows = await self.call("GET", f"{sf}/records/Order")
            refs = {r.get("OrderReferenceNumber") for r in rows.get("records", rows)}
            return set(sale_ids) <= refs

        await self.until(f"{len(sale_ids)} sales posted as Orders with OrderSummaries", posted, 60)

        await self.call("POST", f"{pos}/sales", {"kind": "return", "tender": "card", "store": "256",
                                                 "original_order_id": sale_ids[0],
                                                 "return_lines": [{"orderItemId": "1", "quantity": 1}]})
        exchange = await self.call("POST", f"{pos}/sales", {"kind": "exchange", "tender": "card", "store": "256",
                                                            "original_order_id": sale_ids[-1]})

        async def refunded() -> bool:
            memos = await self.call("GET", f"{sf}/records/CreditMemo")
            return len(memos.get("records", memos)) >= 2

        async def exchange_posted() -> bool:
            rows = await self.call("GET", f"{sf}/records/Order")
            return str(exchange["orderId"]) in {r.get("OrderReferenceNumber") for r in rows.get("records", rows)}

        await self.until("a return and an exchange refunded (2 credit memos)", refunded, 60)
        await self.until("the exchange's new items posted as an Order", exchange_posted, 60)
        counters = await self.call("GET", f"{sf}/counters")
        return {"fulfillment_orders": len(fos), "sales": len(sale_ids) + 1, "counters": counters}

    async def _status(self, url: str, want: int) -> bool:
        assert self.http is not None
        async with self.http.get(url) as resp:
            return resp.status == want

    async def summary(self, day: dict[str, Any]) -> None:
        metrics = ""
        try:
            assert self.http is not None
            async with self.http.get(f"{self.worker_url}/metrics") as resp:
                metrics = await resp.text()
        except aiohttp.ClientError:
            pass

        def metric(name: str) -> str:
            total = sum(float(line.split()[-1]) for line in metrics.splitlines()
                        if line.startswith(name) and not line.startswith("#"))
            return f"{total:.0f}"

        counters = day.get("counters", {})
        rows = [
            ("orders imported into the POS", metric("oms_fo_imported_total")),
            ("sales posted to Salesforce", metric("oms_sales_posted_total")),
            ("statuses patched / lines canceled", metric("oms_statuses_patched_total")),
            ("Salesforce API calls used", str(counters.get("total", counters.get("api_calls", "?")))),
            ("dead letters", metric("oms_dead_letters_total")),
            ("logs", str(self.workdir)),
        ]
        width = max(len(k) for k, _ in rows)
        print("\n" + "=" * (width + 24))
        for key, value in rows:
            print(f"  {key:<{width}}  {value}")
        print("=" * (width + 24))
        print("  result: " + ("PASS, every expected outcome observed" if not self.failures
                              else "FAIL: " + "; ".join(self.failures)))


async def _main(workdir: Path, pos: str) -> int:
    demo = Demo(workdir, pos)
    try:
        demo.start_emulator()
        demo.start_worker()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            demo.http = http
            day = await demo.store_day()
            await demo.summary(day)
    except Exception as exc:
        demo.failures.append(f"{type(exc).__name__}: {exc}")
        _say(f"FAILED: {exc}")
    finally:
        demo.stop()
    return 0 if not demo.failures else 1


def missing_for_demo() -> str | None:
    """Why ``oms-worker demo`` cannot run here, or None: it needs a source checkout and the ``emulator`` extra."""
    if not (ROOT / "emulator" / "__main__.py").is_file() or not (ROOT / "config" / "demo.yaml").is_file():
        return (f"oms-worker demo runs the emulators from a source checkout, and {ROOT} has no emulator/ or "
                "config/demo.yaml: clone the repository and run `make demo` there")
    if importlib.util.find_spec("lark") is None:
        return ("oms-worker demo needs the emulator extra (the emulator's SOQL parser, lark, is not installed): "
                "run `make demo`, or pip install -e '.[emulator]' in the checkout")
    return None


def run_demo(workdir: str, pos: str = "retail_cloud") -> int:
    problem = missing_for_demo()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    path = Path(workdir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    for stale in ("state.db", "state.db-wal", "state.db-shm"):
        (path / stale).unlink(missing_ok=True)
    return asyncio.run(_main(path, pos))
