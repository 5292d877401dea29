"""SOQL builders for the fulfillment import (one FO query and one payments query per batch) and the gap sweep (pure).

Field names are the ones salesforce-wire.md §5.2/§5.3 lists. The child relationship names of the tax and
adjustment children are UNCONFIRMED in the reference (only ``FulfillmentOrderLineItems`` is observed); they
are module constants so a describe result can correct them in one place. Ids are escaped with
:func:`worker.salesforce.soql.quote_soql` (pure); ``FilterQuery`` is spliced in parentheses as configured (it is
checked at config load by :mod:`worker.soql_check`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from worker.config import OmsCustomField
from worker.salesforce.soql import quote_soql

LINES_RELATIONSHIP = "FulfillmentOrderLineItems"
TAXES_RELATIONSHIP = "FulfillmentOrderItemTaxes"  # UNCONFIRMED child relationship name
ADJUSTMENTS_RELATIONSHIP = "FulfillmentOrderItemAdjustments"  # UNCONFIRMED child relationship name
PAYMENTS_RELATIONSHIP = "Payments"  # PaymentGroup -> Payment (PaymentGroupId); UNCONFIRMED child relationship name
AUTHORIZATIONS_RELATIONSHIP = "PaymentAuthorizations"  # PaymentGroup -> PaymentAuthorization; UNCONFIRMED name

FO_FIELDS: tuple[str, ...] = (
    "Id",
    "FulfillmentOrderNumber",
    "Status",
    "StatusCategory",
    "Type",
    "TypeCategory",
    "OrderSummaryId",
    "OrderId",
    "AccountId",
    "FulfilledFromLocationId",
    "DeliveryMethodId",
    "FulfilledToName",
    "FulfilledToEmailAddress",
    "FulfilledToPhone",
    "FulfilledToStreet",
    "FulfilledToCity",
    "FulfilledToState",
    "FulfilledToPostalCode",
    "FulfilledToCountry",
    "TotalAmount",
    "TotalTaxAmount",
    "GrandTotalAmount",
    "TotalProductAmount",
    "TotalDeliveryAmount",
    "TotalAdjustmentAmount",
    "CreatedDate",
    "LastModifiedDate",
)
PARENT_FIELDS: tuple[str, ...] = (
    "DeliveryMethod.Name",
    "OrderSummary.OrderNumber",
    "OrderSummary.BillingEmailAddress",
    "OrderSummary.BillingPhoneNumber",
)
FOLI_FIELDS: tuple[str, ...] = (
    "Id",
    "FulfillmentOrderLineItemNumber",
    "Quantity",
    "OriginalQuantity",
    "UnitPrice",
    "TotalLineAmount",
    "TotalPrice",
    "TotalTaxAmount",
    "TotalAdjustmentAmount",
    "TotalAmount",
    "Type",
    "TypeCode",
    "Description",
    "OrderItemSummaryId",
    "OrderItemId",
    "Product2Id",
)
PRODUCT_FIELDS: tuple[str, ...] = ("Product2.StockKeepingUnit", "Product2.Name", "Product2.ProductCode")
TAX_FIELDS: tuple[str, ...] = (
    "Amount",
    "Rate",
    "Type",
    "FulfillmentOrderLineItemId",
    "FulfillmentOrderItemAdjustId",
)
ADJUSTMENT_FIELDS: tuple[str, ...] = (
    "Amount",
    "FulfillmentOrderLineItemId",
    "PromotionName",
    "CouponName",
    "Description",
)
# PaymentMethod is polymorphic (CardPaymentMethod, DigitalWallet, AlternativePaymentMethod): only its Id is selected,
# the record's ``attributes`` tell the kind.
PAYMENT_FIELDS: tuple[str, ...] = (
    "Id", "Amount", "Status", "Type", "ProcessingMode", "PaymentAuthorizationId", "PaymentMethodId", "PaymentMethod.Id",
    "GatewayRefNumber",
)
AUTHORIZATION_FIELDS: tuple[str, ...] = (
    "Id", "Amount", "Status", "ProcessingMode", "PaymentMethodId", "PaymentMethod.Id", "GatewayRefNumber",
)
_SOQL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})")
_CANCEL_SPELLINGS = ("Canceled", "Cancelled")


def custom_field_paths(custom_fields: Sequence[OmsCustomField], apply_to: str) -> list[str]:
    """SOQL paths of the configured OMSCustomField entries that apply to one object."""
    prefix = {"LOCATION": "FulfilledFromLocation.", "ORDER_SUMMARY": "OrderSummary."}.get(apply_to, "")
    return [prefix + f.omsFieldName for f in custom_fields if apply_to in f.applyTo]


def _unique(fields: Sequence[str]) -> str:
    return ", ".join(dict.fromkeys(fields))


def _and_filter(filter_query: str) -> str:
    condition = filter_query.strip()
    return f" AND ({condition})" if condition else ""


def build_fulfillment_query(
    fo_ids: Sequence[str], filter_query: str, custom_fields: Sequence[OmsCustomField]
) -> str:
    """ONE SOQL for a batch of FulfillmentOrders with lines, taxes, adjustments and the store id field."""
    if not fo_ids:
        raise ValueError("build_fulfillment_query needs at least one FulfillmentOrder id")
    top = [
        *FO_FIELDS,
        *custom_field_paths(custom_fields, "FULFILLMENT_ORDER"),
        *PARENT_FIELDS[:1],
        *custom_field_paths(custom_fields, "LOCATION"),
        *PARENT_FIELDS[1:],
        *custom_field_paths(custom_fields, "ORDER_SUMMARY"),
    ]
    lines = [*FOLI_FIELDS, *custom_field_paths(custom_fields, "FULFILLMENT_ORDER_LINE_ITEM"), *PRODUCT_FIELDS]
    where = quote_soql("Id IN {}", list(dict.fromkeys(fo_ids)))
    return (
        f"SELECT {_unique(top)}, "
        f"(SELECT {_unique(lines)} FROM {LINES_RELATIONSHIP} ORDER BY FulfillmentOrderLineItemNumber), "
        f"(SELECT {_unique(TAX_FIELDS)} FROM {TAXES_RELATIONSHIP}), "
        f"(SELECT {_unique(ADJUSTMENT_FIELDS)} FROM {ADJUSTMENTS_RELATIONSHIP}) "
        f"FROM FulfillmentOrder WHERE {where}{_and_filter(filter_query)}"
    )


def build_payments_query(fo_ids: Sequence[str]) -> str:
    """ONE SOQL for the payments of a batch: the PaymentGroups of the FOs' Orders (``SourceObjectId`` = the FO's
    ``OrderId``, a semi-join, so it runs beside the FO query) with Payments and PaymentAuthorizations as subqueries."""
    if not fo_ids:
        raise ValueError("build_payments_query needs at least one FulfillmentOrder id")
    where = quote_soql("SourceObjectId IN (SELECT OrderId FROM FulfillmentOrder WHERE Id IN {})",
                        list(dict.fromkeys(fo_ids)))
    return (
        f"SELECT Id, SourceObjectId, "
        f"(SELECT {_unique(PAYMENT_FIELDS)} FROM {PAYMENTS_RELATIONSHIP}), "
        f"(SELECT {_unique(AUTHORIZATION_FIELDS)} FROM {AUTHORIZATIONS_RELATIONSHIP}) "
        f"FROM PaymentGroup WHERE {where}"
    )


def build_reconcile_query(
    statuses: Sequence[str], filter_query: str, since_iso: str | None, limit: int,
    after: tuple[str, str] | None = None,
) -> str:
    """The gap sweep: FOs in ``statuses`` matching FilterQuery, modified since ``since_iso``, or strictly after
    the row ``after`` = (its LastModifiedDate as a SOQL datetime, its Id) in (LastModifiedDate, Id) order: the
    continuation of a sweep that stopped at ``limit``, which moves on even when more than ``limit`` rows share one
    LastModifiedDate.

    Selects ``Id, Status, LastModifiedDate`` (the status becomes the inbox row's status; the date and Id are where
    a sweep that stops at ``limit`` continues). Either cancel spelling pulls in both.
    """
    if not statuses:
        raise ValueError("build_reconcile_query needs at least one status")
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    wanted = list(dict.fromkeys(statuses))
    if any(s.casefold() in ("canceled", "cancelled") for s in wanted):
        wanted += [s for s in _CANCEL_SPELLINGS if s.casefold() not in {w.casefold() for w in wanted}]
    soql = "SELECT Id, Status, LastModifiedDate FROM FulfillmentOrder WHERE " + quote_soql("Status IN {}", wanted)
    soql += _and_filter(filter_query)
    if since_iso is not None:
        if not _SOQL_DATETIME.fullmatch(since_iso):
            raise ValueError(
                f"since_iso: expected a SOQL datetime like 2025-05-01T12:00:00Z, got {since_iso!r}"
            )
        soql += f" AND LastModifiedDate >= {since_iso}"
    if after is not None:
        modified, last_id = after
        if not _SOQL_DATETIME.fullmatch(modified):
            raise ValueError(f"after: expected a SOQL datetime like 2025-05-01T12:00:00.000Z, got {modified!r}")
        # the plain range first lets the org use its LastModifiedDate index; the OR picks the rows after the last
        soql += quote_soql(f" AND LastModifiedDate >= {modified} AND (LastModifiedDate > {modified} OR "
                            f"(LastModifiedDate = {modified} AND Id > {{}}))", last_id)
    return soql + f" ORDER BY LastModifiedDate, Id LIMIT {int(limit)}"
