"""Take-with lines of a POS sale are fulfilled in OMS once (so they can be returned), resumed, never doubled."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from worker.errors import OutcomeUnknown, TransientError
from worker.flows.effects import SETTLING
from worker.flows.runner import Outcome
from worker.flows.sale_fulfilment import FO_PATH, MULTIPLE_PATH
from worker.flows.sale_posting import SalePoster
from worker.store import Job, NewJob, Store

from .harness import Stack, emulators
from .test_sale_batching import poster

pytestmark = pytest.mark.e2e
SETTLE = 0.3


async def records(stack: Stack, sobject: str, **where: str) -> list[dict[str, Any]]:
    query = "&".join(f"where={k}:{v}" for k, v in where.items())
    return list((await stack.sf_admin("GET", f"records/{sobject}" + (f"?{query}" if query else "")))["records"])


async def sale_jobs(stack: Stack, store: Store, specs: list[tuple[str, str, list[dict[str, Any]]]]) -> list[Job]:
    """One POS sale per (kind, store, lines), queued as the webhook does and claimed together."""
    jobs = []
    for kind, store_id, lines in specs:
        sale = await stack.pos_admin("POST", "sales", {"kind": kind, "tender": "card", "store": store_id,
                                                       "lines": lines})
        jobs.append(NewJob(queue="sale", dedupe_key=f"ORDER:{sale['orderId']}", ordering_key=sale["orderId"],
                           payload={"endpoint": "ORDER", "sale": sale}))
    await store.enqueue(jobs)
    return list(await store.claim("sale", len(jobs), lease_seconds=60, worker_id="t"))


async def handle(post: SalePoster, jobs: list[Job]) -> Outcome:
    outcome = Outcome()
    await post.handle(jobs, outcome)
    return outcome


async def summary_of(stack: Stack, pos_order_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The sale's OrderSummary and its OrderItemSummaries."""
    (order,) = await records(stack, "Order", OrderReferenceNumber=pos_order_id)
    (summary,) = await records(stack, "OrderSummary", OriginalOrderId=order["Id"])
    return summary, await records(stack, "OrderItemSummary", OrderSummaryId=summary["Id"])


async def methods(stack: Stack) -> dict[str, str]:
    return {m["Id"]: m["Name"] for m in await records(stack, "OrderDeliveryMethod")}


async def test_take_with_lines_are_fulfilled_from_the_store(tmp_path: Path) -> None:
    """An in-store sale gets one Retail Store FO from its store's Location, Fulfilled: every unit is returnable."""
    async with emulators() as stack, poster(stack, tmp_path) as (post, _, store):
        jobs = await sale_jobs(stack, store, [("in_store", "257", [{"sku": "SKU-0001", "quantity": 2},
                                                                    {"sku": "SKU-0002", "quantity": 1}])])
        outcome = await handle(post, jobs)
        assert outcome.failed == [] and outcome.done == [jobs[0].id]
        summary, items = await summary_of(stack, jobs[0].payload["sale"]["orderId"])
        (fo,) = await records(stack, "FulfillmentOrder", OrderSummaryId=summary["Id"])
        (location,) = await records(stack, "Location", warehouseID__c="257")
        assert (fo["Status"], fo["Type"], fo["FulfilledFromLocationId"]) == ("Fulfilled", "Retail Store",
                                                                              location["Id"])
        assert (await methods(stack))[fo["DeliveryMethodId"]] == "IN_STORE-DEFAULT"
        assert sorted((float(i["QuantityFulfilled"]), float(i["QuantityAvailableToReturn"])) for i in items) == [
            (1.0, 1.0), (2.0, 2.0)]
        assert await store.sale_get(jobs[0].payload["sale"]["orderId"]) is not None


async def test_only_take_with_lines_are_fulfilled(tmp_path: Path) -> None:
    """Pickup-later and endless-aisle lines are left to the store; a mixed cart's take-with line alone is fulfilled,
    and the batch pays one SOQL, one create and one PATCH for it."""
    async with emulators() as stack, poster(stack, tmp_path) as (post, _, store):
        jobs = await sale_jobs(stack, store, [
            ("mixed_cart", "256", [{"sku": "SKU-0001", "quantity": 2}, {"sku": "SKU-0002", "quantity": 1}]),
            ("pickup_later", "256", [{"sku": "SKU-0003", "quantity": 1}]),
            ("endless_aisle", "256", [{"sku": "SKU-0004", "quantity": 1}])])
        await stack.sf_admin("POST", "counters/reset")
        outcome = await handle(post, jobs)
        assert outcome.failed == [] and sorted(outcome.done) == sorted(j.id for j in jobs)
        by_kind = (await stack.sf_admin("GET", "counters"))["by_kind"]
        assert (by_kind["connect"], by_kind["collections"]) == (3 + 1, 1)  # 3 OrderSummaries, 1 FO create
        mixed, pickup, aisle = (j.payload["sale"]["orderId"] for j in jobs)
        summary, items = await summary_of(stack, mixed)
        (fo,) = await records(stack, "FulfillmentOrder", OrderSummaryId=summary["Id"])
        assert (await methods(stack))[fo["DeliveryMethodId"]] == "IN_STORE-DEFAULT" and fo["Status"] == "Fulfilled"
        assert {i["StockKeepingUnit"]: float(i["QuantityFulfilled"]) for i in items} == {"SKU-0001": 2.0,
                                                                                           "SKU-0002": 0.0}
        for other in (pickup, aisle):
            summary, items = await summary_of(stack, other)
            assert await records(stack, "FulfillmentOrder", OrderSummaryId=summary["Id"]) == []
            assert all(float(i["QuantityFulfilled"]) == 0.0 for i in items)


