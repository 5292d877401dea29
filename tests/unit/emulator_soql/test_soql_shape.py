"""Row shapes: REST JSON records, nested parents, child envelopes, COUNT, deleted rows, resolver fallbacks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from emulator.salesforce.soql import run_query

if TYPE_CHECKING:
    from conftest import FullOrg, PlainOrg


def _attrs(sobject: str, rid: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v62.0/sobjects/{sobject}/{rid}"}


def _one(org: Any, soql: str, **kwargs: Any) -> dict[str, Any]:
    rows = run_query(soql, org, api_version="62.0", **kwargs).rows
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("api_version", ["62.0", "v62.0"])
def test_plain_fields_come_back_in_select_order_with_canonical_names(org: FullOrg, api_version: str) -> None:
    """Attributes first, then the selected fields in select order, canonical casing, values as stored."""
    fo1 = org.ids["FO1"]
    rows = run_query(
        f"SELECT grandtotalamount, ID, status FROM FulfillmentOrder WHERE Id = '{fo1}'",
        org,
        api_version=api_version,
    ).rows
    assert rows == [
        {
            "attributes": _attrs("FulfillmentOrder", fo1),
            "GrandTotalAmount": 100.5,
            "Id": fo1,
            "Status": "Allocated",
        }
    ]
    assert list(rows[0]) == ["attributes", "GrandTotalAmount", "Id", "Status"]


def test_parent_fields_nest_under_one_object_with_attributes(org: FullOrg) -> None:
    """Fields of one parent share a nested object; deeper paths nest again."""
    ids = org.ids
    row = _one(
        org,
        "SELECT Id, DeliveryMethod.Name, FulfilledFromLocation.warehouseID__c, "
        "DeliveryMethod.ReferenceNumber, OrderSummary.Account.PersonEmail FROM FulfillmentOrder "
        f"WHERE Id = '{ids['FO1']}'",
    )
    assert row == {
        "attributes": _attrs("FulfillmentOrder", ids["FO1"]),
        "Id": ids["FO1"],
        "DeliveryMethod": {
            "attributes": _attrs("OrderDeliveryMethod", ids["BOPIS"]),
            "Name": "BOPIS",
            "ReferenceNumber": "R-1",
        },
        "FulfilledFromLocation": {"attributes": _attrs("Location", ids["L1"]), "warehouseID__c": "WH-001"},
        "OrderSummary": {
            "attributes": _attrs("OrderSummary", ids["OS1"]),
            "Account": {"attributes": _attrs("Account", ids["A1"]), "PersonEmail": "ada@example.com"},
        },
    }
    assert list(row) == ["attributes", "Id", "DeliveryMethod", "FulfilledFromLocation", "OrderSummary"]


def test_null_lookups_come_back_as_null(org: FullOrg) -> None:
    """A null lookup is null at the level where the chain breaks."""
    ids = org.ids
    row = _one(
        org,
        "SELECT DeliveryMethod.Name, OrderSummary.Account.PersonEmail, OrderSummary.OrderNumber "
        f"FROM FulfillmentOrder WHERE Id = '{ids['FO4']}'",
    )
    assert row["DeliveryMethod"] is None
    assert row["OrderSummary"] == {
        "attributes": _attrs("OrderSummary", ids["OS2"]),
        "Account": None,
        "OrderNumber": "00000102",
    }


def test_child_subquery_is_a_query_envelope_or_null(org: FullOrg) -> None:
    """Children come back as {totalSize, done, records}; no children is null; deleted children are skipped."""
    ids = org.ids
    rows = run_query(
        "SELECT Id, (SELECT Id, Quantity FROM FulfillmentOrderLineItems ORDER BY Quantity DESC) "
        "FROM FulfillmentOrder WHERE Id IN ('{FO1}', '{FO3}')".format(**ids),
        org,
        api_version="62.0",
    ).rows
    assert rows[0]["FulfillmentOrderLineItems"] == {
        "totalSize": 2,
        "done": True,
        "records": [
            {"attributes": _attrs("FulfillmentOrderLineItem", ids["LI1"]), "Id": ids["LI1"], "Quantity": 2.0},
            {"attributes": _attrs("FulfillmentOrderLineItem", ids["LI2"]), "Id": ids["LI2"], "Quantity": 1.0},
        ],
    }
    assert rows[1]["FulfillmentOrderLineItems"] is None


@pytest.mark.parametrize(
    ("subquery", "expected"),
    [
        ("SELECT Description FROM FulfillmentOrderLineItems WHERE Quantity > 1", ["Shoe"]),
        ("SELECT Description FROM FulfillmentOrderLineItems ORDER BY Description", ["Shoe", "Sock"]),
        ("SELECT Description FROM FulfillmentOrderLineItems ORDER BY Description DESC LIMIT 1", ["Sock"]),
        ("SELECT Description FROM FulfillmentOrderLineItems WHERE Description LIKE 'x%'", None),
        (
            "select description from fulfillmentorderlineitems where fulfillmentorder.status = 'Allocated' "
            "order by quantity",
            ["Sock", "Shoe"],
        ),
    ],
)
def test_child_subquery_applies_its_own_where_order_and_limit(
    org: FullOrg, subquery: str, expected: list[str] | None
) -> None:
    """A subquery filters, orders and limits each parent's children independently."""
    row = _one(org, f"SELECT Id, ({subquery}) FROM FulfillmentOrder WHERE Id = '{org.ids['FO1']}'")
    envelope = row["FulfillmentOrderLineItems"]
    got = None if envelope is None else [r["Description"] for r in envelope["records"]]
    assert got == expected
    if envelope is not None:
        assert envelope["totalSize"] == len(expected or [])


