"""FulfillmentOrder query record -> POS import payload (pos-api §8.3 mapping rules)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from worker.mapping.errors import MappingError
from worker.mapping.fulfillment import fo_to_pos_order, split_name
from worker.pos.models import dump_json

NOW = 1_700_000_000_000
BOPIS_OMNI_TYPE, BOFIS_OMNI_TYPE = "PICKUP_IN_STORE", "SHIP_TO_HOME_CURRENT_STORE"  # the default rules' values


def _attrs(kind: str, record_id: str) -> dict[str, str]:
    return {"type": kind, "url": f"/services/data/v62.0/sobjects/{kind}/{record_id}"}


def envelope(records: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """A parent->child subquery result as REST returns it (null when there are no children)."""
    if not records:
        return None
    return {"totalSize": len(records), "done": True, "records": records}


def foli(
    foli_id: str,
    number: str,
    *,
    sku: str | None = "SKU-1",
    name: str = "Tee",
    qty: float = 1.0,
    unit: float = 10.0,
    line: float | None = None,
    adjustment: float = 0.0,
    tax: float = 0.0,
    total: float | None = None,
    kind: str = "Order Product",
) -> dict[str, Any]:
    line_amount = unit * qty if line is None else line
    product = (
        None
        if sku is None and kind != "Order Product"
        else {
            "attributes": _attrs("Product2", "01txx0000000001AAA"),
            "StockKeepingUnit": sku,
            "Name": name,
            "ProductCode": sku,
        }
    )
    return {
        "attributes": _attrs("FulfillmentOrderLineItem", foli_id),
        "Id": foli_id,
        "FulfillmentOrderLineItemNumber": number,
        "Quantity": qty,
        "OriginalQuantity": qty,
        "UnitPrice": unit,
        "TotalLineAmount": line_amount,
        "TotalPrice": line_amount + adjustment,
        "TotalTaxAmount": tax,
        "TotalAdjustmentAmount": adjustment,
        "TotalAmount": round(line_amount + adjustment + tax, 2) if total is None else total,
        "Type": kind,
        "TypeCode": "Product" if kind == "Order Product" else "Charge",
        "Description": name,
        "OrderItemSummaryId": "10uxx0000000001AAA",
        "OrderItemId": "802xx0000000001AAA",
        "Product2Id": "01txx0000000001AAA",
        "Product2": product,
    }


def fo_record(
    *,
    lines: list[dict[str, Any]],
    fo_type: str = "Retail Store",
    method: str | None = "Standard Ground",
    store: str | None = "256",
    grand: float | None = None,
    taxes: list[dict[str, Any]] | None = None,
    adjustments: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One FulfillmentOrder exactly as the fulfillment query returns it."""
    record: dict[str, Any] = {
        "attributes": _attrs("FulfillmentOrder", "0a3xx0000000001AAA"),
        "Id": "0a3xx0000000001AAA",
        "FulfillmentOrderNumber": "FO-000123",
        "Status": "Allocated",
        "StatusCategory": "ACTIVATED",
        "Type": fo_type,
        "TypeCategory": "PHYSICAL",
        "OrderSummaryId": "1Osxx0000000001AAA",
        "OrderId": "801xx0000000001AAA",
        "AccountId": "001xx0000000001AAA",
        "FulfilledFromLocationId": "131xx0000000001AAA",
        "DeliveryMethodId": "2Dmxx0000000001AAA",
        "FulfilledToName": "Mary Ann Lee",
        "FulfilledToEmailAddress": "mary@example.com",
        "FulfilledToPhone": "+15550101",
        "FulfilledToStreet": "1 Main St\nApt 4",
        "FulfilledToCity": "Austin",
        "FulfilledToState": "TX",
        "FulfilledToPostalCode": "78701",
        "FulfilledToCountry": "US",
        "GrandTotalAmount": grand,
        "CreatedDate": "2025-05-01T12:00:00.000+0000",
        "LastModifiedDate": "2025-05-01T12:05:00.000+0000",
        "DeliveryMethod": None
        if method is None
        else {"attributes": _attrs("OrderDeliveryMethod", "2Dmxx0000000001AAA"), "Name": method},
        "FulfilledFromLocation": {
            "attributes": _attrs("Location", "131xx0000000001AAA"),
            "POS_Store_Id__c": store,
        },
        "OrderSummary": {
            "attributes": _attrs("OrderSummary", "1Osxx0000000001AAA"),
            "OrderNumber": "00000456",
            "BillingEmailAddress": "bill@example.com",
            "BillingPhoneNumber": "+15550199",
        },
        "FulfillmentOrderLineItems": envelope(lines),
        "FulfillmentOrderItemTaxes": envelope(taxes),
        "FulfillmentOrderItemAdjustments": envelope(adjustments),
    }
    record.update(fields)
    return record


