"""SOQL builders: one query per batch with children and custom fields, escaping, reconcile sweep."""

from __future__ import annotations

import pytest

from worker.config import OmsCustomField
from worker.mapping.fulfillment_query import (
    ADJUSTMENTS_RELATIONSHIP,
    TAXES_RELATIONSHIP,
    build_fulfillment_query,
    build_payments_query,
    build_reconcile_query,
)

STORE = OmsCustomField(omsFieldName="POS_Store_Id__c", posField="ORDER_STORE_ID", applyTo="LOCATION")


def test_batch_query_shape() -> None:
    """Exactly one SELECT with the FO fields, parents, three subqueries and the IN list plus FilterQuery."""
    soql = build_fulfillment_query(["0a3A", "0a3B"], "Type = 'In Store Pickup'", [STORE])
    assert soql.startswith("SELECT Id, FulfillmentOrderNumber, Status, StatusCategory, Type, TypeCategory, ")
    assert ", DeliveryMethod.Name, FulfilledFromLocation.POS_Store_Id__c, OrderSummary.OrderNumber, " in soql
    assert "OrderSummary.BillingEmailAddress, OrderSummary.BillingPhoneNumber, (SELECT Id, " in soql
    assert (
        "Product2.StockKeepingUnit, Product2.Name, Product2.ProductCode FROM FulfillmentOrderLineItems "
        "ORDER BY FulfillmentOrderLineItemNumber)"
    ) in soql
    assert (
        f"(SELECT Amount, Rate, Type, FulfillmentOrderLineItemId, FulfillmentOrderItemAdjustId FROM "
        f"{TAXES_RELATIONSHIP})"
    ) in soql
    assert (
        f"(SELECT Amount, FulfillmentOrderLineItemId, PromotionName, CouponName, Description FROM "
        f"{ADJUSTMENTS_RELATIONSHIP}) FROM FulfillmentOrder"
    ) in soql
    assert soql.endswith("FROM FulfillmentOrder WHERE Id IN ('0a3A','0a3B') AND (Type = 'In Store Pickup')")
    assert soql.count("FROM FulfillmentOrder WHERE") == 1
    assert "CurrencyIsoCode" not in soql


def test_empty_filter_omits_and() -> None:
    """Without FilterQuery the WHERE clause is only the id list."""
    assert build_fulfillment_query(["0a3A"], "  ", [STORE]).endswith("WHERE Id IN ('0a3A')")


@pytest.mark.parametrize(
    ("fo_id", "literal"),
    [("a'b", r"'a\'b'"), ("x') OR Id != ('", r"'x\') OR Id != (\''"), ("back\\slash", r"'back\\slash'")],
)
def test_ids_are_escaped(fo_id: str, literal: str) -> None:
    """Quotes and backslashes in ids are escaped, so an id cannot break out of its literal."""
    assert build_fulfillment_query([fo_id], "", [STORE]).endswith(f"WHERE Id IN ({literal})")


def test_duplicate_ids_listed_once() -> None:
    """A batch with repeated ids asks for each id once."""
    assert build_fulfillment_query(["A", "A", "B"], "", [STORE]).endswith("Id IN ('A','B')")


def test_custom_fields_land_on_their_objects() -> None:
    """OMSCustomField entries are selected on the Location, the FO, the OrderSummary and the line subquery."""
    fields = [
        STORE,
        OmsCustomField(omsFieldName="Region__c", posField="REGION", applyTo="LOCATION"),
        OmsCustomField(omsFieldName="Gift__c", posField="GIFT", applyTo="FULFILLMENT_ORDER"),
        OmsCustomField(omsFieldName="Channel__c", posField="CHANNEL", applyTo="ORDER_SUMMARY"),
        OmsCustomField(
            omsFieldName="Engraving__c", posField="ENGRAVING", applyTo="FULFILLMENT_ORDER_LINE_ITEM"
        ),
    ]
    soql = build_fulfillment_query(["A"], "", fields)
    assert "FulfilledFromLocation.POS_Store_Id__c, FulfilledFromLocation.Region__c" in soql
    assert ", Gift__c, " in soql and "OrderSummary.Channel__c" in soql
    assert "Product2Id, Engraving__c, Product2.StockKeepingUnit" in soql


