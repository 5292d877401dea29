"""GraphQL sale history node -> the POS export body: tables of lines, payments and statuses, then PosSale."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from worker.flows.sale_sweep import sweep_jobs
from worker.mapping.graphql_sale import SaleMappingError, epoch_ms, sale_body
from worker.pos.models import PosSale

LINE = {"id": "1", "itemId": "I-1", "sku": "SKU-1", "description": "Tee", "quantity": 2, "unitPrice": "20.00",
        "subtotal": "40.00", "discount": "4.00", "tax": "2.97", "taxRate": 0.0825, "total": "38.97",
        "fulfillment": "TAKE_WITH", "returnOf": None, "returnReason": None}
NODE: dict[str, Any] = {
    "id": "S-1", "number": "1001", "status": "COMPLETED", "createdAt": "2026-12-01T13:45:00.250Z",
    "modifiedAt": "2026-12-01T13:46:00.000Z", "currency": "USD", "locationId": "LOC-256", "customerId": "C1",
    "shippingAddress": None, "lines": [LINE],
    "payments": [{"id": "P1", "method": "CARD", "amount": "38.97", "cardBrand": "Visa", "cardLast4": "4242",
                  "walletType": None, "reference": "T1", "approved": True}],
    "subtotal": "40.00", "discountTotal": "4.00", "taxTotal": "2.97", "total": "38.97",
}
CUSTOMER = {"id": "C1", "email": "a@example.com", "firstName": "Ann", "lastName": "Lee", "phone": "+1555"}


def node(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(NODE)
    out.update(changes)
    return out


@pytest.mark.parametrize(("fulfillment", "expected"), [
    ("TAKE_WITH", ("IN_STORE", "DEFAULT", "IN_STORE")),
    ("PICKUP_LATER", ("IN_STORE", "PICKUP_LATER", "IN_STORE")),
    ("SHIP", ("ONLINE", "DEFAULT", "SHIP_TO_HOME")),
])
def test_line_fulfillment_maps_to_type_subtype_and_omni_type(fulfillment: str, expected: tuple[str, ...]) -> None:
    """Each fulfillment value becomes the export's fulfillmentType, fulfillmentSubType and omniFulfillmentType."""
    shipping = {"firstName": "Ann", "lastName": "Lee", "line1": "1 Main", "line2": None, "city": "Austin",
                "region": "TX", "postalCode": "78701", "country": "US"}
    body = sale_body(node(lines=[{**LINE, "fulfillment": fulfillment}], shippingAddress=shipping), store_id="256",
                     customer=CUSTOMER)
    line = body["orderProductList"][0]
    assert (line["fulfillmentType"], line["fulfillmentSubType"], line["omniFulfillmentType"]) == expected
    assert PosSale.model_validate(body).orderProductList[0].delivery_key == f"{expected[0]}-{expected[1]}"


@pytest.mark.parametrize(("payment", "tender"), [
    ({"method": "CARD", "cardBrand": "Visa", "cardLast4": "4242"},
     {"paymentMethod": "CreditCard", "cardType": "Visa", "lastFour": "4242"}),
    ({"method": "CASH"}, {"paymentMethod": "Cash", "cardType": None, "walletType": None}),
    ({"method": "WALLET", "walletType": "APPLE_PAY"}, {"paymentMethod": "DigitalWallet", "walletType": "ApplePay"}),
    ({"method": "WALLET", "walletType": "GOOGLE_PAY"}, {"paymentMethod": "DigitalWallet", "walletType": "GooglePay"}),
])
def test_payment_methods_map_to_pos_tenders(payment: dict[str, Any], tender: dict[str, Any]) -> None:
    """CARD, CASH and WALLET payments become CreditCard, Cash and DigitalWallet tenders with their details."""
    base = {"id": "P1", "amount": "38.97", "cardBrand": None, "cardLast4": None, "walletType": None,
            "reference": "T1", "approved": True}
    body = sale_body(node(payments=[{**base, **payment}]), store_id="256", customer=CUSTOMER)
    assert tender.items() <= body["tenders"][0].items()
    assert PosSale.model_validate(body).tenders[0].paymentMethod.value == tender["paymentMethod"]


