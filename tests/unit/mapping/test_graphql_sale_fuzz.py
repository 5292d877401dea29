"""Hypothesis at the GraphQL POS edge: whatever a sale history node holds, mapping and enqueueing it either gives
queue rows or a refusal naming the field, never an unexpected exception."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from worker.flows.sale_sweep import sweep_jobs
from worker.mapping.graphql_sale import SaleMappingError, sale_body

ANY = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                st.text(max_size=12), st.sampled_from(["1.00", "-2.50", "0", "abc", "1e400", "NaN"]))
AMOUNT = st.one_of(st.sampled_from(["0.00", "10.00", "-10.00", "3.33", "x"]), ANY)
LINE = st.fixed_dictionaries({
    "id": st.one_of(st.text(min_size=1, max_size=6), ANY), "sku": ANY, "itemId": ANY, "description": ANY,
    "quantity": st.one_of(st.integers(-3, 3), ANY), "unitPrice": AMOUNT, "subtotal": AMOUNT, "discount": AMOUNT,
    "tax": AMOUNT, "total": AMOUNT, "taxRate": ANY,
    "fulfillment": st.one_of(st.sampled_from(["TAKE_WITH", "PICKUP_LATER", "SHIP"]), ANY),
    "returnOf": st.one_of(st.none(), st.fixed_dictionaries({"saleId": ANY, "lineId": ANY})),
    "returnReason": ANY,
})
PAYMENT = st.fixed_dictionaries({
    "id": ANY, "method": st.one_of(st.sampled_from(["CARD", "CASH", "WALLET", "GIFTCARD"]), ANY),
    "amount": AMOUNT, "cardBrand": ANY, "cardLast4": st.one_of(st.just("4242"), ANY),
    "walletType": st.one_of(st.sampled_from(["APPLE_PAY", "GOOGLE_PAY"]), ANY), "reference": ANY, "approved": ANY,
})
NODE = st.fixed_dictionaries({
    "id": st.one_of(st.text(min_size=1, max_size=12), ANY), "number": ANY,
    "status": st.one_of(st.sampled_from(["COMPLETED", "VOIDED"]), ANY),
    "createdAt": st.one_of(st.just("2026-12-01T13:45:00.000Z"), ANY), "currency": st.one_of(st.just("USD"), ANY),
    "customerId": ANY, "shippingAddress": st.one_of(st.none(), st.fixed_dictionaries({"line1": ANY, "city": ANY})),
    "lines": st.lists(LINE, max_size=3), "payments": st.lists(PAYMENT, max_size=2),
    "subtotal": AMOUNT, "discountTotal": AMOUNT, "taxTotal": AMOUNT, "total": AMOUNT,
})


@settings(max_examples=400, deadline=None)
@given(node=NODE, customer=st.one_of(st.none(), st.fixed_dictionaries({"email": ANY, "firstName": ANY})),
       store=st.sampled_from(["256", "", "x" * 300]))
def test_any_sale_node_maps_to_rows_or_a_named_refusal(node: dict[str, Any], customer: dict[str, Any] | None,
                                                      store: str) -> None:
    """sale_body + sweep_jobs never raise anything but SaleMappingError; each refusal names the order and a field."""
    try:
        body = sale_body(node, store_id=store, customer=customer)
    except SaleMappingError as exc:
        assert str(exc).split(":")[0]
        return
    jobs, refused = sweep_jobs([body])
    assert bool(jobs) != bool(refused)
    for line in refused:
        assert ": " in line
