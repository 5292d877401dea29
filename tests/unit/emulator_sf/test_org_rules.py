"""Org validation, formulas and transactions without HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.salesforce.errors import SfError
from emulator.salesforce.org import Org
from emulator.salesforce.schema import Schema


@pytest.fixture
def org_events() -> tuple[Org, list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    schema = Schema(location_custom_fields=["warehouseID__c"])
    return Org(schema, event_sink=lambda channel, payload: events.append((channel, payload))), events


@pytest.mark.parametrize("sobject,values,code", [
    ("Account", {}, "REQUIRED_FIELD_MISSING"),
    ("Account", {"FirstName": "only"}, "REQUIRED_FIELD_MISSING"),
    ("Contact", {"LastName": "x", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS"),
    ("Product2", {"Name": "x", "IsActive": "perhaps"}, "JSON_PARSER_ERROR"),
    ("PricebookEntry", {"UnitPrice": "abc"}, "JSON_PARSER_ERROR"),
    ("Order", {"EffectiveDate": "2025-13-45"}, "JSON_PARSER_ERROR"),
    ("Account", {"Name": "x", "Id": "001R00000000001IAA"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ("Account", {"Name": "x", "CreatedDate": "2025-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ("Contact", {"LastName": "x", "AccountId": "001R00000000zzzIAA"}, "INVALID_CROSS_REFERENCE_KEY"),
    ("OrderItemSummary", {}, "INVALID_TYPE_FOR_OPERATION"),
])
def test_insert_validation_errors(org_events: Any, sobject: str, values: dict[str, Any], code: str) -> None:
    """Invalid inserts raise the Salesforce error code Salesforce would answer."""
    org, _ = org_events
    with pytest.raises(SfError) as info:
        org.insert(sobject, values)
    assert info.value.error_code == code


def test_person_account_name_and_flag(org_events: Any) -> None:
    """FirstName/LastName make a person account whose Name is derived."""
    org, _ = org_events
    rid = org.insert("Account", {"FirstName": "Ada", "LastName": "Lovelace", "PersonEmail": "ada@example.com"})
    assert (org.get(rid)["Name"], org.get(rid)["IsPersonAccount"]) == ("Ada Lovelace", True)


def _fo(org: Org) -> tuple[str, str]:
    method = org.insert("OrderDeliveryMethod", {"Name": "BOPIS"})
    fo = org.insert("FulfillmentOrder", {"DeliveryMethodId": method, "FulfilledToName": "A", "Status": "Allocated"})
    line = org.insert("FulfillmentOrderLineItem", {"FulfillmentOrderId": fo, "Quantity": 2, "UnitPrice": 7.5})
    return fo, line


def test_fo_totals_roll_up_from_lines_taxes_and_adjustments(org_events: Any) -> None:
    """FO totals are formulas over FOLIs, FulfillmentOrderItemTax and FulfillmentOrderItemAdjustment."""
    org, _ = org_events
    fo, line = _fo(org)
    org.insert("FulfillmentOrderItemAdjustment", {"FulfillmentOrderLineItemId": line, "Amount": -1.5})
    org.insert("FulfillmentOrderItemTax", {"FulfillmentOrderLineItemId": line, "Amount": 1.08, "Type": "Actual",
                                           "TaxEffectiveDate": "2025-05-01"})
    row = org.get(fo)
    assert (row["TotalProductAmount"], row["TotalAdjustmentAmount"], row["TotalAmount"]) == (15.0, -1.5, 13.5)
    assert (row["TotalTaxAmount"], row["GrandTotalAmount"], row["ItemCount"]) == (1.08, 14.58, 2.0)
    assert org.get(line)["OriginalQuantity"] == 2.0 and org.get(line)["TotalAmount"] == 14.58


def test_rolled_back_transaction_leaves_no_rows_and_no_events(org_events: Any) -> None:
    """An exception inside atomic() undoes inserts/updates and discards queued FO events."""
    org, events = org_events
    fo, _ = _fo(org)
    accounts = org.count("Account")
    with pytest.raises(RuntimeError), org.atomic():
        org.insert("Account", {"Name": "temp"})
        org.update(fo, {"Status": "Fulfilled"})
        raise RuntimeError("boom")
    assert org.count("Account") == accounts and org.get(fo)["Status"] == "Allocated" and events == []
    with org.atomic():
        org.update(fo, {"Status": "Fulfilled"})
        assert events == []
    assert [p["NewStatus"] for _, p in events] == ["Fulfilled"]


def test_resolver_relationships_are_case_insensitive(org_events: Any) -> None:
    """lookup/child_relationship/canonical_field resolve any casing."""
    org, _ = org_events
    assert org.lookup("fulfillmentorder", "deliverymethod") == ("DeliveryMethodId", "OrderDeliveryMethod")
    assert org.lookup("FulfillmentOrderLineItem", "Product2") == ("Product2Id", "Product2")
    assert org.child_relationship("FulfillmentOrder", "fulfillmentorderlineitems") == (
        "FulfillmentOrderLineItem", "FulfillmentOrderId")
    assert org.child_relationship("OrderSummary", "OrderDeliveryGroupSummaries") == (
        "OrderDeliveryGroupSummary", "OrderSummaryId")
    assert org.canonical_field("Location", "WAREHOUSEID__C") == "warehouseID__c"
    assert org.has_field("Order", "orderreferencenumber") and not org.has_field("Order", "Nope")
