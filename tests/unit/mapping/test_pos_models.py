"""POS payload models: field-naming validation errors, enums, aliases, invariants, dedupe keys, wire JSON."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from worker.pos.import_payload import PosFulfillmentOrder
from worker.pos.models import (
    EventType,
    FulfillmentSubType,
    PosSale,
    StoreFulfillmentEvent,
    dump_json,
)


def errors_of(exc: ValidationError) -> list[str]:
    return [
        ".".join(str(p) for p in e["loc"]) + ": " + str(e["msg"]).removeprefix("Value error, ")
        for e in exc.errors(include_url=False)
    ]


def test_reference_sale_parses_with_exact_amounts(sale_body: Any) -> None:
    """The emulator's exact CustomerOrder body validates; amounts become exact Decimal cents."""
    sale = PosSale.model_validate(sale_body())
    line = sale.orderProductList[0]
    assert (line.price, line.subTotal, line.discount, line.tax, line.total) == (
        Decimal("20.00"),
        Decimal("40.00"),
        Decimal("4.00"),
        Decimal("2.97"),
        Decimal("38.97"),
    )
    assert sale.tenders[0].amountAuthorized == Decimal("38.97")
    assert line.delivery_key == "IN_STORE-DEFAULT"
    assert sale.customer_email == "a@example.com"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda b: b["orderProductList"][0].update(fulfillmentType="FOO"),
            'orderProductList.0.fulfillmentType: unknown value "FOO" (expected IN_STORE, ONLINE)',
        ),
        (
            lambda b: b["orderProductList"][0].update(fulfillmentSubType="LATER"),
            'orderProductList.0.fulfillmentSubType: unknown value "LATER" (expected DEFAULT, PICKUP_LATER)',
        ),
        (
            lambda b: b["tenders"][0].update(paymentMethod="Miscellaneous"),
            'tenders.0.paymentMethod: unknown value "Miscellaneous" '
            "(expected CreditCard, DigitalWallet, Cash)",
        ),
        (
            lambda b: b["tenders"][0].update(paymentMethod="DigitalWallet", walletType="SamsungPay"),
            'tenders.0.walletType: unknown value "SamsungPay" (expected ApplePay, GooglePay)',
        ),
        (lambda b: b.pop("orderId"), "orderId: Field required"),
        (lambda b: b["orderProductList"][0].pop("productId"), "orderProductList.0.productId: Field required"),
        (
            lambda b: b["orderProductList"][0].update(total=40.00),
            "orderProductList.0: total: 40.00 is not subTotal - discount + tax = 38.97",
        ),
        (
            lambda b: b["tenders"][0].update(amountAuthorized=30.00),
            ": tenders: amountAuthorized adds up to 30.00, not totalAmount 38.97",
        ),
        (
            lambda b: b["tenders"][0].update(lastFour="42"),
            "tenders.0: lastFour: expected the last four digits of the card",
        ),
        (
            lambda b: b["tenders"][0].update(cardType=None),
            "tenders.0: cardType: required when paymentMethod is CreditCard",
        ),
        (
            lambda b: b["tenders"][0].update(paymentMethod="DigitalWallet"),
            "tenders.0: walletType: required when paymentMethod is DigitalWallet",
        ),
        (
            lambda b: b["orderProductList"][0].update(quantity=0),
            "orderProductList.0.quantity: Input should be greater than 0",
        ),
        (
            lambda b: b["orderProductList"][0].update(price="abc"),
            "orderProductList.0.price: expected a number, got 'abc'",
        ),
    ],
)
def test_invalid_sale_errors_name_the_field(sale_body: Any, mutate: Any, expected: str) -> None:
    """Each invalid sale is rejected with an error that names the offending field."""
    body = sale_body()
    mutate(body)
    with pytest.raises(ValidationError) as caught:
        PosSale.model_validate(body)
    assert expected in errors_of(caught.value)


def test_unknown_fields_ignored_and_subtype_alias_accepted(sale_body: Any) -> None:
    """New POS fields are ignored; the doc spelling ``fulfillmentsubtype`` is read as fulfillmentSubType."""
    body = sale_body(brandNewField={"x": 1})
    line = body["orderProductList"][0]
    line.pop("fulfillmentSubType")
    line["fulfillmentsubtype"] = "PICKUP_LATER"
    line["color"] = "red"
    sale = PosSale.model_validate(body)
    assert sale.orderProductList[0].fulfillmentSubType is FulfillmentSubType.PICKUP_LATER
    assert "brandNewField" not in dump_json(sale)


