"""Sales posted many graphs per /composite/graph request against the emulated org: once each, no duplicates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from worker.errors import OutcomeUnknown
from worker.flows.runner import Outcome
from worker.flows.sale_posting import SalePoster
from worker.metrics import Metrics
from worker.retry import RetryPolicy
from worker.salesforce.auth import TokenProvider
from worker.salesforce.rest import SalesforceRest
from worker.store import Job, NewJob, Store, open_store

from .harness import Stack, emulators, worker_config

pytestmark = pytest.mark.e2e


@asynccontextmanager
async def poster(stack: Stack, tmp: Path, settle: float = 0.0, **worker: Any,
                 ) -> AsyncIterator[tuple[SalePoster, SalesforceRest, Store]]:
    config = worker_config(stack.sf_url, stack.pos_url, f"sqlite:///{tmp / 'state.db'}",
                           effect_settle_seconds=settle, **worker)
    store = await open_store(config.worker.store_url)
    async with aiohttp.ClientSession() as session:
        tokens = TokenProvider(config.salesforce, config.auth, session)
        sf = SalesforceRest(config.salesforce, tokens, session, retry=RetryPolicy(attempts=2, base_delay=0.01))
        try:
            yield SalePoster(store, sf, config, Metrics()), sf, store
        finally:
            await store.close()


async def sales_jobs(stack: Stack, store: Store, specs: list[list[dict[str, Any]]]) -> list[Job]:
    """Create one POS sale per line spec and queue it the way the webhook does; claim them all in one batch."""
    jobs = []
    for lines in specs:
        sale = await stack.pos_admin("POST", "sales", {"kind": "in_store", "tender": "card", "store": "256",
                                                         "lines": lines})
        jobs.append(NewJob(queue="sale", dedupe_key=f"ORDER:{sale['orderId']}", ordering_key=sale["orderId"],
                           payload={"endpoint": "ORDER", "sale": sale}))
    await store.enqueue(jobs)
    return await store.claim("sale", len(jobs), lease_seconds=60, worker_id="t")


async def orders_by_reference(stack: Stack) -> dict[str, int]:
    counts: dict[str, int] = {}
    for order in (await stack.sf_admin("GET", "records/Order"))["records"]:
        ref = order.get("OrderReferenceNumber")
        counts[ref] = counts.get(ref, 0) + 1
    return counts


async def test_a_batch_of_sales_is_one_graph_request_plus_one_summary_each_and_batched_fulfilment(tmp_path: Path,
                                                                                                  ) -> None:
    """Twenty warm take-with sales claimed together cost one /composite/graph call, one OrderSummary call each, and
    for their fulfilment one SOQL, one create-multiple request and one status PATCH."""
    async with emulators() as stack, poster(stack, tmp_path) as (post, sf, store):
        warm = await sales_jobs(stack, store, [[{"sku": "SKU-0001", "quantity": 1}]])
        first = Outcome()
        await post.handle(warm, first)
        assert first.failed == [] and len(first.done) == 1
        jobs = await sales_jobs(stack, store, [[{"sku": "SKU-0001", "quantity": 1 + n % 3}] for n in range(20)])
        before = sf.calls_made
        await stack.sf_admin("POST", "counters/reset")
        outcome = Outcome()
        await post.handle(jobs, outcome)
        assert outcome.failed == [] and sorted(outcome.done) == sorted(j.id for j in jobs)
        assert sf.calls_made - before == 1 + 20 + (1 + 1 + 1)
        by_kind = {k: v for k, v in (await stack.sf_admin("GET", "counters"))["by_kind"].items() if v}
        assert by_kind == {"composite_graph": 1, "connect": 20 + 1, "query": 1, "collections": 1}
        counts = await orders_by_reference(stack)
        assert all(counts[j.payload["sale"]["orderId"]] == 1 for j in jobs)


async def test_two_sales_creating_the_same_new_product_go_in_separate_requests(tmp_path: Path) -> None:
    """A new SKU sold by two sales of one batch is created once: the second graph waits and reuses it."""
    async with emulators() as stack, poster(stack, tmp_path) as (post, _, store):
        jobs = await sales_jobs(stack, store, [[{"sku": "NEW-SKU-1", "quantity": 1}],
                                               [{"sku": "NEW-SKU-1", "quantity": 2}],
                                               [{"sku": "SKU-0002", "quantity": 1}]])
        outcome = Outcome()
        await post.handle(jobs, outcome)
        assert outcome.failed == [] and len(outcome.done) == 3
        products = await stack.sf_admin("GET", "records/Product2?where=StockKeepingUnit:NEW-SKU-1")
        assert products["totalSize"] == 1
        entries = await stack.sf_admin("GET", f"records/PricebookEntry?where=Product2Id:{products['records'][0]['Id']}")
        assert entries["totalSize"] == 2  # the standard price book's entry and the POS price book's


async def test_lost_answer_fails_the_batch_and_the_retry_posts_nothing_twice(tmp_path: Path) -> None:
    """When a graph request's answer is lost, every sale of it fails; a retry within the settle window waits (sends
    nothing), the one after it finds the posted Orders in one look-up and posts nothing twice."""
    async with emulators() as stack, poster(stack, tmp_path, settle=0.5) as (post, sf, store):
        jobs = await sales_jobs(stack, store, [[{"sku": "SKU-0003", "quantity": 1}] for _ in range(4)])
        real = sf.composite_graph

        async def lost(graphs: list[dict[str, Any]]) -> list[Any]:
            await real(graphs)  # committed in the org, answer never reaches the worker
            raise OutcomeUnknown("salesforce", "connection reset after the request was sent")

        sf.composite_graph = lost  # type: ignore[method-assign]
        outcome = Outcome()
        await post.handle(jobs, outcome)
        assert outcome.done == [] and len(outcome.failed) == 4
        sf.composite_graph = real  # type: ignore[method-assign]
        for job in jobs:
            await store.retry_later(job, "lost answer", 0)
        again = await store.claim("sale", 10, lease_seconds=60, worker_id="t")
        assert sorted(j.id for j in again) == sorted(j.id for j in jobs) and all(j.attempts == 2 for j in again)
        before = sf.calls_made
        settling = Outcome()
        await post.handle(again, settling)
        assert settling.done == [] and {getattr(e, "code", None) for _, e in settling.failed} == {"SETTLING"}
        assert sf.calls_made == before  # nothing sent, nothing looked up yet
        await asyncio.sleep(0.6)
        retry = Outcome()
        await post.handle(again, retry)
        assert retry.failed == [] and len(retry.done) == 4
        # one Order and one OrderSummary look-up, then 4 summaries; the fulfilment: one SOQL, the store's Location
        # (first look-up of this poster), one create-multiple for the 4 FulfillmentOrders, one status PATCH
        assert sf.calls_made - before == 2 + 4 + (1 + 1 + 1 + 1)
        counts = await orders_by_reference(stack)
        assert all(counts[j.payload["sale"]["orderId"]] == 1 for j in jobs)
        assert len((await stack.sf_admin("GET", "records/FulfillmentOrder"))["records"]) == 4
        summaries = await stack.sf_admin("GET", "records/OrderSummary")
        assert summaries["totalSize"] >= 4


def forget_products_once(post: SalePoster) -> None:
    """The poster's first product look-up misses, so its graph tries to create the product again and Salesforce
    answers DUPLICATE_VALUE: a graph that rolled back whole."""
    real = post.cache.products_for
    stale = True

    async def forgetful(skus: Any) -> dict[str, tuple[str, str | None]]:
        nonlocal stale
        if stale:
            stale = False
            return {}
        return await real(skus)

    post.cache.products_for = forgetful  # type: ignore[method-assign]

async def test_a_graph_answered_as_rolled_back_is_retried_without_the_settle_wait(tmp_path: Path) -> None:
    """A graph Salesforce answers as failed (here DUPLICATE_VALUE from a stale product cache: nothing of the sale
    exists) is posted again by the same process at once, not after the settle window; still one Order."""
    async with emulators() as stack, poster(stack, tmp_path, settle=60.0) as (post, _, store):
        jobs = await sales_jobs(stack, store, [[{"sku": "SKU-0001", "quantity": 1}]])
        forget_products_once(post)
        first = Outcome()
        await post.handle(jobs, first)
        assert first.done == [] and getattr(first.failed[0][1], "code", None) == "DUPLICATE_VALUE"
        await store.retry_later(jobs[0], "duplicate", 0)
        again = await store.claim("sale", 1, lease_seconds=60, worker_id="t")
        retry = Outcome()
        await post.handle(again, retry)
        assert retry.failed == [] and retry.done == [jobs[0].id]
        assert (await orders_by_reference(stack))[jobs[0].payload["sale"]["orderId"]] == 1


async def test_a_rolled_back_graph_is_looked_up_again_once_another_process_sent_the_sale(tmp_path: Path) -> None:
    """After a rollback, a newer durable note (another replica sent the sale, then died before recording it) makes
    the first process wait out the settle window instead of posting again at once: still one Order."""
    async with emulators() as stack, poster(stack, tmp_path, settle=60.0) as (post, _, store):
        jobs = await sales_jobs(stack, store, [[{"sku": "SKU-0002", "quantity": 1}]])
        forget_products_once(post)
        first = Outcome()
        await post.handle(jobs, first)
        assert getattr(first.failed[0][1], "code", None) == "DUPLICATE_VALUE"
        await asyncio.sleep(0.01)  # the other replica's note is the newer one

        quick = post.config.model_copy(update={"worker": post.config.worker.model_copy(
            update={"effect_settle_seconds": 0.0})})
        other = SalePoster(store, post.salesforce, quick, Metrics())

        async def died(*_: Any) -> None:  # the graph landed; the replica died before the sale record
            return None

        other.finisher.finish_all = died  # type: ignore[method-assign]
        await store.retry_later(jobs[0], "duplicate", 0)
        taken = await store.claim("sale", 1, lease_seconds=60, worker_id="other")
        await other.handle(taken, Outcome())
        assert (await orders_by_reference(stack))[jobs[0].payload["sale"]["orderId"]] == 1

        await store.retry_later(taken[0], "replica died", 0)
        again = await store.claim("sale", 1, lease_seconds=60, worker_id="t")
        retry = Outcome()
        await post.handle(again, retry)
        assert retry.done == [] and getattr(retry.failed[0][1], "code", None) == "SETTLING"
        assert (await orders_by_reference(stack))[jobs[0].payload["sale"]["orderId"]] == 1


class LeaseLostAfterGraph(Outcome):
    """The store refuses to renew after the graph's confirm (another replica took the job), while the local lease
    monitor has not noticed yet (holds() stays true)."""

    def __init__(self) -> None:
        super().__init__()
        self.confirms = 0

    async def confirm(self, jobs: Sequence[Job]) -> list[Job]:
        self.confirms += 1
        return list(jobs) if self.confirms == 1 else []


async def test_a_lease_lost_after_the_graph_starts_no_order_summary_call(tmp_path: Path) -> None:
    """The OrderSummary call is fenced like the graph: a job whose lease the store no longer confirms makes no
    Connect call (its new holder finds the Order and creates the summary) and is neither completed nor failed."""
    async with emulators() as stack, poster(stack, tmp_path) as (post, _, store):
        jobs = await sales_jobs(stack, store, [[{"sku": "SKU-0001", "quantity": 1}]])
        outcome = LeaseLostAfterGraph()
        await post.handle(jobs, outcome)
        assert outcome.done == [] and outcome.failed == []
        assert (await orders_by_reference(stack))[jobs[0].payload["sale"]["orderId"]] == 1
        summary_calls = [r for r in stack.sf_emulator.emulator.counters.requests
                         if r.path.split("?")[0].endswith("/commerce/order-management/order-summaries")]
        assert summary_calls == []