def bopis(b: Any, **kw: Any) -> dict[str, Any]:
    """A BOPIS FO: two products (one discounted and taxed), one delivery charge, lines out of order."""
    lines = [
        foli("0a4xx0000000002AAA", "FOLI-0002", sku="SKU-2", name="Cap", qty=1.0, unit=15.0, tax=1.24),
        foli(
            "0a4xx0000000001AAA",
            "FOLI-0001",
            sku="SKU-1",
            name="Tee",
            qty=2.0,
            unit=44.995,
            line=89.99,
            adjustment=-4.5,
            tax=7.47,
        ),
        foli(
            "0a4xx0000000003AAA",
            "FOLI-0003",
            sku=None,
            name="Shipping",
            qty=1.0,
            unit=5.0,
            tax=0.41,
            kind="Delivery Charge",
        ),
    ]
    return fo_record(lines=lines, fo_type="In Store Pickup", method="BOPIS Pickup", grand=114.61, **kw)


def test_bopis_record_maps_identifiers_store_and_type(builders: Any, sf: Any) -> None:
    """Ids, display id, store id from the Location field, BOPIS type, CreatedDate as epoch ms."""
    order = fo_to_pos_order(bopis(builders), sf=sf, now_ms=NOW)
    assert (order.externalOrderId, order.orderId, order.displayOrderId, order.storeId) == (
        "0a3xx0000000001AAA",
        "FO-000123",
        "00000456",
        "256",
    )
    assert order.omniFulfillmentType == BOPIS_OMNI_TYPE == "PICKUP_IN_STORE"
    assert order.orderDate == 1746100800000
    assert order.currency == "USD" and order.tenders == []


def test_lines_sorted_numbered_and_amounts_exact(builders: Any, sf: Any) -> None:
    """Product lines only, by FOLI number, with exact Decimal price/subTotal/discount/tax/total."""
    order = fo_to_pos_order(bopis(builders), sf=sf, now_ms=NOW)
    rows = [
        (
            ln.orderItemId,
            ln.externalId,
            ln.lineNumber,
            ln.productId,
            ln.quantity,
            ln.price,
            ln.subTotal,
            ln.discount,
            ln.tax,
            ln.total,
        )
        for ln in order.orderProductList
    ]
    assert rows == [
        (
            "0a4xx0000000001AAA",
            "FO-000123-1",
            1,
            "SKU-1",
            Decimal(2),
            Decimal("45.00"),
            Decimal("89.99"),
            Decimal("4.50"),
            Decimal("7.47"),
            Decimal("92.96"),
        ),
        (
            "0a4xx0000000002AAA",
            "FO-000123-2",
            2,
            "SKU-2",
            Decimal(1),
            Decimal("15.00"),
            Decimal("15.00"),
            Decimal("0.00"),
            Decimal("1.24"),
            Decimal("16.24"),
        ),
    ]
    line = order.orderProductList[0]
    assert (line.name, line.omniFulfillmentType, line.fulfillmentType, line.fulfillmentSubType) == (
        "Tee",
        BOPIS_OMNI_TYPE,
        "ONLINE",
        "DEFAULT",
    )


def test_order_totals_are_sums_of_lines_plus_shipping(builders: Any, sf: Any) -> None:
    """orderSubTotal/discount/taxSubTotal sum the lines; shippingCharge holds the delivery line incl. tax."""
    order = fo_to_pos_order(bopis(builders), sf=sf, now_ms=NOW)
    assert (
        order.orderSubTotal,
        order.discount,
        order.taxSubTotal,
        order.shippingCharge,
        order.totalAmount,
    ) == (Decimal("104.99"), Decimal("4.50"), Decimal("8.71"), Decimal("5.41"), Decimal("114.61"))
    wire = dump_json(order)
    assert wire["totalAmount"] == 114.61 and wire["shippingCharge"] == 5.41