def test_return_sale_with_negative_totals_validates(sale_body: Any, builders: Any) -> None:
    """A return: no sold lines, positive return lines, negative order total and tender."""
    ret = builders.sale_line("1", "SKU-0001", price="20.00", tax="1.65")
    ret.update(originalOrderId="S-256-000000", originalOrderItemId="1", returnReason="DEFECTIVE")
    ret.pop("fulfillmentType")
    ret.pop("fulfillmentSubType")
    body = sale_body(
        orderProductList=[],
        returnProductList=[ret],
        orderSubTotal=-20.00,
        discount=0,
        taxSubTotal=-1.65,
        totalAmount=-21.65,
    )
    body["tenders"][0]["amountAuthorized"] = -21.65
    sale = PosSale.model_validate(body)
    assert sale.returnProductList[0].originalOrderItemId == "1"
    assert sale.totalAmount == Decimal("-21.65")


def test_store_ids_sent_as_numbers_become_strings(sale_body: Any) -> None:
    """A numeric storeId/orderItemId (the POS is loose about id types) is kept as a string."""
    body = sale_body(storeId=256)
    body["orderProductList"][0]["orderItemId"] = 1
    sale = PosSale.model_validate(body)
    assert (sale.storeId, sale.orderProductList[0].orderItemId) == ("256", "1")


EVENT: dict[str, Any] = {
    "eventType": "PACK",
    "orderType": "BOPIS",
    "orderId": "FO-000123",
    "externalOrderId": "0a3xx0000000001AAA",
    "storeId": "256",
    "eventDate": 1717170000000,
    "storeAssociateId": "2542",
    "items": [
        {"orderItemId": "A", "quantity": 1, "reason": None, "trackingNumber": None, "carrier": None},
        {"orderItemId": "B", "quantity": 2},
    ],
}


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("CANCELED", EventType.CANCELED), ("CANCELLED", EventType.CANCELED), ("SHIPPED", EventType.SHIPPED)],
)
def test_event_type_normalises_cancel_spelling(raw: str, normalised: EventType) -> None:
    """Both cancel spellings are accepted and become CANCELED."""
    event = StoreFulfillmentEvent.model_validate({**EVENT, "eventType": raw})
    assert event.eventType is normalised
    assert dump_json(event)["eventType"] == normalised.value


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            {"eventType": "PICKED"},
            'eventType: unknown value "PICKED" (expected PACK, DELIVERED, SHIPPED, CANCELED)',
        ),
        ({"orderType": "ROPIS"}, 'orderType: unknown value "ROPIS" (expected BOPIS, BOFIS)'),
        ({"externalOrderId": ""}, "externalOrderId: String should have at least 1 character"),
        (
            {"items": [{"orderItemId": "A", "quantity": -1}]},
            "items.0.quantity: Input should be greater than 0",
        ),
    ],
)
def test_invalid_event_errors_name_the_field(override: dict[str, Any], expected: str) -> None:
    """Invalid store-fulfilment events are rejected naming the field."""
    with pytest.raises(ValidationError) as caught:
        StoreFulfillmentEvent.model_validate({**EVENT, **override})
    assert expected in errors_of(caught.value)


def test_event_dedupe_key_is_stable_across_reposts() -> None:
    """Reordered items, 1 vs 1.0 and CANCELLED vs CANCELED hash the same; the key is sha256 hex."""
    a = StoreFulfillmentEvent.model_validate({**EVENT, "eventType": "CANCELED"})
    b = StoreFulfillmentEvent.model_validate(
        {
            **EVENT,
            "eventType": "CANCELLED",
            "items": [{"orderItemId": "B", "quantity": 2.0}, {"orderItemId": "A", "quantity": "1.00"}],
        }
    )
    assert a.dedupe_key("STORE_FULFILLMENT") == b.dedupe_key("STORE_FULFILLMENT")
    assert len(a.dedupe_key("STORE_FULFILLMENT")) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"eventType": "DELIVERED"},
        {"eventDate": 1717170000001},
        {"orderId": "FO-000124"},
        {"items": [{"orderItemId": "A", "quantity": 1}]},
        {"items": [{"orderItemId": "A", "quantity": 2}, {"orderItemId": "B", "quantity": 2}]},
    ],
)
def test_event_dedupe_key_changes_with_each_part(change: dict[str, Any]) -> None:
    """Changing the event type, date, order, items or quantities gives another key."""
    base = StoreFulfillmentEvent.model_validate(EVENT)
    other = StoreFulfillmentEvent.model_validate({**EVENT, **change})
    assert base.dedupe_key("STORE_FULFILLMENT") != other.dedupe_key("STORE_FULFILLMENT")


