"""Issue 15, store outage: a worker process on a PostgreSQL server of the test's own (``private_pg``, never the
shared one) while FOs and sales keep arriving; the server is stopped for 30 s and started again.

The worker must stay up, say so honestly (``/readyz`` 503 with the store check failing, webhooks 503 so the POS
keeps the event for a repost) and, once the server is back, resume by itself: every FO imported once, every sale
posted once (Orders counted per OrderReferenceNumber in the emulated org).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from .harness import WEBHOOK_KEY, emulators, eventually, imported_ids
from .test_chaos_replicas import HOOKS, Replica, _imported_and_posted, busy_queues, check_posted_once, slowly

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]
OUTAGE_SECONDS = 30.0
DETECT_SECONDS = 7.0  # readiness answers are cached 5 s; the store check may need one more round to see it


@pytest.mark.timeout(240)
async def test_postgres_stopped_30_s_under_load_worker_stays_up_and_loses_or_doubles_nothing(
    tmp_path: Path, private_pg: Any,
) -> None:
    """PostgreSQL down 30 s under load: process up, /readyz and webhooks 503, then every FO and sale lands once."""
    async with emulators() as stack:
        replica = Replica(stack, tmp_path, "worker", private_pg.url, lease_seconds=5)
        replica.start()
        probes: list[tuple[float, int | None, list[str]]] = []
        fos: set[str] = set()
        sales: set[str] = set()
        feeding, probing = asyncio.Event(), asyncio.Event()
        tasks: list[asyncio.Future[None]] = []
        try:
            await replica.ready()
            await stack.pos_admin("POST", "webhooks", {"urls": {h: replica.url(h) for h in HOOKS},
                                                       "headers": {"Authorization": f"Bearer {WEBHOOK_KEY}"}})

            async def probe() -> None:
                while not probing.is_set():
                    at = time.time()
                    try:
                        async with stack.http.get(f"http://127.0.0.1:{replica.port}/readyz") as resp:
                            body = await resp.json()
                            probes.append((at, resp.status, sorted(body.get("failing", {}))))
                    except OSError:
                        probes.append((at, None, []))
                    await asyncio.sleep(0.25)

            async def feed() -> None:  # bounded load: 2 FOs and 1 sale a second
                while not feeding.is_set():
                    created = await stack.sf_admin("POST", "scenario/orders", {"count": 2, "kind": "BOPIS",
                                                                               "store": "256"})
                    fos.update(o["fulfillment_order_id"] for o in created["orders"])
                    sale = await stack.pos_admin("POST", "sales", {"kind": "in_store", "tender": "card"})
                    sales.add(sale["orderId"])
                    await asyncio.sleep(1.0)

            tasks += [asyncio.ensure_future(probe()), asyncio.ensure_future(feed())]

            async def some_done() -> bool:
                return bool(set(await imported_ids(stack)) & fos)

            await eventually(some_done, timeout=30, what="first imports before the outage")
            await asyncio.sleep(2.0)

            down_at = time.time()
            await asyncio.to_thread(private_pg.stop)
            while time.time() - down_at < OUTAGE_SECONDS:
                assert replica.proc is not None and replica.proc.poll() is None, (
                    f"worker exited {replica.proc.returncode if replica.proc else None} "
                    f"{time.time() - down_at:.1f} s into the outage:\n" + replica.log.read_text()[-3000:])
                await asyncio.sleep(0.5)
            await asyncio.to_thread(private_pg.start)
            up_at = time.time()
            await asyncio.sleep(3.0)
            feeding.set()
            await tasks[1]

            async def ready() -> bool:
                return any(at > up_at and status == 200 for at, status, _ in probes)

            await eventually(ready, timeout=45, what="/readyz 200 after the store came back")
            probing.set()
            await tasks[0]

            last: dict[str, Any] = {}
            await slowly(lambda: _imported_and_posted(stack, fos, sales, last), last, timeout=90,
                         what="every FO imported and every sale posted after the outage")

            async def idle() -> bool:
                last["busy queues"] = await busy_queues(private_pg.url)
                return not last["busy queues"]

            await slowly(idle, last, timeout=30, what="queues idle")
            assert replica.proc is not None and replica.proc.poll() is None, replica.log.read_text()[-3000:]

            during = [(round(at - down_at, 1), status, failing) for at, status, failing in probes
                      if down_at + DETECT_SECONDS <= at <= up_at]
            assert during, "no readiness probe during the outage"
            wrong = [p for p in during if p[1] != 503 or "store" not in p[2]]
            assert not wrong, f"/readyz during the outage (s into it, status, failing): {wrong[:5]}"
            before = [status for at, status, _ in probes if at < down_at - 0.5]
            assert 200 in before and None not in before

            deliveries = (await stack.pos_admin("GET", "webhooks/log"))["deliveries"]
            statuses = {d["status"] for d in deliveries}
            assert statuses <= {200, 503}, f"webhook answers other than 200/503: {statuses}"
            outage = [d["status"] for d in deliveries
                      if down_at + 1.0 <= d["at"] / 1000 <= up_at - 0.5 and not d["repost"]]
            assert outage and set(outage) == {503}, f"webhook answers during the outage: {outage}"
            assert all(d["status"] == 200 for d in deliveries if d["at"] / 1000 < down_at - 0.5)

            ids = await imported_ids(stack)
            assert sorted(ids) == sorted(fos), "an FO missing from the POS or imported twice"
            await check_posted_once(stack, sales)
            assert await replica.terminate() == 0, replica.log.read_text()[-3000:]
        finally:
            feeding.set()
            probing.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await replica.stop_quietly()
