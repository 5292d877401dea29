"""Access paths: id lookups instead of scans, indexed children, fallbacks for optional resolver methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from emulator.salesforce.soql import run_query

if TYPE_CHECKING:
    from conftest import FullOrg, OtherChildrenSignatureOrg, PlainOrg


def test_id_in_list_over_10000_rows_uses_get_not_a_scan(
    big_org: FullOrg, fo_id: Callable[[int], str]
) -> None:
    """WHERE Id IN (<100 ids>) AND ... fetches rows by id and never scans the object."""
    org = big_org
    wanted = [fo_id(n) for n in range(200, 300)]
    id_list = ", ".join(f"'{rid}'" for rid in wanted)
    soql = (
        f"SELECT Id, DeliveryMethod.Name FROM FulfillmentOrder WHERE Id IN ({id_list}) "
        "AND (DeliveryMethod.Name IN ('BOPIS','BOFIS'))"
    )
    result = run_query(soql, org, api_version="62.0")
    assert [row["Id"] for row in result.rows] == wanted
    assert org.scans["FulfillmentOrder"] == 0
    assert org.gets <= 2 * len(wanted) + 1


def test_id_equality_uses_get_and_scans_otherwise(big_org: FullOrg, fo_id: Callable[[int], str]) -> None:
    """Id = 'x' is a point lookup; a filter on another field scans exactly once."""
    org = big_org
    rid = fo_id(5000)
    assert [
        r["Id"]
        for r in run_query(
            f"SELECT Id FROM FulfillmentOrder WHERE Id = '{rid}'", org, api_version="62.0"
        ).rows
    ] == [rid]
    assert org.scans["FulfillmentOrder"] == 0
    run_query("SELECT Id FROM FulfillmentOrder WHERE Status = 'Fulfilled'", org, api_version="62.0")
    assert org.scans["FulfillmentOrder"] == 1


def test_semi_join_on_id_fetches_outer_rows_by_id(big_org: FullOrg) -> None:
    """Id IN (SELECT FulfillmentOrderId ...) scans the inner object only, then gets outer rows by id."""
    org = big_org
    result = run_query(
        "SELECT Id FROM FulfillmentOrder WHERE Id IN "
        "(SELECT FulfillmentOrderId FROM FulfillmentOrderLineItem)",
        org,
        api_version="62.0",
    )
    assert sorted(row["Id"] for row in result.rows) == sorted([org.ids["FO1"], org.ids["FO2"]])
    assert org.scans["FulfillmentOrder"] == 0
    assert org.scans["FulfillmentOrderLineItem"] == 1


def test_child_subqueries_use_the_resolver_children_index(org: FullOrg) -> None:
    """A resolver with children(sobject, fk_field, parent_id) serves subqueries without scanning children."""
    run_query(
        "SELECT Id, (SELECT Id FROM FulfillmentOrderLineItems) FROM FulfillmentOrder", org, api_version="62.0"
    )
    assert org.children_calls == 4
    assert org.scans["FulfillmentOrderLineItem"] == 0


def test_child_subqueries_without_index_scan_children_once(plain_org: PlainOrg) -> None:
    """Without children(), one scan of the child object serves every parent of the query."""
    result = run_query(
        "SELECT Id, (SELECT Id FROM FulfillmentOrderLineItems) FROM FulfillmentOrder",
        plain_org,
        api_version="62.0",
    )
    sizes = [
        row["FulfillmentOrderLineItems"] and row["FulfillmentOrderLineItems"]["totalSize"]
        for row in result.rows
    ]
    assert sizes == [2, 1, None, None]
    assert plain_org.scans["FulfillmentOrderLineItem"] == 1


def test_children_with_a_different_signature_is_ignored(
    other_children_org: OtherChildrenSignatureOrg,
) -> None:
    """Only children(sobject, fk_field, parent_id) is trusted; another signature falls back to a scan."""
    org = other_children_org
    row = run_query(
        f"SELECT (SELECT Id FROM FulfillmentOrderLineItems) FROM FulfillmentOrder "
        f"WHERE Id = '{org.ids['FO1']}'",
        org,
        api_version="62.0",
    ).rows[0]
    assert row["FulfillmentOrderLineItems"]["totalSize"] == 2
    assert org.children_calls == 0


def test_parent_rows_are_fetched_once_per_query(big_org: FullOrg) -> None:
    """Many rows sharing a parent look it up once (per-query memo), not once per row and column."""
    org = big_org
    org.gets = 0
    run_query(
        "SELECT DeliveryMethod.Name, DeliveryMethod.ReferenceNumber FROM FulfillmentOrder "
        "WHERE DeliveryMethod.Name = 'BOPIS' ORDER BY DeliveryMethod.Name",
        org,
        api_version="62.0",
    )
    assert org.gets <= 5