async def test_a_lost_create_answer_is_looked_up_not_repeated(tmp_path: Path) -> None:
    """An FO create whose answer is lost fails the sale; the retry waits out the settle window, then finds that FO
    and only sets it Fulfilled: one FO, each unit fulfilled once."""
    async with emulators() as stack, poster(stack, tmp_path, settle=SETTLE) as (post, sf, store):
        jobs = await sale_jobs(stack, store, [("in_store", "256", [{"sku": "SKU-0001", "quantity": 3}])])
        real = sf.connect

        async def lost(path: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = await real(path, body)
            if path in (FO_PATH, MULTIPLE_PATH):
                raise OutcomeUnknown("salesforce", "connection reset after the request was sent")
            return answer

        sf.connect = lost  # type: ignore[method-assign]
        first = await handle(post, jobs)
        assert first.done == [] and isinstance(first.failed[0][1], OutcomeUnknown)
        sf.connect = real  # type: ignore[method-assign]
        pos_order_id = jobs[0].payload["sale"]["orderId"]
        assert await store.sale_get(pos_order_id) is None
        before = sf.calls_made
        settling = await handle(post, jobs)
        assert [getattr(e, "code", None) for _, e in settling.failed] == [SETTLING] and sf.calls_made == before
        await asyncio.sleep(SETTLE + 0.1)
        retry = await handle(post, jobs)
        assert retry.failed == [] and retry.done == [jobs[0].id]
        summary, items = await summary_of(stack, pos_order_id)
        (fo,) = await records(stack, "FulfillmentOrder", OrderSummaryId=summary["Id"])
        assert fo["Status"] == "Fulfilled"
        assert [(float(i["QuantityFulfilled"]), float(i["QuantityAllocated"])) for i in items] == [(3.0, 3.0)]


async def test_a_failed_status_patch_is_finished_by_the_retry(tmp_path: Path) -> None:
    """When the Fulfilled PATCH fails after the FO was created, the retry patches that FO instead of making another."""
    async with emulators() as stack, poster(stack, tmp_path, settle=SETTLE) as (post, sf, store):
        jobs = await sale_jobs(stack, store, [("in_store", "256", [{"sku": "SKU-0002", "quantity": 2}])])
        real = sf.collections_update

        async def down(records_: list[dict[str, Any]], all_or_none: bool = False) -> list[Any]:
            raise TransientError("salesforce", "Service Unavailable", status=503)

        sf.collections_update = down  # type: ignore[method-assign]
        first = await handle(post, jobs)
        assert first.done == [] and len(first.failed) == 1
        sf.collections_update = real  # type: ignore[method-assign]
        summary, _ = await summary_of(stack, jobs[0].payload["sale"]["orderId"])
        (fo,) = await records(stack, "FulfillmentOrder", OrderSummaryId=summary["Id"])
        assert fo["Status"] == "Allocated"
        await asyncio.sleep(SETTLE + 0.1)
        retry = await handle(post, jobs)
        assert retry.failed == [] and retry.done == [jobs[0].id]
        (fo,) = await records(stack, "FulfillmentOrder", OrderSummaryId=summary["Id"])
        assert fo["Status"] == "Fulfilled"
        (item,) = await records(stack, "OrderItemSummary", OrderSummaryId=summary["Id"])
        assert float(item["QuantityFulfilled"]) == 2.0


async def test_a_store_without_a_location_dead_letters_then_resumes(tmp_path: Path) -> None:
    """A store no Location names fails the sale permanently (SETUP_MISSING) after posting it; once the Location
    exists, the retry finishes the same Order: one Order, one FO from that Location."""
    async with emulators() as stack, poster(stack, tmp_path) as (post, sf, store):
        jobs = await sale_jobs(stack, store, [("in_store", "999", [{"sku": "SKU-0001", "quantity": 1}])])
        first = await handle(post, jobs)
        assert first.done == [] and getattr(first.failed[0][1], "code", None) == "SETUP_MISSING"
        assert "warehouseID__c" in str(first.failed[0][1]) and "'999'" in str(first.failed[0][1])
        location = await sf.create("Location", {"Name": "Store 999", "LocationType": "Store",
                                                "warehouseID__c": "999"})
        retry = await handle(post, jobs)
        assert retry.failed == [] and retry.done == [jobs[0].id]
        pos_order_id = jobs[0].payload["sale"]["orderId"]
        assert len(await records(stack, "Order", OrderReferenceNumber=pos_order_id)) == 1
        summary, _ = await summary_of(stack, pos_order_id)
        (fo,) = await records(stack, "FulfillmentOrder", OrderSummaryId=summary["Id"])
        assert (fo["FulfilledFromLocationId"][:15], fo["Status"]) == (location[:15], "Fulfilled")


async def test_turned_off_it_sends_nothing(tmp_path: Path) -> None:
    """With worker.fulfil_take_with false a take-with sale costs its graph and OrderSummary only; no FO is made."""
    async with emulators() as stack, poster(stack, tmp_path, fulfil_take_with=False) as (post, _, store):
        jobs = await sale_jobs(stack, store, [("in_store", "256", [{"sku": "SKU-0001", "quantity": 1}])])
        await stack.sf_admin("POST", "counters/reset")
        outcome = await handle(post, jobs)
        assert outcome.failed == [] and outcome.done == [jobs[0].id]
        by_kind = (await stack.sf_admin("GET", "counters"))["by_kind"]
        assert (by_kind["connect"], by_kind["collections"]) == (1, 0)
        assert await records(stack, "FulfillmentOrder") == []