def test_customer_and_address_from_fulfilled_to(builders: Any, sf: Any) -> None:
    """Name split on the last space, raw name kept, street lines split, contact from FulfilledTo*."""
    order = fo_to_pos_order(bopis(builders), sf=sf, now_ms=NOW)
    c, a = order.customerProfile, order.shippingAddress
    assert (c.customerId, c.firstName, c.lastName, c.displayName, c.email, c.phoneMobile) == (
        "001xx0000000001AAA",
        "Mary Ann",
        "Lee",
        "Mary Ann Lee",
        "mary@example.com",
        "+15550101",
    )
    assert (
        a.firstName,
        a.lastName,
        a.addressLine1,
        a.addressLine2,
        a.city,
        a.state,
        a.postalCode,
        a.country,
    ) == ("Mary Ann", "Lee", "1 Main St", "Apt 4", "Austin", "TX", "78701", "US")


def test_contact_falls_back_to_order_summary(builders: Any, sf: Any) -> None:
    """Without FulfilledTo e-mail/phone the OrderSummary billing e-mail/phone are used."""
    record = bopis(builders, FulfilledToEmailAddress=None, FulfilledToPhone=None)
    c = fo_to_pos_order(record, sf=sf, now_ms=NOW).customerProfile
    assert (c.email, c.phoneMobile) == ("bill@example.com", "+15550199")


@pytest.mark.parametrize(
    ("fo_type", "method", "expected"),
    [
        ("In Store Pickup", "Standard Ground", BOPIS_OMNI_TYPE),
        ("Retail Store", "BOPIS", BOFIS_OMNI_TYPE),
        ("Retail Store", "Store Pickup CAD", BOFIS_OMNI_TYPE),
        ("Retail Store", "Standard Ground", BOFIS_OMNI_TYPE),
    ],
)
def test_bopis_vs_bofis(builders: Any, sf: Any, fo_type: str, method: str | None, expected: str) -> None:
    """The FO Type decides through the configured rules (defaults), never words in the delivery method name."""
    record = fo_record(lines=[foli("L1", "1")], fo_type=fo_type, method=method)
    order = fo_to_pos_order(record, sf=sf, now_ms=NOW)
    assert order.omniFulfillmentType == expected
    assert {line.omniFulfillmentType for line in order.orderProductList} == {expected}


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("Mary Ann Lee", ("Mary Ann", "Lee")),
        ("Cher", ("", "Cher")),
        ("  Ann   Lee ", ("Ann", "Lee")),
        ("", ("", "")),
    ],
)
def test_split_name_on_last_space(name: str, split: tuple[str, str]) -> None:
    """FulfilledToName splits on its last space; a single word is a last name."""
    assert split_name(name) == split


def test_null_children_and_missing_created_date(builders: Any, sf: Any) -> None:
    """Null tax/adjustment envelopes are empty; a missing CreatedDate falls back to now."""
    record = fo_record(lines=[foli("L1", "1", unit=10.0, tax=0.83)], CreatedDate=None)
    order = fo_to_pos_order(record, sf=sf, now_ms=NOW)
    assert order.orderDate == NOW and order.totalAmount == Decimal("10.83")


def test_child_amounts_used_when_line_totals_absent(builders: Any, sf: Any) -> None:
    """Without FOLI tax/adjustment totals the FulfillmentOrderItemTax/Adjustment children are summed."""
    line = foli("L1", "1", unit=20.0)
    for field in ("TotalTaxAmount", "TotalAdjustmentAmount", "TotalAmount"):
        line[field] = None
    taxes = [
        {
            "Amount": 1.1,
            "Rate": 5.5,
            "Type": "Actual",
            "FulfillmentOrderLineItemId": "L1",
            "FulfillmentOrderItemAdjustId": None,
        },
        {
            "Amount": 0.2,
            "Rate": 1.0,
            "Type": "Actual",
            "FulfillmentOrderLineItemId": "L1",
            "FulfillmentOrderItemAdjustId": None,
        },
    ]
    adjustments = [
        {
            "Amount": -2.0,
            "FulfillmentOrderLineItemId": "L1",
            "PromotionName": "P",
            "CouponName": None,
            "Description": None,
        }
    ]
    record = fo_record(lines=[line], taxes=taxes, adjustments=adjustments)
    ln = fo_to_pos_order(record, sf=sf, now_ms=NOW).orderProductList[0]
    assert (ln.discount, ln.tax, ln.total) == (Decimal("2.00"), Decimal("1.30"), Decimal("19.30"))


