"""Salesforce FulfillmentOrder (REST query record) -> POS store-fulfilment order (pos-api.md §8.3), pure.

``record`` is one FulfillmentOrder exactly as the query of :mod:`worker.mapping.fulfillment_query` returns it:
``attributes``, parent objects (``DeliveryMethod``, ``FulfilledFromLocation``, ``OrderSummary``, ``Product2``)
or ``null``, child envelopes ``{"totalSize", "done", "records"}`` or ``null``. Currency fields arrive as JSON
numbers and become exact Decimal cents.

Totals: product lines (``Type = 'Order Product'``) become POS lines; charge lines (``Delivery Charge`` and
``Fee``, TypeCode ``Charge``) are summed, with their own adjustments and tax, into ``shippingCharge`` (the POS
payload has no other charge bucket). ``orderSubTotal``/``discount``/``taxSubTotal`` are sums over product
lines, ``totalAmount`` = sum of line totals + ``shippingCharge``, and it must agree with the FO
``GrandTotalAmount``.

The POS fulfillment type (BOPIS / BOFIS) comes from ``salesforce.fulfillment_rules`` and the tenders from the order's
payments, both in :mod:`worker.mapping.fulfillment_pos` (which also says what of the POS contract is unconfirmed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from worker.config import SalesforceConfig
from worker.pos.import_payload import PosAddress, PosCustomerProfile, PosFulfillmentOrder, PosOrderLine

from .errors import MappingError
from .fulfillment_pos import pos_fulfillment_type, tenders
from .fulfillment_query import ADJUSTMENTS_RELATIONSHIP, LINES_RELATIONSHIP, TAXES_RELATIONSHIP
from .money import ZERO, cents, close, parse_sf_datetime, to_decimal

LINE_FULFILLMENT_TYPE = "ONLINE"
LINE_FULFILLMENT_SUBTYPE = "DEFAULT"
PRODUCT_TYPE = "Order Product"
CHARGE_TYPES = frozenset({"Delivery Charge", "Fee"})
DEFAULT_CURRENCY = "USD"


def children(record: Mapping[str, Any], relationship: str) -> list[dict[str, Any]]:
    """Records of a child-relationship envelope (``null`` or missing -> ``[]``)."""
    envelope = record.get(relationship)
    if envelope is None:
        return []
    if not isinstance(envelope, Mapping) or not isinstance(envelope.get("records"), list):
        raise MappingError(f"{relationship}: expected a query result envelope with records")
    return list(envelope["records"])


def parent(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = record.get(name)
    return value if isinstance(value, Mapping) else {}


def text(value: object) -> str:
    return "" if value is None else str(value).strip()


def split_name(full: str) -> tuple[str, str]:
    """Split on the LAST space: "Mary Ann Lee" -> ("Mary Ann", "Lee"); one word is a last name."""
    full = " ".join(full.split())
    first, _, last = full.rpartition(" ")
    return first, last


def _natural(value: object) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text(value)))


def _amount(line: Mapping[str, Any], field: str, fallback: Decimal, where: str) -> Decimal:
    value = line.get(field)
    if value is None:
        return fallback
    try:
        return cents(value)
    except ValueError as exc:
        raise MappingError(f"{where}.{field}: {exc}", fields=[field]) from None


def _quantity(row: Mapping[str, Any], where: str) -> Decimal:
    try:
        return to_decimal(row.get("Quantity") or 0)
    except ValueError as exc:
        raise MappingError(f"{where}.Quantity: {exc}", fields=["Quantity"]) from None


def _per_line(rows: Sequence[Mapping[str, Any]], relationship: str) -> dict[str, Decimal]:
    """Sum of child ``Amount`` per FulfillmentOrderLineItemId (fallback when the FOLI total is absent)."""
    sums: dict[str, Decimal] = {}
    for row in rows:
        key = text(row.get("FulfillmentOrderLineItemId"))
        sums[key] = sums.get(key, ZERO) + _amount(row, "Amount", ZERO, relationship)
    return sums


def _store_id(record: Mapping[str, Any], sf: SalesforceConfig, fo_id: str) -> str:
    field = sf.store_id_field
    store_id = text(parent(record, "FulfilledFromLocation").get(field))
    if not store_id:
        raise MappingError(
            f"FulfillmentOrder {fo_id}: FulfilledFromLocation.{field} (ORDER_STORE_ID) is missing or blank",
            fields=[f"FulfilledFromLocation.{field}"],
        )
    return store_id


def _line(
    row: Mapping[str, Any],
    number: int,
    order_id: str,
    omni: str,
    taxes: Mapping[str, Decimal],
    adjustments: Mapping[str, Decimal],
    fo_id: str,
) -> PosOrderLine:
    foli_id = text(row.get("Id"))
    where = f"FulfillmentOrder {fo_id} line {foli_id or number}"
    product = parent(row, "Product2")
    sku = text(product.get("StockKeepingUnit"))
    if not foli_id:
        raise MappingError(f"{where}: Id is missing", fields=["Id"])
    if not sku:
        raise MappingError(
            f"{where}: Product2.StockKeepingUnit is missing", fields=["Product2.StockKeepingUnit"]
        )
    quantity = _quantity(row, where)
    price = _amount(row, "UnitPrice", ZERO, where)
    sub_total = _amount(row, "TotalLineAmount", cents(price * quantity), where)
    discount = -_amount(row, "TotalAdjustmentAmount", adjustments.get(foli_id, ZERO), where)
    tax = _amount(row, "TotalTaxAmount", taxes.get(foli_id, ZERO), where)
    expected = sub_total - discount + tax
    total = _amount(row, "TotalAmount", expected, where)
    if not close(total, expected):
        raise MappingError(
            f"{where}: TotalAmount {total} is not TotalLineAmount + TotalAdjustmentAmount + "
            f"TotalTaxAmount = {expected}",
            fields=["TotalAmount"],
        )
    return PosOrderLine(
        orderItemId=foli_id,
        externalId=f"{order_id}-{number}",
        lineNumber=number,
        productId=sku,
        name=text(product.get("Name")) or text(row.get("Description")) or sku,
        quantity=quantity,
        price=price,
        subTotal=sub_total,
        discount=discount,
        tax=tax,
        total=total,
        omniFulfillmentType=omni,
        fulfillmentType=LINE_FULFILLMENT_TYPE,
        fulfillmentSubType=LINE_FULFILLMENT_SUBTYPE,
    )


def _charge(
    row: Mapping[str, Any], taxes: Mapping[str, Decimal], adjustments: Mapping[str, Decimal], fo_id: str
) -> Decimal:
    foli_id = text(row.get("Id"))
    where = f"FulfillmentOrder {fo_id} charge line {foli_id}"
    base = _amount(row, "TotalLineAmount", ZERO, where) + _amount(
        row, "TotalAdjustmentAmount", adjustments.get(foli_id, ZERO), where
    )
    expected = base + _amount(row, "TotalTaxAmount", taxes.get(foli_id, ZERO), where)
    return _amount(row, "TotalAmount", expected, where)


def fo_to_pos_order(
    record: Mapping[str, Any],
    *,
    sf: SalesforceConfig,
    now_ms: int,
    currency: str = DEFAULT_CURRENCY,
    payment_groups: Sequence[Mapping[str, Any]] = (),
) -> PosFulfillmentOrder:
    """Map one FulfillmentOrder query record to the POS import payload (raises MappingError, permanent).

    ``payment_groups``: the PaymentGroup records of the FO's Order (``build_payments_query``), for the tenders.
    """
    fo_id = text(record.get("Id"))
    if not fo_id:
        raise MappingError("FulfillmentOrder record without Id", fields=["Id"])
    order_id = text(record.get("FulfillmentOrderNumber"))
    if not order_id:
        raise MappingError(
            f"FulfillmentOrder {fo_id}: FulfillmentOrderNumber is missing", fields=["FulfillmentOrderNumber"]
        )
    store_id = _store_id(record, sf, fo_id)
    omni = pos_fulfillment_type(record, sf.fulfillment_rules)
    summary = parent(record, "OrderSummary")
    try:
        created = text(record.get("CreatedDate"))
        order_date = parse_sf_datetime(created) if created else now_ms
    except ValueError:
        raise MappingError(
            f"FulfillmentOrder {fo_id}: CreatedDate {created!r} is not a Salesforce datetime",
            fields=["CreatedDate"],
        ) from None

    taxes = _per_line(children(record, TAXES_RELATIONSHIP), TAXES_RELATIONSHIP)
    adjustments = _per_line(children(record, ADJUSTMENTS_RELATIONSHIP), ADJUSTMENTS_RELATIONSHIP)
    lines: list[PosOrderLine] = []
    shipping = ZERO
    rows = sorted(
        children(record, LINES_RELATIONSHIP), key=lambda r: _natural(r.get("FulfillmentOrderLineItemNumber"))
    )
    for row in rows:
        kind = text(row.get("Type")) or (PRODUCT_TYPE if text(row.get("TypeCode")) == "Product" else "")
        if kind == PRODUCT_TYPE:
            where = f"FulfillmentOrder {fo_id} line {text(row.get('Id'))}"
            if _quantity(row, where) > 0:  # a fully canceled line has nothing left to fulfil
                lines.append(_line(row, len(lines) + 1, order_id, omni, taxes, adjustments, fo_id))
        elif kind in CHARGE_TYPES or text(row.get("TypeCode")) == "Charge":
            shipping += _charge(row, taxes, adjustments, fo_id)
        else:
            raise MappingError(
                f"FulfillmentOrder {fo_id} line {text(row.get('Id'))}: unknown Type {kind!r}", fields=["Type"]
            )
    if not lines:
        raise MappingError(
            f"FulfillmentOrder {fo_id}: no product line with a quantity to fulfil",
            fields=[LINES_RELATIONSHIP],
        )

    total = sum((line.total for line in lines), ZERO) + shipping
    grand = record.get("GrandTotalAmount")
    if grand is not None and not close(cents(grand), total):
        raise MappingError(
            f"FulfillmentOrder {fo_id}: GrandTotalAmount {cents(grand)} is not the sum of its lines "
            f"and charges {total}",
            fields=["GrandTotalAmount"],
        )

    raw_name = text(record.get("FulfilledToName"))
    first, last = split_name(raw_name)
    street = text(record.get("FulfilledToStreet")).splitlines() or [""]
    return PosFulfillmentOrder(
        externalOrderId=fo_id,
        orderId=order_id,
        displayOrderId=text(summary.get("OrderNumber")) or order_id,
        storeId=store_id,
        omniFulfillmentType=omni,
        orderDate=order_date,
        currency=currency,
        customerProfile=PosCustomerProfile(
            customerId=text(record.get("AccountId")) or None,
            firstName=first,
            lastName=last,
            displayName=raw_name or None,
            email=text(record.get("FulfilledToEmailAddress"))
            or text(summary.get("BillingEmailAddress"))
            or None,
            phoneMobile=text(record.get("FulfilledToPhone"))
            or text(summary.get("BillingPhoneNumber"))
            or None,
        ),
        shippingAddress=PosAddress(
            firstName=first,
            lastName=last,
            addressLine1=street[0].strip(),
            addressLine2=", ".join(s.strip() for s in street[1:] if s.strip()) or None,
            city=text(record.get("FulfilledToCity")),
            state=text(record.get("FulfilledToState")),
            postalCode=text(record.get("FulfilledToPostalCode")),
            country=text(record.get("FulfilledToCountry")),
        ),
        orderProductList=lines,
        tenders=tenders(payment_groups),
        shippingCharge=shipping,
        orderSubTotal=sum((line.subTotal for line in lines), ZERO),
        discount=sum((line.discount for line in lines), ZERO),
        taxSubTotal=sum((line.tax for line in lines), ZERO),
        totalAmount=total,
    )
