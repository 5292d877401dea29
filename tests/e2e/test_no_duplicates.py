"""Issue 15: nothing posted twice. Each test drives a sale-posting situation that used to double-book sales (a lease
shorter than a slow graph, a drain that outlives the grace, ``dlq retry`` of a committed sale, two PostgreSQL
replicas) and then counts the Orders in the emulated org: exactly one Order per POS sale (by OrderReferenceNumber),
one OrderSummary per Order, every sale posted. Faults are injected with the Salesforce emulator's ``/__admin/faults``
(latency or errors on the paths that contain a given substring; the delay is served before the request is handled,
so a slow call commits at its end, and a caller that gives up does not stop it from committing).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from worker.store import open_store

from .harness import WEBHOOK_KEY, Stack, emulators, eventually, new_sales, posted_orders, raw_config, worker
from .test_chaos_replicas import HOOKS, PG, Replica, pg_schema
from .test_crash_restart import ROOT

pytestmark = pytest.mark.e2e

GRAPH = "/composite/graph"
SUMMARIES = "/commerce/order-management/order-summaries"

# worker.effect_settle_seconds: a sale whose posting may have started is looked up by OrderReferenceNumber only
# after this settle window (default: salesforce.request_timeout_seconds, 60 s, far longer than these tests).
SETTLE: dict[str, Any] = {"effect_settle_seconds": 1.0}  # a sent graph is looked up 1 s later


async def unfinished_queues(store_url: str) -> dict[str, dict[str, int]]:
    """{queue: counts} of the queues still holding pending or leased jobs (empty: nothing left to do)."""
    store = await open_store(store_url)
    try:
        return {q: c for q, c in (await store.queue_counts()).items() if c["pending"] or c["processing"]}
    finally:
        await store.close()


async def dead_jobs(store_url: str) -> list[int]:
    """Ids of the dead-lettered sale jobs."""
    store = await open_store(store_url)
    try:
        return [job.id for job in await store.dead_letters("sale", limit=1000)]
    finally:
        await store.close()


async def summary_count(stack: Stack) -> int:
    return int((await stack.sf_admin("GET", "records/OrderSummary?count=true"))["totalSize"])


async def all_posted(stack: Stack, sales: set[str], store_url: str, *, timeout: float, landed_after: float) -> None:
    """Wait until every sale has an Order and no sale job is pending or leased, then ``landed_after`` seconds more:
    the longest injected delay, so that a slow call sent before the queues went idle has committed before counting."""
    last: dict[str, Any] = {}

    async def done() -> bool:
        await asyncio.sleep(0.2)  # heavy checks share the event loop with both emulators and the worker
        last["not posted"] = sorted(sales - {o["OrderReferenceNumber"] for o in await posted_orders(stack)})
        last["busy"] = await unfinished_queues(store_url)
        return not last["not posted"] and not last["busy"]

    try:
        await eventually(done, timeout=timeout, what="every sale posted and the queues idle")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {last}") from None
    await asyncio.sleep(landed_after)


async def warm_sale(stack: Stack, store_url: str) -> set[str]:
    """Post one sale of every catalog SKU before any fault: the products, price book entries and the account exist
    and are cached, so the sales under test never race to create them (that retry path is not what these pin)."""
    lines = [{"sku": f"SKU-000{n}", "quantity": 1} for n in range(1, 6)]
    sale = await stack.pos_admin("POST", "sales", {"kind": "in_store", "tender": "card", "store": "256",
                                                     "lines": lines})
    await all_posted(stack, {sale["orderId"]}, store_url, timeout=30, landed_after=0)
    return {sale["orderId"]}


async def check_one_order_per_sale(stack: Stack, sales: set[str]) -> None:
    """Exactly one Order per sale (by OrderReferenceNumber) and one OrderSummary per Order; counts in the message."""
    orders = await posted_orders(stack)
    per_sale = Counter(o["OrderReferenceNumber"] for o in orders)
    assert set(per_sale) == sales, f"sales without an Order: {sorted(sales - set(per_sale))}"
    twice = {ref: n for ref, n in sorted(per_sale.items()) if n > 1}
    assert not twice, f"{len(sales)} sales -> {len(orders)} Orders; posted more than once: {twice}"
    ids = {o["Id"] for o in orders}
    rows = (await stack.sf_admin("GET", "records/OrderSummary"))["records"]
    summaries = Counter(r["OriginalOrderId"] for r in rows if r["OriginalOrderId"] in ids)
    assert set(summaries) == ids and set(summaries.values()) == {1}, (
        f"{len(ids)} Orders, {sum(summaries.values())} OrderSummaries; "
        f"Orders without one: {sorted(ids - set(summaries))}")


# cold (the issue's run): the sales' graphs also create the products, graphs racing for one PricebookEntry are
# retried, the sales spread over several claims; warm: the catalog exists, the 10 sales share one claim and request.
@pytest.mark.parametrize("catalog", ["cold", "warm"])
async def test_a_batch_outliving_its_lease_posts_each_sale_once(tmp_path: Path, catalog: str) -> None:
    """Graphs slower (3 s) than the lease (2 s): the lease is renewed, nobody re-posts a sale in flight."""
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    async with emulators() as stack, worker(stack, tmp_path, store_url=store_url, lease_seconds=2, **SETTLE):
        warm = await warm_sale(stack, store_url) if catalog == "warm" else set()
        await stack.sf_admin("POST", "faults", {"latency_ms": 3000, "paths": [GRAPH]})
        sales = await new_sales(stack, 10)
        await all_posted(stack, sales, store_url, timeout=60, landed_after=3.5)
        await check_one_order_per_sale(stack, warm | sales)
        assert await dead_jobs(store_url) == []


async def test_a_drain_cut_during_slow_order_summaries_then_a_restart_posts_each_sale_once(tmp_path: Path) -> None:
    """Stop while OrderSummary calls outlast the drain grace, restart on the same store: no committed graph re-sent."""
    store_url, latency, grace = f"sqlite:///{tmp_path / 'state.db'}", 5.0, 1.0
    async with emulators() as stack:
        async with worker(stack, tmp_path, store_url=store_url, drain_grace_seconds=grace, **SETTLE):
            warm = await warm_sale(stack, store_url)
            await stack.sf_admin("POST", "faults", {"latency_ms": latency * 1000, "paths": [SUMMARIES]})
            sales = await new_sales(stack, 5)

            async def graphs_committed() -> bool:  # every graph in; their OrderSummary calls still under way
                return {o["OrderReferenceNumber"] for o in await posted_orders(stack)} >= sales

            await eventually(graphs_committed, timeout=30, what="the 5 graphs committed")
            assert await summary_count(stack) == 1, "an OrderSummary call ended before the stop: nothing to cut"
            stopped = time.monotonic()  # leaving the block sets the stop event (what SIGTERM does) and drains
        assert await summary_count(stack) == 1, "an OrderSummary call ended within the grace: nothing was cut"
        await stack.sf_admin("DELETE", "faults")  # for new calls; the cut ones still commit at their end
        async with worker(stack, tmp_path, store_url=store_url, drain_grace_seconds=grace, **SETTLE):
            await all_posted(stack, sales, store_url, timeout=45,
                             landed_after=max(0.5, stopped + latency + 0.5 - time.monotonic()))
            await check_one_order_per_sale(stack, warm | sales)
            assert await dead_jobs(store_url) == []


async def test_dlq_retry_of_a_sale_whose_graph_committed_posts_no_second_order(tmp_path: Path) -> None:
    """`oms-worker dlq retry` of a sale dead-lettered after its graph committed finishes that Order, posts no other."""
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    retry = {"attempts": 2, "base_delay_seconds": 0.05, "max_delay_seconds": 0.2, "http_attempts": 1}
    async with emulators() as stack, worker(stack, tmp_path, store_url=store_url, retry=retry, **SETTLE):
        warm = await warm_sale(stack, store_url)
        # Every OrderSummary call fails (5xx) until the fault is lifted: the sales use up their retries and are
        # dead-lettered with their graphs committed. (The emulator's error kinds are all transient ones.)
        await stack.sf_admin("POST", "faults", {"error_rate": 1.0, "error_kind": "5xx", "paths": [SUMMARIES],
                                                "seed": 15})
        sales = await new_sales(stack, 2)
        last: dict[str, Any] = {}

        async def dead_lettered() -> bool:
            await asyncio.sleep(0.2)
            last["dead"] = await dead_jobs(store_url)
            return len(last["dead"]) == len(sales)

        try:
            await eventually(dead_lettered, timeout=30, what="both sales dead-lettered")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last seen: {last}") from None
        assert sorted(o["OrderReferenceNumber"] for o in await posted_orders(stack)) == sorted(warm | sales), \
            "the graphs should have committed before the sales were dead-lettered"
        await stack.sf_admin("DELETE", "faults")

        config = tmp_path / "operator.yaml"
        config.write_text(yaml.safe_dump(raw_config(stack.sf_url, stack.pos_url, store_url, **SETTLE)))
        for job_id in last["dead"]:  # the operator's move, through the real command line
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "worker.cli", "dlq", "retry", "--config", str(config), str(job_id),
                cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
            assert proc.returncode == 0, out.decode()

        await all_posted(stack, sales, store_url, timeout=30, landed_after=0.5)
        await check_one_order_per_sale(stack, warm | sales)
        assert await dead_jobs(store_url) == []


@pytest.mark.postgres
async def test_two_postgres_replicas_with_graphs_outliving_the_lease_post_each_sale_once(tmp_path: Path) -> None:
    """Two replicas on one PostgreSQL store, graphs (3 s) slower than the lease (2 s): each sale posted once."""
    async with pg_schema() as schema, emulators() as stack:
        store_url = f"{PG}?schema={schema}"
        a, b = (Replica(stack, tmp_path, name, store_url, lease_seconds=2, **SETTLE) for name in ("a", "b"))
        try:
            for replica in (a, b):
                replica.start()
            await a.ready()
            await b.ready()
            await stack.pos_admin("POST", "webhooks", {"urls": {h: a.url(h) for h in HOOKS},  # both claim them
                                                       "headers": {"Authorization": f"Bearer {WEBHOOK_KEY}"}})
            await stack.sf_admin("POST", "faults", {"latency_ms": 3000, "paths": [GRAPH]})  # a cold catalog too
            sales = await new_sales(stack, 10)
            await all_posted(stack, sales, store_url, timeout=60, landed_after=3.5)
            await check_one_order_per_sale(stack, sales)
            assert await dead_jobs(store_url) == []
            for replica in (a, b):
                assert await replica.terminate() == 0, replica.log.read_text()[-3000:]
        finally:
            for replica in (a, b):
                await replica.stop_quietly()
