"""The POS emulator's sale builder: every kind's arithmetic is exact to the cent, in the contract shape."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from emulator.pos.sales import KINDS, SaleError, SaleRequest, build_sale, default_lines
from worker.pos.models import PosSale


def D(value: Any) -> Decimal:
    return Decimal(str(value))


def request(kind: str, tender: str = "card", **extra: Any) -> SaleRequest:
    rng = random.Random(7)
    lines = extra.pop("lines", default_lines(rng, kind) if kind != "return" else [])
    return SaleRequest(
        kind=kind,
        tender=tender,
        store="256",
        order_id=extra.pop("order_id", "S-256-000009"),
        order_date_ms=1717168580000,
        sequence=9,
        lines=lines,
        customer_email=None,
        anonymous=False,
        **extra,
    )


def original_sale() -> dict[str, Any]:
    lines = [
        {"sku": "SKU-0001", "quantity": 3, "price": "20.00", "discount": "5.00", "tax_rate": "0.0825"},
        {"sku": "SKU-0004", "quantity": 1, "price": "7.25", "discount": "0", "tax_rate": "0.0825"},
    ]
    return build_sale(request("in_store", lines=lines, order_id="S-256-000001"), random.Random(1))


def check_invariants(sale: dict[str, Any]) -> None:
    for line in sale["orderProductList"] + sale["returnProductList"]:
        assert D(line["total"]) == D(line["subTotal"]) - D(line["discount"]) + D(line["tax"])
        assert D(line["subTotal"]) == D(line["price"]) * line["quantity"]
        assert line["quantity"] > 0 and D(line["total"]) >= 0
    for key, total in (
        ("subTotal", "orderSubTotal"),
        ("discount", "discount"),
        ("tax", "taxSubTotal"),
        ("total", "totalAmount"),
    ):
        expected = sum((D(x[key]) for x in sale["orderProductList"]), Decimal(0)) - sum(
            (D(x[key]) for x in sale["returnProductList"]), Decimal(0)
        )
        assert D(sale[total]) == expected, total
    assert sum((D(t["amountAuthorized"]) for t in sale["tenders"]), Decimal(0)) == D(sale["totalAmount"])


def test_reference_example_amounts() -> None:
    """2 x 20.00 with 4.00 off at 8.25% gives tax 2.97 and total 38.97, as in the contract example."""
    lines = [{"sku": "SKU-0001", "quantity": 2, "price": 20, "discount": 4, "tax_rate": 0.0825}]
    sale = build_sale(request("in_store", lines=lines), random.Random(1))
    (line,) = sale["orderProductList"]
    assert (line["subTotal"], line["discount"], line["tax"], line["total"]) == (40.0, 4.0, 2.97, 38.97)
    assert line["priceAdjustments"][0]["priceAdjustmentType"] == "PROMOTION"
    assert line["productTax"] == {"rate": 0.0825, "amount": 2.97}
    assert sale["tenders"][0]["paymentMethod"] == "CreditCard" and sale["tenders"][0]["lastFour"] == "4242"
    assert sale["totalAmount"] == 38.97


@pytest.mark.parametrize(
    ("kind", "types"),
    [
        ("in_store", {("IN_STORE", "DEFAULT", "IN_STORE")}),
        ("pickup_later", {("IN_STORE", "PICKUP_LATER", "IN_STORE")}),
        ("endless_aisle", {("ONLINE", "DEFAULT", "SHIP_TO_HOME")}),
        ("mixed_cart", {("IN_STORE", "DEFAULT", "IN_STORE"), ("ONLINE", "DEFAULT", "SHIP_TO_HOME")}),
    ],
)
@pytest.mark.parametrize("tender", ["card", "wallet", "cash", "split"])
def test_sale_kinds_add_up_and_validate(kind: str, types: set[tuple[str, str, str]], tender: str) -> None:
    """Each sale kind has its fulfilment types, exact totals, tenders summing to the total, and parses."""
    sale = build_sale(request(kind, tender), random.Random(3))
    got = {
        (x["fulfillmentType"], x["fulfillmentSubType"], x["omniFulfillmentType"])
        for x in sale["orderProductList"]
    }
    assert got == types
    assert (sale["shippingAddress"] is not None) == (kind in ("endless_aisle", "mixed_cart"))
    check_invariants(sale)
    methods = [t["paymentMethod"] for t in sale["tenders"]]
    assert (
        methods
        == {
            "card": ["CreditCard"],
            "wallet": ["DigitalWallet"],
            "cash": ["Cash"],
            "split": ["CreditCard", "Cash"],
        }[tender]
    )
    PosSale.model_validate(sale)


def test_return_is_negative_refund_of_original_lines() -> None:
    """A return lists the original lines (positive amounts), negative totals and a negative tender."""
    original = original_sale()
    sale = build_sale(
        request(
            "return",
            original=original,
            return_lines=[{"orderItemId": "1", "quantity": 2, "reason": "DAMAGED"}],
        ),
        random.Random(1),
    )
    assert sale["orderProductList"] == []
    (line,) = sale["returnProductList"]
    assert (line["originalOrderId"], line["originalOrderItemId"], line["returnReason"]) == (
        "S-256-000001",
        "1",
        "DAMAGED",
    )
    assert (line["quantity"], line["subTotal"], line["discount"]) == (2, 40.0, 3.33)
    assert sale["totalAmount"] < 0 and sale["tenders"][0]["amountAuthorized"] == sale["totalAmount"]
    check_invariants(sale)
    PosSale.model_validate(sale)


def test_full_return_refunds_exactly_what_was_paid() -> None:
    """Returning everything refunds the original total to the cent."""
    original = original_sale()
    sale = build_sale(request("return", original=original), random.Random(1))
    assert D(sale["totalAmount"]) == -D(original["totalAmount"])
    check_invariants(sale)


def test_exchange_has_both_lists() -> None:
    """An exchange sells new lines and returns old ones; the net is what the tender pays or refunds."""
    sale = build_sale(
        request("exchange", tender="cash", original=original_sale(), return_lines=[{"orderItemId": "2"}]),
        random.Random(1),
    )
    assert sale["orderProductList"] and sale["returnProductList"]
    check_invariants(sale)
    PosSale.model_validate(sale)


def test_all_kinds_listed() -> None:
    """The builder knows the six kinds of the admin API."""
    assert set(KINDS) == {"in_store", "pickup_later", "endless_aisle", "mixed_cart", "return", "exchange"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "layaway"}, "kind"),
        ({"tender": "cheque"}, "tender"),
        ({"lines": [{"quantity": 1}]}, "lines[0].sku"),
        ({"lines": [{"sku": "A", "quantity": 0}]}, "lines[0].quantity"),
    ],
)
def test_bad_requests_name_the_field(change: dict[str, Any], field: str) -> None:
    """A bad sale request raises SaleError naming the field."""
    base = request("in_store")
    values = {**base.__dict__, **change}
    with pytest.raises(SaleError, match=field.replace("[", r"\[").replace("]", r"\]")):
        build_sale(SaleRequest(**values), random.Random(1))