def test_event_dedupe_key_depends_on_endpoint() -> None:
    """The endpoint name is part of the key."""
    event = StoreFulfillmentEvent.model_validate(EVENT)
    assert event.dedupe_key("STORE_FULFILLMENT") != event.dedupe_key("OTHER")


def test_sale_dedupe_key_repost_equal_update_different(sale_body: Any) -> None:
    """A repost hashes the same; ORDER_UPDATE, another status, total or line count differ from ORDER."""
    sale = PosSale.model_validate(sale_body())
    repost = PosSale.model_validate({**sale_body(), "someNewField": 1})
    assert sale.dedupe_key("ORDER") == repost.dedupe_key("ORDER")
    assert sale.dedupe_key("ORDER") != sale.dedupe_key("ORDER_UPDATE")
    assert sale.dedupe_key("ORDER") != PosSale.model_validate(sale_body(orderStatus="FULFILLED")).dedupe_key(
        "ORDER"
    )
    body = sale_body(totalAmount=48.97)
    body["tenders"][0]["amountAuthorized"] = 48.97
    body["orderProductList"].append(
        {
            **body["orderProductList"][0],
            "orderItemId": "2",
            "discount": 0,
            "tax": 0,
            "subTotal": 10,
            "price": 10,
            "quantity": 1,
            "total": 10,
            "priceAdjustments": [],
        }
    )
    assert sale.dedupe_key("ORDER") != PosSale.model_validate(body).dedupe_key("ORDER")


def test_sale_repr_hides_personal_data(sale_body: Any) -> None:
    """repr() of a sale shows the order id, never the customer's e-mail or name."""
    text = repr(PosSale.model_validate(sale_body()))
    assert "S-256-000001" in text and "a@example.com" not in text and "Ann" not in text


def test_import_payload_serialises_numbers_with_exact_names() -> None:
    """The §8.3 payload dumps amounts as numbers, integral quantities as ints, with the reference's names."""
    order = PosFulfillmentOrder.model_validate(
        {
            "externalOrderId": "0a3",
            "orderId": "FO-1",
            "displayOrderId": "456",
            "storeId": "256",
            "omniFulfillmentType": "PICKUP_IN_STORE",
            "orderDate": 1,
            "currency": "USD",
            "customerProfile": {"firstName": "A", "lastName": "B"},
            "shippingAddress": {"country": "US"},
            "orderProductList": [
                {
                    "orderItemId": "0a4",
                    "externalId": "FO-1-1",
                    "lineNumber": 1,
                    "productId": "S",
                    "quantity": Decimal("1.0"),
                    "price": "89.99",
                    "subTotal": "89.99",
                    "discount": "4.5",
                    "tax": "7.47",
                    "total": "92.96",
                    "omniFulfillmentType": "PICKUP_IN_STORE",
                }
            ],
            "orderSubTotal": "89.99",
            "discount": "4.50",
            "taxSubTotal": "7.47",
            "totalAmount": "92.96",
        }
    )
    wire = dump_json(order)
    line = wire["orderProductList"][0]
    assert line["quantity"] == 1 and isinstance(line["quantity"], int)
    assert (line["price"], line["discount"], wire["totalAmount"], wire["shippingCharge"]) == (
        89.99,
        4.5,
        92.96,
        0.0,
    )
    assert set(wire) == {
        "externalOrderId",
        "orderId",
        "displayOrderId",
        "storeId",
        "omniFulfillmentType",
        "orderDate",
        "currency",
        "customerProfile",
        "shippingAddress",
        "orderProductList",
        "tenders",
        "shippingCharge",
        "orderSubTotal",
        "discount",
        "taxSubTotal",
        "totalAmount",
    }
    assert set(line) == {
        "orderItemId",
        "externalId",
        "lineNumber",
        "productId",
        "name",
        "quantity",
        "price",
        "subTotal",
        "discount",
        "tax",
        "total",
        "omniFulfillmentType",
        "fulfillmentType",
        "fulfillmentSubType",
    }
