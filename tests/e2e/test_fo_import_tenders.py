"""A BOPIS and a BOFIS FulfillmentOrder reach the POS with the configured fulfillment type and their tenders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .harness import Stack, emulators, eventually, worker

pytestmark = pytest.mark.e2e


async def records(stack: Stack, sobject: str) -> list[dict[str, Any]]:
    return list((await stack.sf_admin("GET", f"records/{sobject}"))["records"])


async def test_bopis_and_bofis_import_with_type_and_tenders(tmp_path: Path) -> None:
    """In Store Pickup -> PICKUP_IN_STORE, Retail Store -> SHIP_TO_HOME_CURRENT_STORE, each with its card tender."""
    async with emulators() as stack, worker(stack, tmp_path):
        bopis = await stack.sf_admin("POST", "scenario/orders", {"count": 1, "kind": "BOPIS", "store": "256"})
        bofis = await stack.sf_admin("POST", "scenario/orders", {"count": 1, "kind": "BOFIS", "store": "257"})
        created = {"PICKUP_IN_STORE": bopis["orders"][0], "SHIP_TO_HOME_CURRENT_STORE": bofis["orders"][0]}

        async def pos_orders() -> dict[str, dict[str, Any]]:
            body = await stack.pos_admin("GET", "orders")
            return {o["externalOrderId"]: o for o in body.get("orders", body)}

        async def imported() -> bool:
            return {o["fulfillment_order_id"] for o in created.values()} <= set(await pos_orders())

        await eventually(imported, what="the BOPIS and BOFIS orders imported")
        orders = await pos_orders()
        group_order = {g["Id"]: g["SourceObjectId"] for g in await records(stack, "PaymentGroup")}
        auths = {group_order[a["PaymentGroupId"]]: a for a in await records(stack, "PaymentAuthorization")}
        for omni, made in created.items():
            order = orders[made["fulfillment_order_id"]]
            assert order["omniFulfillmentType"] == omni
            assert {line["omniFulfillmentType"] for line in order["orderProductList"]} == {omni}
            auth = auths[made["order_id"]]
            assert order["tenders"] == [{"paymentMethod": "CreditCard", "amountAuthorized": auth["Amount"],
                                         "paymentStatus": "AUTHORIZED", "transactionId": auth["Id"]}]