def test_child_relationship_key_uses_canonical_casing(org: FullOrg) -> None:
    """A resolver offering canonical_relationship gets the canonical key for a lower-case subquery."""
    row = _one(
        org,
        f"SELECT (SELECT Id FROM fulfillmentorderlineitems) FROM FulfillmentOrder "
        f"WHERE Id = '{org.ids['FO2']}'",
    )
    assert list(row) == ["attributes", "FulfillmentOrderLineItems"]


def test_nested_child_subquery_under_order_summary(org: FullOrg) -> None:
    """OrderSummary -> FulfillmentOrders -> parent fields inside the child records."""
    row = _one(
        org,
        "SELECT OrderNumber, (SELECT FulfillmentOrderNumber, DeliveryMethod.Name FROM FulfillmentOrders "
        f"ORDER BY FulfillmentOrderNumber) FROM OrderSummary WHERE Id = '{org.ids['OS1']}'",
    )
    records = row["FulfillmentOrders"]["records"]
    assert [(r["FulfillmentOrderNumber"], r["DeliveryMethod"]["Name"]) for r in records] == [
        ("FO-0001", "BOPIS"),
        ("FO-0002", "BOFIS"),
    ]


@pytest.mark.parametrize(
    ("soql", "total"),
    [
        ("SELECT COUNT() FROM FulfillmentOrder", 4),
        ("SELECT count() FROM FulfillmentOrder WHERE Status = 'Allocated'", 2),
        ("SELECT COUNT() FROM FulfillmentOrder WHERE Status = 'Nope'", 0),
        ("SELECT COUNT() FROM FulfillmentOrder LIMIT 3", 3),
    ],
)
def test_count_returns_no_rows_and_the_count_as_total(org: FullOrg, soql: str, total: int) -> None:
    """COUNT() answers with rows == [] and total_size == number of matching rows."""
    result = run_query(soql, org, api_version="62.0")
    assert (result.rows, result.total_size, result.sobject) == ([], total, "FulfillmentOrder")


def test_count_of_a_field_is_an_aggregate_result(org: FullOrg) -> None:
    """COUNT(field) counts non-null values in one AggregateResult row as expr0."""
    result = run_query("SELECT COUNT(GrandTotalAmount) FROM FulfillmentOrder", org, api_version="62.0")
    assert (result.rows, result.total_size) == ([{"attributes": {"type": "AggregateResult"}, "expr0": 3}], 1)


@pytest.mark.parametrize(("include_deleted", "fos", "lines"), [(False, 4, 2), (True, 5, 3)])
def test_deleted_rows_only_with_include_deleted(
    org: FullOrg, include_deleted: bool, fos: int, lines: int
) -> None:
    """IsDeleted rows (top level and children) appear only for queryAll."""
    result = run_query(
        "SELECT Id, (SELECT Id FROM FulfillmentOrderLineItems) FROM FulfillmentOrder",
        org,
        api_version="62.0",
        include_deleted=include_deleted,
    )
    assert result.total_size == len(result.rows) == fos
    fo1 = next(r for r in result.rows if r["Id"] == org.ids["FO1"])
    assert fo1["FulfillmentOrderLineItems"]["totalSize"] == lines


def test_plain_resolver_gives_the_same_rows_through_fallbacks(org: FullOrg, plain_org: PlainOrg) -> None:
    """Without canonical_object/children the engine derives names and indexes children itself."""
    soql = (
        "SELECT Id, DeliveryMethod.Name, OrderSummary.Account.Name, (SELECT Id, Quantity FROM "
        "FulfillmentOrderLineItems ORDER BY Quantity) FROM fulfillmentorder ORDER BY FulfillmentOrderNumber"
    )
    full = run_query(soql, org, api_version="62.0")
    plain = run_query(soql, plain_org, api_version="62.0")
    assert plain.sobject == "FulfillmentOrder"
    assert plain.rows == full.rows
    assert plain_org.scans["FulfillmentOrderLineItem"] == 1