def test_a_sale_with_only_a_customer_id_gets_the_customers_email_and_its_store_code() -> None:
    """The customer(id) answer supplies the e-mail and profile; the location code is the storeId."""
    sale = PosSale.model_validate(sale_body(NODE, store_id="256", customer=CUSTOMER))
    assert sale.customer_email == "a@example.com" and sale.storeId == "256"
    assert sale.orderDate == epoch_ms("2026-12-01T13:45:00.250Z", "createdAt") == 1796132700250
    assert sale.customerProfile is not None and sale.customerProfile.customerId == "C1"


def test_an_anonymous_sale_has_no_email_and_no_profile() -> None:
    """Without a customerId the body has neither e-mail nor customer profile (the default account is used)."""
    body = sale_body(node(customerId=None), store_id="256", customer=None)
    assert body["email"] is None and body["customerProfile"] is None


def test_an_exchange_splits_into_sold_and_returned_lines_with_positive_amounts() -> None:
    """An exchange's negative lines become positive returnProductList lines; it gives a sale and a return job."""
    returned = {**LINE, "id": "R1", "quantity": -1, "subtotal": "-20.00", "discount": "-2.00", "tax": "-1.49",
                "total": "-19.49", "returnOf": {"saleId": "S-0", "lineId": "1"}, "returnReason": "DAMAGED"}
    body = sale_body(node(lines=[LINE, returned], subtotal="20.00", discountTotal="2.00", taxTotal="1.48",
                          total="19.48", payments=[{**NODE["payments"][0], "amount": "19.48"}]),
                     store_id="256", customer=CUSTOMER)
    sale = PosSale.model_validate(body)
    (back,) = sale.returnProductList
    assert (str(back.total), back.originalOrderId, back.originalOrderItemId, back.returnReason) == (
        "19.49", "S-0", "1", "DAMAGED")
    jobs, refused = sweep_jobs([body])
    assert refused == [] and [job.queue for job in jobs] == ["sale", "return"]


def test_the_same_sale_read_twice_gets_the_same_dedupe_key_and_a_changed_status_another() -> None:
    """A sale seen again in an overlap maps to the same queue row key; a VOIDED update to a new one."""
    first = sweep_jobs([sale_body(NODE, store_id="256", customer=CUSTOMER)])[0]
    again = sweep_jobs([sale_body(copy.deepcopy(NODE), store_id="256", customer=CUSTOMER)])[0]
    voided = sweep_jobs([sale_body(node(status="VOIDED"), store_id="256", customer=CUSTOMER)])[0]
    assert first[0].dedupe_key == again[0].dedupe_key != voided[0].dedupe_key


@pytest.mark.parametrize(("changes", "message"), [
    ({"payments": [{**NODE["payments"][0], "method": "GIFTCARD"}]}, "payments.0.method: 'GIFTCARD' has no"),
    ({"lines": [{**LINE, "fulfillment": "DRONE"}]}, "lines.0.fulfillment: unknown value 'DRONE'"),
    ({"lines": [{**LINE, "quantity": 0}]}, "lines.0.quantity: expected a non-zero whole number"),
    ({"lines": [{**LINE, "tax": "abc"}]}, "lines.0.tax: expected a decimal amount"),
    ({"createdAt": "2026-12-01T13:45:00"}, "createdAt: expected an ISO 8601 instant with a zone"),
])
def test_a_sale_the_export_cannot_express_is_refused_naming_the_field(changes: dict[str, Any], message: str) -> None:
    """An unmappable sale raises SaleMappingError whose message starts with the GraphQL field path."""
    with pytest.raises(SaleMappingError) as caught:
        sale_body(node(**changes), store_id="256", customer=CUSTOMER)
    assert str(caught.value).startswith(message)