def test_no_ids_is_an_error() -> None:
    """An empty batch is a programming error, not a query with an empty IN list."""
    with pytest.raises(ValueError, match="at least one"):
        build_fulfillment_query([], "", [STORE])


def test_reconcile_query_shape() -> None:
    """Statuses, FilterQuery, since and the order/limit of the gap sweep."""
    soql = build_reconcile_query(["Allocated"], "Type = 'In Store Pickup'", "2025-05-01T12:00:00Z", 500)
    assert soql == (
        "SELECT Id, Status, LastModifiedDate FROM FulfillmentOrder WHERE Status IN ('Allocated') AND "
        "(Type = 'In Store Pickup') AND LastModifiedDate >= 2025-05-01T12:00:00Z "
        "ORDER BY LastModifiedDate, Id LIMIT 500"
    )


def test_reconcile_query_without_since_or_filter() -> None:
    """A full sweep has no date bound and no FilterQuery clause when none is configured."""
    assert build_reconcile_query(["Allocated", "Assigned"], "", None, 1) == (
        "SELECT Id, Status, LastModifiedDate FROM FulfillmentOrder WHERE Status IN ('Allocated','Assigned') "
        "ORDER BY LastModifiedDate, Id LIMIT 1"
    )


def test_reconcile_query_adds_other_cancel_spelling() -> None:
    """Either cancel spelling in the statuses selects both."""
    assert "Status IN ('Canceled','Cancelled')" in build_reconcile_query(["Canceled"], "", None, 10)


@pytest.mark.parametrize(
    "since", ["2025-05-01", "2025-05-01T12:00:00Z OR Id != null", "'2025-05-01T12:00:00Z'"]
)
def test_reconcile_rejects_malformed_since(since: str) -> None:
    """Only a SOQL datetime literal is spliced in; anything else is refused."""
    with pytest.raises(ValueError, match="since_iso"):
        build_reconcile_query(["Allocated"], "", since, 10)


def test_reconcile_continuation_is_keyset_after_the_last_row() -> None:
    """A capped sweep continues strictly after its last row in (LastModifiedDate, Id) order, Id quoted, no overlap."""
    soql = build_reconcile_query(["Allocated"], "", None, 50, after=("2025-05-01T12:00:00.123Z", "0a3x'1"))
    assert soql == (
        "SELECT Id, Status, LastModifiedDate FROM FulfillmentOrder WHERE Status IN ('Allocated') AND "
        "LastModifiedDate >= 2025-05-01T12:00:00.123Z AND (LastModifiedDate > 2025-05-01T12:00:00.123Z OR "
        "(LastModifiedDate = 2025-05-01T12:00:00.123Z AND "
        "Id > '0a3x\\'1')) ORDER BY LastModifiedDate, Id LIMIT 50"
    )
    with pytest.raises(ValueError, match="after"):
        build_reconcile_query(["Allocated"], "", None, 50, after=("2025-05-01 OR Id != null", "0a3"))


def test_reconcile_escapes_statuses() -> None:
    """Status values are quoted and escaped."""
    assert "Status IN ('Ready\\'s')" in build_reconcile_query(["Ready's"], "", None, 10)


def test_payments_query_is_one_select_over_payment_groups() -> None:
    """One SELECT per batch: PaymentGroups of the FOs' orders (semi-join on the FO ids, escaped, once each)."""
    soql = build_payments_query(["0a3A", "0a3A", "0a3'B"])
    assert soql == (
        "SELECT Id, SourceObjectId, (SELECT Id, Amount, Status, Type, ProcessingMode, PaymentAuthorizationId, "
        "PaymentMethodId, PaymentMethod.Id, GatewayRefNumber FROM Payments), (SELECT Id, Amount, Status, "
        "ProcessingMode, PaymentMethodId, PaymentMethod.Id, GatewayRefNumber FROM PaymentAuthorizations) "
        "FROM PaymentGroup WHERE SourceObjectId IN "
        r"(SELECT OrderId FROM FulfillmentOrder WHERE Id IN ('0a3A','0a3\'B'))"
    )
    with pytest.raises(ValueError, match="at least one FulfillmentOrder id"):
        build_payments_query([])
