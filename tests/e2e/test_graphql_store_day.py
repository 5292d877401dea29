"""A store day on the GraphQL POS back-end: sale history is the sale source, posting is the shared code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from worker.store import QUEUES

from .graphql_harness import graphql_worker
from .harness import Stack, emulators, eventually

pytestmark = pytest.mark.e2e


async def sf_records(stack: Stack, sobject: str) -> list[dict[str, Any]]:
    return list((await stack.sf_admin("GET", f"records/{sobject}"))["records"])


async def posted(stack: Stack) -> list[str]:
    return [str(o.get("OrderReferenceNumber")) for o in await sf_records(stack, "Order")]


async def test_a_store_day_on_the_graphql_back_end_posts_every_sale_once(tmp_path: Path) -> None:
    """Sales (card, cash, wallet), a return and an exchange from sale history post once each, no dead letter."""
    async with emulators() as stack, graphql_worker(stack, tmp_path) as running:
        sales = [await stack.pos_admin("POST", "sales", {"kind": kind, "tender": tender, "store": "256"})
                 for kind, tender in (("in_store", "card"), ("in_store", "cash"), ("pickup_later", "cash"),
                                      ("in_store", "wallet"), ("in_store", "card"))]
        await eventually(lambda: _has(posted(stack), {s["orderId"] for s in sales}), timeout=60,
                         what="the five sales posted")
        await stack.pos_admin("POST", "sales", {"kind": "return", "tender": "card", "store": "256",
                                                "original_order_id": sales[0]["orderId"],
                                                "return_lines": [{"orderItemId": "1", "quantity": 1}]})
        exchange = await stack.pos_admin("POST", "sales", {"kind": "exchange", "tender": "cash", "store": "256",
                                                           "original_order_id": sales[1]["orderId"]})

        async def refunded() -> bool:
            return len(await sf_records(stack, "CreditMemo")) >= 2 and exchange["orderId"] in await posted(stack)

        await eventually(refunded, timeout=60, what="the return and the exchange refunded, the exchange posted")
        await stack.pos_admin("POST", f"sales/{sales[4]['orderId']}/update", {"orderStatus": "VOIDED"})
        history = running.extras["sale_history"]
        polls = history.polls  # type: ignore[attr-defined]
        await eventually(lambda: _more(history, polls + 2), what="two more polls (overlap re-reads the day)")
        references = await posted(stack)
        for sale in [*sales, exchange]:
            assert references.count(sale["orderId"]) == 1, sale["orderId"]
        assert len(await sf_records(stack, "CreditMemo")) == 2
        assert await running.store.dead_letters() == []
        counts = await running.store.queue_counts()
        assert all(counts[q]["dead"] == 0 for q in QUEUES)
        methods = {p.get("PaymentMethodId") for p in await sf_records(stack, "Payment")}
        cards = {c["Id"] for c in await sf_records(stack, "CardPaymentMethod")}
        wallets = {w["Id"]: w for w in await sf_records(stack, "DigitalWallet")}
        assert methods & cards and any(wallets[m].get("NickName") == "Cash" for m in methods & set(wallets))
        emails = {o.get("BillingEmailAddress") for o in await sf_records(stack, "Order")
                  if str(o.get("OrderReferenceNumber")).startswith("S-")}
        assert emails == {"a@example.com"}  # from customer(id): a GraphQL sale carries only the customer's id
        assert running.extras["sale_history"].last_error is None  # type: ignore[attr-defined]


async def _has(found: Any, wanted: set[str]) -> bool:
    return wanted <= set(await found)


async def _more(history: Any, polls: int) -> bool:
    return bool(history.polls >= polls)
