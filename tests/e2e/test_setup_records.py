"""Run-time setup records (the integration guide): a first sale on an org without them creates each once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from worker.flows.runner import Outcome
from worker.flows.sale_posting import SalePoster
from worker.metrics import Metrics

from .harness import Stack, emulators
from .test_sale_batching import poster, sales_jobs

pytestmark = pytest.mark.e2e
GATEWAYS_ONLY = {"payment_gateways": [{"PaymentGatewayName": "Cash"}, {"PaymentGatewayName": "POS"}]}


async def named(stack: Stack, sobject: str, field: str, value: str) -> list[dict[str, Any]]:
    return list((await stack.sf_admin("GET", f"records/{sobject}?where={field}:{value}"))["records"])


async def test_first_sales_on_a_bare_org_create_each_setup_record_once(tmp_path: Path) -> None:
    """Pricebook2 <seed>, SalesChannel <seed>-POS, OrderDeliveryMethod IN_STORE-DEFAULT and the default Account
    are created at run time, once, even by two posters racing ("replicas"); every Order uses the same ones."""
    async with emulators(sales_seed=GATEWAYS_ONLY) as stack, poster(stack, tmp_path) as (post, sf, store):
        assert await named(stack, "Pricebook2", "Name", "acme-en-US-US") == []
        jobs = await sales_jobs(stack, store, [[{"sku": "SKU-0001", "quantity": 1}] for _ in range(4)])
        rival = SalePoster(store, sf, post.config, Metrics())  # a second replica with a cold cache
        first, second = Outcome(), Outcome()
        await post.handle(jobs[:2], first)
        await rival.handle(jobs[2:], second)
        assert first.failed == [] and second.failed == [] and len(first.done) + len(second.done) == 4
        (pricebook,) = await named(stack, "Pricebook2", "Name", "acme-en-US-US")
        (channel,) = await named(stack, "SalesChannel", "SalesChannelName", "acme-en-US-US-POS")
        (method,) = await named(stack, "OrderDeliveryMethod", "Name", "IN_STORE-DEFAULT")
        (account,) = await named(stack, "Account", "Name", "acme-en-US-US")
        orders = [o for o in (await stack.sf_admin("GET", "records/Order"))["records"]
                  if str(o.get("OrderReferenceNumber") or "").startswith("S-")]
        assert len(orders) == 4
        assert {(o["Pricebook2Id"], o["SalesChannelId"], o["AccountId"]) for o in orders} == {
            (pricebook["Id"], channel["Id"], account["Id"])}
        groups = (await stack.sf_admin("GET", "records/OrderDeliveryGroup"))["records"]
        assert {g["OrderDeliveryMethodId"] for g in groups if g["OrderId"] in {o["Id"] for o in orders}} == {
            method["Id"]}


async def test_an_existing_pos_channel_is_preferred_over_creating_one(tmp_path: Path) -> None:
    """SalesChannel POS, when the org has it, is used and nothing named <seed>-POS is created."""
    seed = {**GATEWAYS_ONLY, "sales_channels": [{"SalesChannelName": "POS"}]}
    async with emulators(sales_seed=seed) as stack, poster(stack, tmp_path) as (post, _, store):
        jobs = await sales_jobs(stack, store, [[{"sku": "SKU-0002", "quantity": 1}]])
        outcome = Outcome()
        await post.handle(jobs, outcome)
        assert outcome.failed == []
        (channel,) = await named(stack, "SalesChannel", "SalesChannelName", "POS")
        assert await named(stack, "SalesChannel", "SalesChannelName", "acme-en-US-US-POS") == []
        (order,) = [o for o in (await stack.sf_admin("GET", "records/Order"))["records"]
                    if o.get("OrderReferenceNumber") == jobs[0].payload["sale"]["orderId"]]
        assert order["SalesChannelId"] == channel["Id"]