def test_fully_canceled_line_is_skipped(builders: Any, sf: Any) -> None:
    """A product line whose current Quantity is 0 is not sent; numbering stays contiguous."""
    lines = [foli("L1", "1", qty=0.0, unit=10.0, line=0.0), foli("L2", "2", sku="SKU-2")]
    order = fo_to_pos_order(fo_record(lines=lines), sf=sf, now_ms=NOW)
    assert [(ln.orderItemId, ln.lineNumber) for ln in order.orderProductList] == [("L2", 1)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r, b: r["FulfilledFromLocation"].update(POS_Store_Id__c="  "),
            "FulfillmentOrder 0a3xx0000000001AAA: FulfilledFromLocation.POS_Store_Id__c (ORDER_STORE_ID) is "
            "missing",
        ),
        (lambda r, b: r.update(FulfilledFromLocation=None), "FulfilledFromLocation.POS_Store_Id__c"),
        (
            lambda r, b: r["FulfillmentOrderLineItems"]["records"][0].update(Product2=None),
            "line L1: Product2.StockKeepingUnit is missing",
        ),
        (
            lambda r, b: r["FulfillmentOrderLineItems"]["records"][0]["Product2"].update(StockKeepingUnit=""),
            "line L1: Product2.StockKeepingUnit is missing",
        ),
        (
            lambda r, b: r["FulfillmentOrderLineItems"]["records"][0].update(TotalAmount=99.0),
            "line L1: TotalAmount 99.00 is not TotalLineAmount + TotalAdjustmentAmount + TotalTaxAmount "
            "= 10.00",
        ),
        (
            lambda r, b: r["FulfillmentOrderLineItems"]["records"][0].update(UnitPrice="n/a"),
            "line L1.UnitPrice: expected a number",
        ),
        (
            lambda r, b: r["FulfillmentOrderLineItems"]["records"][0].update(Type="Gift Wrap", TypeCode=None),
            "unknown Type 'Gift Wrap'",
        ),
        (lambda r, b: r.update(GrandTotalAmount=12.0), "GrandTotalAmount 12.00 is not the sum of its lines"),
        (lambda r, b: r.update(FulfillmentOrderLineItems=None), "no product line with a quantity to fulfil"),
        (lambda r, b: r.update(FulfillmentOrderNumber=None), "FulfillmentOrderNumber is missing"),
        (
            lambda r, b: r.update(CreatedDate="yesterday"),
            "CreatedDate 'yesterday' is not a Salesforce datetime",
        ),
        (
            lambda r, b: r.update(FulfillmentOrderItemTaxes=[1, 2]),
            "FulfillmentOrderItemTaxes: expected a query",
        ),
    ],
)
def test_malformed_records_raise_mapping_error(builders: Any, sf: Any, change: Any, message: str) -> None:
    """Each malformed record is a permanent MappingError whose message names the field (and FO/line)."""
    record = fo_record(lines=[foli("L1", "1")], grand=10.0)
    change(record, builders)
    with pytest.raises(MappingError) as caught:
        fo_to_pos_order(record, sf=sf, now_ms=NOW)
    assert message in str(caught.value)
    assert caught.value.transient is False and caught.value.code == "MAPPING_ERROR"


def test_created_date_formats(builders: Any, sf: Any) -> None:
    """Salesforce's +0000 offset and a Z suffix give the same epoch ms."""
    a = fo_record(lines=[foli("L1", "1")], CreatedDate="2025-05-01T12:00:00.123+0000")
    b = fo_record(lines=[foli("L1", "1")], CreatedDate="2025-05-01T14:00:00.123+0200")
    assert fo_to_pos_order(a, sf=sf, now_ms=NOW).orderDate == fo_to_pos_order(b, sf=sf, now_ms=NOW).orderDate
    assert fo_to_pos_order(a, sf=sf, now_ms=NOW).orderDate == 1746100800123
