"""Returns resume from durable records: a lost answer of submit-return or create-credit-memo is never repeated."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from worker.errors import OutcomeUnknown, TransientError
from worker.flows.effects import SETTLING
from worker.flows.returns import ReturnProcessor
from worker.flows.runner import Outcome
from worker.metrics import Metrics

from .harness import Stack, emulators
from .test_sale_batching import poster, sales_jobs

pytestmark = pytest.mark.e2e
SETTLE = 0.4


async def records(stack: Stack, sobject: str, **where: str) -> list[dict[str, Any]]:
    query = "&".join(f"where={k}:{v}" for k, v in where.items())
    return list((await stack.sf_admin("GET", f"records/{sobject}" + (f"?{query}" if query else "")))["records"])


def losing(sf: Any, path_end: str) -> Any:
    """Make the first call to ``path_end`` land in the org while its answer is lost; later calls pass."""
    real = sf.connect
    lost: list[str] = []

    async def connect(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await real(path, body)
        if path.endswith(path_end) and not lost:
            lost.append(path)
            raise OutcomeUnknown("salesforce", "connection reset after the request was sent")
        return answer

    sf.connect = connect
    return lost


@pytest.mark.parametrize("lost_step", ["/actions/submit-return", "/actions/create-credit-memo"])
async def test_a_lost_answer_mid_return_is_looked_up_not_repeated(tmp_path: Path, lost_step: str) -> None:
    """After a lost answer the return waits out the settle window, then finds what landed: one change order, one
    credit memo, one unit returned."""
    async with emulators() as stack, poster(stack, tmp_path) as (post, sf, store):
        (job,) = await sales_jobs(stack, store, [[{"sku": "SKU-0001", "quantity": 3}]])
        posted = Outcome()
        await post.handle([job], posted)
        assert posted.done == [job.id]
        sale = job.payload["sale"]
        returned = await stack.pos_admin("POST", "sales", {"kind": "return", "original_order_id": sale["orderId"],
                                                           "store": "256",
                                                           "return_lines": [{"orderItemId": "1", "quantity": 1}]})
        lost = losing(sf, lost_step)
        returns = ReturnProcessor(store, sf, Metrics(), settle_seconds=SETTLE)
        with pytest.raises(OutcomeUnknown):
            await returns.process(returned)
        assert lost
        with pytest.raises(TransientError) as settling:
            await returns.process(returned)  # at once: the lost call may still be running
        assert settling.value.code == SETTLING
        await asyncio.sleep(SETTLE + 0.1)
        await returns.process(returned)
        await returns.process(returned)  # a re-delivery after success does nothing
        record = await store.sale_get(sale["orderId"])
        assert record is not None and record.order_summary_id
        changes = [o for o in await records(stack, "Order") if o.get("RelatedOrderId") == record.order_id]
        assert len(changes) == 1
        assert len(await records(stack, "CreditMemo", ReferenceEntityId=record.order_summary_id)) == 1
        (item,) = await records(stack, "OrderItemSummary", OrderSummaryId=record.order_summary_id)
        assert float(item["QuantityReturned"]) == 1.0  # returned once, not twice
        assert float(item["QuantityFulfilled"]) == 3.0 and float(item["QuantityAvailableToReturn"]) == 2.0


async def test_a_return_resumed_after_more_was_fulfilled_is_not_sent_again(tmp_path: Path) -> None:
    """A lost submit-return resumed after more of the line was fulfilled (available to return rose again) finds the
    change order that landed: one unit returned, one change order, one credit memo."""
    async with emulators() as stack, poster(stack, tmp_path) as (_, sf, store):
        order = (await stack.sf_admin("POST", "scenario/orders", {
            "count": 1, "kind": "BOPIS", "store": "256", "lines": [{"sku": "SKU-0001", "quantity": 3}]}))["orders"][0]
        summary_id, first_fo = order["order_summary_id"], order["fulfillment_order_id"]
        # the store hands over one of three now: two are released from the first FO, which is then fulfilled
        await sf.connect(f"commerce/fulfillment/fulfillment-orders/{first_fo}/actions/cancel-item", {
            "fulfillmentOrderLineItemsToCancel": [{"fulfillmentOrderLineItemId": order["lines"][0]["foli_id"],
                                                   "quantity": 2}]})
        await sf.update("FulfillmentOrder", first_fo, {"Status": "Fulfilled"})
        (item,) = await records(stack, "OrderItemSummary", OrderSummaryId=summary_id)
        (group,) = await records(stack, "OrderDeliveryGroupSummary", OrderSummaryId=summary_id)
        (location,) = await records(stack, "Location", warehouseID__c="256")
        second = await sf.connect("commerce/fulfillment/fulfillment-orders", {
            "orderSummaryId": summary_id, "orderDeliveryGroupSummaryId": group["Id"], "fulfillmentGroups": [{
                "fulfilledFromLocationId": location["Id"], "fulfillmentType": "In Store Pickup",
                "orderItemSummaries": [{"orderItemSummaryId": item["Id"], "quantity": 2}]}]})
        returned = {"orderId": "R-256-1", "returnProductList": [{
            "originalOrderId": order["order_number"], "originalOrderItemId": item["Id"], "productId": "SKU-0001",
            "quantity": 1}]}
        lost = losing(sf, "/actions/submit-return")
        returns = ReturnProcessor(store, sf, Metrics(), settle_seconds=SETTLE)
        with pytest.raises(OutcomeUnknown):
            await returns.process(returned)
        assert lost
        # meanwhile the other two are picked up: available to return goes from 0 back up to 2
        await sf.update("FulfillmentOrder", second["fulfillmentOrderIds"][0], {"Status": "Fulfilled"})
        await asyncio.sleep(SETTLE + 0.1)
        await returns.process(returned)
        (item,) = await records(stack, "OrderItemSummary", OrderSummaryId=summary_id)
        assert float(item["QuantityReturned"]) == 1.0 and float(item["QuantityAvailableToReturn"]) == 2.0
        changes = [o for o in await records(stack, "Order") if o.get("RelatedOrderId") == order["order_id"]]
        assert len(changes) == 1
        assert len(await records(stack, "CreditMemo", ReferenceEntityId=summary_id)) == 1


async def test_a_return_of_a_sale_not_posted_yet_waits_for_it(tmp_path: Path) -> None:
    """A RETURN handled before its original sale is posted (the sale's job queued behind an outage) is a transient
    ORDER_NOT_FOUND, not a dead letter; once the sale is posted and fulfilled the same return goes through."""
    async with emulators() as stack, poster(stack, tmp_path) as (post, sf, store):
        (job,) = await sales_jobs(stack, store, [[{"sku": "SKU-0002", "quantity": 2}]])
        sale = job.payload["sale"]
        returned = await stack.pos_admin("POST", "sales", {"kind": "return", "original_order_id": sale["orderId"],
                                                           "store": "256",
                                                           "return_lines": [{"orderItemId": "1", "quantity": 1}]})
        returns = ReturnProcessor(store, sf, Metrics(), settle_seconds=SETTLE)
        with pytest.raises(TransientError) as early:
            await returns.process(returned)
        assert early.value.code == "ORDER_NOT_FOUND"
        posted = Outcome()
        await post.handle([job], posted)
        assert posted.done == [job.id]
        await returns.process(returned)
        record = await store.sale_get(sale["orderId"])
        assert record is not None and record.order_summary_id
        assert len(await records(stack, "CreditMemo", ReferenceEntityId=record.order_summary_id)) == 1
