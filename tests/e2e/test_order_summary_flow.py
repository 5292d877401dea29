"""salesforce.order_summary: org_flow against the emulated org: the org's flow makes the summaries; the worker
checks them with one SOQL per batch, and creates a missing one through Connect only after the grace period."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from structlog.testing import capture_logs

from worker.flows.runner import Outcome
from worker.flows.sale_posting import SalePoster
from worker.metrics import Metrics
from worker.retry import RetryPolicy
from worker.salesforce.auth import TokenProvider
from worker.salesforce.rest import SalesforceRest
from worker.store import Store, open_store

from .harness import Stack, emulators, eventually, new_sales, posted_orders, worker, worker_config
from .test_sale_batching import orders_by_reference, sales_jobs

pytestmark = pytest.mark.e2e
FLOW = {"order_summary": "org_flow", "order_summary_grace_seconds": 0.5}


@asynccontextmanager
async def flow_poster(stack: Stack, tmp: Path) -> AsyncIterator[tuple[SalePoster, Store, Metrics]]:
    config = worker_config(stack.sf_url, stack.pos_url, f"sqlite:///{tmp / 'state.db'}", salesforce=FLOW,
                           effect_settle_seconds=0.0)
    store = await open_store(config.worker.store_url)
    metrics = Metrics()
    async with aiohttp.ClientSession() as session:
        tokens = TokenProvider(config.salesforce, config.auth, session)
        sf = SalesforceRest(config.salesforce, tokens, session, retry=RetryPolicy(attempts=2, base_delay=0.01))
        try:
            yield SalePoster(store, sf, config, metrics), store, metrics
        finally:
            await store.close()


def summary_calls(stack: Stack) -> int:
    """Connect OrderSummary creations the emulator served (its request log)."""
    return sum(1 for r in stack.sf_emulator.emulator.counters.requests
               if r.path.split("?")[0].endswith("/commerce/order-management/order-summaries"))


async def summaries_of(stack: Stack, references: set[str]) -> int:
    orders = {o["Id"] for o in await posted_orders(stack) if o["OrderReferenceNumber"] in references}
    rows = (await stack.sf_admin("GET", "records/OrderSummary"))["records"]
    return sum(1 for r in rows if r["OriginalOrderId"] in orders)


async def test_with_the_org_flow_every_sale_gets_one_summary_and_no_connect_summary_call(tmp_path: Path) -> None:
    """The whole worker with org_flow against an org running the flow: 12 webhook sales -> 12 Orders, 12
    OrderSummaries (one each), no Connect OrderSummary call."""
    async with emulators(order_summary_flow=True) as stack, worker(stack, tmp_path, salesforce=FLOW):
        refs = await new_sales(stack, 12)

        async def all_summarized() -> bool:
            return await summaries_of(stack, refs) == 12

        await eventually(all_summarized, timeout=60, what="12 summaries")
        counts = await orders_by_reference(stack)
        assert all(counts[ref] == 1 for ref in refs)
        assert summary_calls(stack) == 0


async def test_a_batch_checks_summaries_with_one_soql(tmp_path: Path) -> None:
    """A claimed batch of 10 warm take-with sales costs one graph request, one summary SOQL (whose rows the
    take-with step reuses), one create-multiple and one PATCH: 4 calls, no Connect summary call."""
    async with emulators(order_summary_flow=True) as stack, flow_poster(stack, tmp_path) as (post, store, _):
        warm = await sales_jobs(stack, store, [[{"sku": "SKU-0001", "quantity": 1}]])
        await post.handle(warm, Outcome())
        jobs = await sales_jobs(stack, store, [[{"sku": "SKU-0001", "quantity": 1}] for _ in range(10)])
        await stack.sf_admin("POST", "counters/reset")
        outcome = Outcome()
        await post.handle(jobs, outcome)
        assert outcome.failed == [] and len(outcome.done) == 10
        by_kind = {k: v for k, v in (await stack.sf_admin("GET", "counters"))["by_kind"].items() if v}
        # graph 1; query 1: the summaries, with what the take-with step needs; one create-multiple; PATCH 1
        assert by_kind == {"composite_graph": 1, "query": 1, "connect": 1, "collections": 1}
        assert summary_calls(stack) == 0


async def test_without_the_flow_in_the_org_a_summary_is_created_after_the_grace_period(tmp_path: Path) -> None:
    """org_flow configured but the org has no flow: the batch first waits (SUMMARY_PENDING, nothing created), after
    the grace period the retry creates each summary once through Connect, logs order_summary_flow_missing and
    counts oms_order_summary_fallbacks_total."""
    async with emulators() as stack, flow_poster(stack, tmp_path) as (post, store, metrics):
        jobs = await sales_jobs(stack, store, [[{"sku": "SKU-0001", "quantity": 1}] for _ in range(3)])
        first = Outcome()
        await post.handle(jobs, first)
        assert first.done == [] and len(first.failed) == 3
        assert all(getattr(exc, "code", None) == "SUMMARY_PENDING" and 0 < exc.retry_after <= 0.5  # type: ignore
                   for _, exc in first.failed)
        assert summary_calls(stack) == 0
        for job, _ in first.failed:
            await store.retry_later(job, "pending", 0)
        await asyncio.sleep(0.6)
        again = await store.claim("sale", 10, lease_seconds=60, worker_id="t")
        retry = Outcome()
        with capture_logs() as logs:
            await post.handle(again, retry)
        assert retry.failed == [] and len(retry.done) == 3
        assert summary_calls(stack) == 3
        assert sum(1 for e in logs if e["event"] == "order_summary_flow_missing") == 3
        assert metrics.summary_fallbacks._value.get() == 3
        refs = {job.payload["sale"]["orderId"] for job in jobs}
        assert await summaries_of(stack, refs) == 3
        assert all(n == 1 for ref, n in (await orders_by_reference(stack)).items() if ref in refs)


async def test_a_late_flow_racing_the_fallback_leaves_one_summary_per_sale(tmp_path: Path) -> None:
    """Past the grace period the fallback goes out just as a late flow makes the summary: Connect answers
    DUPLICATE_VALUE, the sale is retried (not dead-lettered), the retry finds the flow's summary and finishes;
    each sale ends with exactly one OrderSummary."""
    from emulator.salesforce.oms_build import create_order_summary

    async with emulators() as stack, flow_poster(stack, tmp_path) as (post, store, _):
        jobs = await sales_jobs(stack, store, [[{"sku": "SKU-0001", "quantity": 1}] for _ in range(2)])
        first = Outcome()
        await post.handle(jobs, first)
        assert all(getattr(exc, "code", None) == "SUMMARY_PENDING" for _, exc in first.failed)
        for job, _ in first.failed:
            await store.retry_later(job, "pending", 0)
        await asyncio.sleep(0.6)  # the grace period (0.5 s) passes: the next attempt falls back to Connect
        real = post.salesforce.connect

        async def flow_first(path: str, body: dict[str, object]) -> dict[str, object]:
            if path.endswith("order-management/order-summaries"):  # the org's late flow lands just before
                create_order_summary(stack.sf_emulator.emulator.org, str(body["orderId"]))
            return await real(path, body)

        post.salesforce.connect = flow_first  # type: ignore[method-assign]
        race = Outcome()
        await post.handle(await store.claim("sale", 10, lease_seconds=60, worker_id="t"), race)
        assert race.done == [] and len(race.failed) == 2
        assert all(getattr(exc, "code", None) == "DUPLICATE_VALUE" and getattr(exc, "transient", False)
                   for _, exc in race.failed)
        post.salesforce.connect = real  # type: ignore[method-assign]
        for job, _ in race.failed:
            await store.retry_later(job, "duplicate", 0)
        again = Outcome()
        await post.handle(await store.claim("sale", 10, lease_seconds=60, worker_id="t"), again)
        assert again.failed == [] and len(again.done) == 2
        refs = {job.payload["sale"]["orderId"] for job in jobs}
        assert await summaries_of(stack, refs) == 2 and summary_calls(stack) == 2
        assert all([await store.sale_get(ref) for ref in refs])
