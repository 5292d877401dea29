"""Aggregate SOQL: COUNT/COUNT_DISTINCT/SUM/AVG/MIN/MAX, GROUP BY, HAVING, aliases, AggregateResult rows, errors.

Rules come from the SOQL and SOSL Reference ("Aggregate Functions", "GROUP BY", "Considerations for GROUP BY",
"HAVING", "Use Aliases with GROUP BY", "COUNT() and COUNT(fieldName)"); error texts marked observed in
``emulator/salesforce/soql/errors.py``. Type rules need field types, so those tests run on the emulator's real org.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulator.salesforce.app import SfEmulator, SfEmulatorSettings
from emulator.salesforce.org import Org
from emulator.salesforce.scenario import create_orders
from emulator.salesforce.soql import SoqlError, run_query

from .conftest import BIG, FullOrg

AGG = {"type": "AggregateResult"}


def rows(soql: str, org: Any) -> list[dict[str, Any]]:
    return run_query(soql, org, api_version="62.0").rows


def error(soql: str, org: Any) -> SoqlError:
    with pytest.raises(SoqlError) as info:
        run_query(soql, org, api_version="62.0")
    return info.value


@pytest.fixture(scope="module")
def real_org() -> Org:
    """The emulator's org (typed schema) with the demo seed, four BOPIS FOs (two Pickpack) and two Fulfilled."""
    org = SfEmulator(SfEmulatorSettings(seed="demo")).org
    create_orders(org, {"count": 2, "seed": 1, "status": "Allocated"})
    create_orders(org, {"count": 2, "seed": 2, "status": "Pickpack"})
    create_orders(org, {"count": 2, "seed": 3, "status": "Fulfilled", "kind": "SHIP"})
    return org


def test_group_by_returns_aggregate_result_rows_keyed_by_field_and_expr0(org: FullOrg) -> None:
    """GROUP BY + COUNT(Id): one AggregateResult row per group, the grouped field by name, the count as expr0."""
    result = run_query("SELECT Status, COUNT(Id) FROM FulfillmentOrder GROUP BY Status ORDER BY Status", org,
                       api_version="62.0")
    assert result.rows == [{"attributes": AGG, "Status": "Allocated", "expr0": 2},
                           {"attributes": AGG, "Status": "Cancelled", "expr0": 1},
                           {"attributes": AGG, "Status": "Fulfilled", "expr0": 1}]
    assert (result.total_size, result.aggregate) == (3, True)


def test_implied_aliases_count_only_unaliased_aggregates(org: FullOrg) -> None:
    """MAX(x), MIN(x) min, SUM(x) -> expr0, min, expr1 ("Use Aliases with GROUP BY")."""
    got = rows("SELECT Type, MAX(GrandTotalAmount), MIN(GrandTotalAmount) min, SUM(GrandTotalAmount) "
               "FROM FulfillmentOrder GROUP BY Type ORDER BY Type", org)
    assert list(got[0]) == ["attributes", "Type", "expr0", "min", "expr1"]
    assert got[0] == {"attributes": AGG, "Type": "In Store Pickup", "expr0": 100.5, "min": 20, "expr1": 120.5}


def test_grouped_field_alias_becomes_the_key(org: FullOrg) -> None:
    """An alias on a grouped field names its column (``Status s``)."""
    got = rows("SELECT Status s, COUNT(Id) c FROM FulfillmentOrder GROUP BY Status HAVING COUNT(Id) > 1", org)
    assert got == [{"attributes": AGG, "s": "Allocated", "c": 2}]


def test_grouped_relationship_field_is_keyed_by_its_field_name(org: FullOrg) -> None:
    """GROUP BY DeliveryMethod.Name: AggregateResult rows are flat, the key is ``Name``."""
    got = rows("SELECT DeliveryMethod.Name, COUNT(Id) FROM FulfillmentOrder WHERE DeliveryMethodId != null "
               "GROUP BY DeliveryMethod.Name ORDER BY DeliveryMethod.Name", org)
    assert [(r["Name"], r["expr0"]) for r in got] == [("BOFIS", 1), ("BOPIS", 1), ("Ship", 1)]


def test_group_by_without_aggregates_lists_distinct_values_including_null(org: FullOrg) -> None:
    """GROUP BY alone returns the distinct values, null included ("GROUP BY", SOQL reference)."""
    got = rows("SELECT DeliveryMethodId FROM FulfillmentOrder GROUP BY DeliveryMethodId", org)
    ids = org.ids
    assert sorted((r["DeliveryMethodId"] or "") for r in got) == sorted(["", ids["BOPIS"], ids["BOFIS"], ids["SHIP"]])


def test_count_field_ignores_nulls_and_count_distinct_counts_distinct_values(org: FullOrg) -> None:
    """COUNT(field) skips nulls; COUNT_DISTINCT counts distinct non-null values; COUNT(Id) counts rows."""
    got = rows("SELECT COUNT(Id), COUNT(GrandTotalAmount), COUNT_DISTINCT(OrderSummaryId), "
               "COUNT_DISTINCT(DeliveryMethodId) FROM FulfillmentOrder", org)
    assert got == [{"attributes": AGG, "expr0": 4, "expr1": 3, "expr2": 2, "expr3": 3}]


def test_sum_and_avg_ignore_nulls_and_add_exactly(org: FullOrg) -> None:
    """SUM/AVG skip nulls and add as decimals (100.5 + 20 + 0 over three values)."""
    got = rows("SELECT SUM(GrandTotalAmount) s, AVG(GrandTotalAmount) a FROM FulfillmentOrder", org)
    assert got == [{"attributes": AGG, "s": 120.5, "a": pytest.approx(120.5 / 3)}]
    org.rows["FulfillmentOrder"][org.ids["FO3"]]["GrandTotalAmount"] = 0.1
    org.rows["FulfillmentOrder"][org.ids["FO4"]]["GrandTotalAmount"] = 0.2
    got = rows("SELECT SUM(GrandTotalAmount) FROM FulfillmentOrder WHERE Status != 'Fulfilled' AND Type = "
               "'Warehouse'", org)
    assert got[0]["expr0"] == 0.3


def test_min_and_max_compare_text_and_datetimes(org: FullOrg) -> None:
    """MIN/MAX return the smallest/largest stored value (datetimes as instants, text case-insensitively)."""
    got = rows("SELECT MIN(CreatedDate), MAX(CreatedDate), MIN(FulfillmentOrderNumber), MAX(Status) "
               "FROM FulfillmentOrder", org)
    assert got == [{"attributes": AGG, "expr0": "2025-04-30T23:59:59.000+0000",
                    "expr1": "2025-05-02T08:30:00.000+0000", "expr2": "FO-0001", "expr3": "Fulfilled"}]


def test_without_group_by_one_row_even_when_nothing_matches(org: FullOrg) -> None:
    """No GROUP BY: the whole result is one group, so no match still answers COUNT 0 and null aggregates."""
    got = rows("SELECT COUNT(Id), SUM(GrandTotalAmount), MAX(Status) FROM FulfillmentOrder WHERE Status = 'Nope'", org)
    assert got == [{"attributes": AGG, "expr0": 0, "expr1": None, "expr2": None}]
    grouped = run_query("SELECT Status, COUNT(Id) FROM FulfillmentOrder WHERE Status = 'Nope' GROUP BY Status", org,
                        api_version="62.0")
    assert (grouped.rows, grouped.total_size) == ([], 0)


def test_having_filters_groups_on_aggregates_and_grouped_fields(org: FullOrg) -> None:
    """HAVING takes aggregates and grouped fields, with AND/OR/NOT, IN and LIKE ("HAVING", SOQL reference)."""
    base = "SELECT Type, COUNT(Id) FROM FulfillmentOrder GROUP BY Type HAVING "
    assert [r["Type"] for r in rows(base + "COUNT(Id) > 1 AND Type LIKE 'In%'", org)] == ["In Store Pickup"]
    assert [r["Type"] for r in rows(base + "NOT COUNT(Id) IN (2)", org)] == []
    assert sorted(r["Type"] for r in rows(base + "(SUM(GrandTotalAmount) < 50 OR Type = 'x')", org)) == [
        "Warehouse"]


def test_having_on_a_field_not_grouped_is_malformed(org: FullOrg) -> None:
    """HAVING may use only aggregates and grouped fields ("Considerations When Using HAVING")."""
    err = error("SELECT Type, COUNT(Id) FROM FulfillmentOrder GROUP BY Type HAVING Status = 'x'", org)
    assert (err.error_code, err.message.splitlines()[-1]) == (
        "MALFORMED_QUERY", "Field must be grouped or aggregated: Status")


def test_having_refuses_semi_joins(org: FullOrg) -> None:
    """A HAVING clause can't contain semi- or anti-joins ("Considerations When Using HAVING")."""
    err = error("SELECT Type, COUNT(Id) FROM FulfillmentOrder GROUP BY Type HAVING Type IN "
                "(SELECT Name FROM OrderDeliveryMethod)", org)
    assert err.error_code == "MALFORMED_QUERY"


def test_order_by_aggregate_and_limit_offset_apply_to_groups(org: FullOrg) -> None:
    """ORDER BY COUNT(Id) DESC sorts groups; LIMIT/OFFSET page the groups, not the rows."""
    got = rows("SELECT Status, COUNT(Id) n FROM FulfillmentOrder GROUP BY Status ORDER BY COUNT(Id) DESC, Status "
               "LIMIT 2 OFFSET 1", org)
    assert [(r["Status"], r["n"]) for r in got] == [("Cancelled", 1), ("Fulfilled", 1)]


def test_order_by_field_not_grouped_is_malformed(org: FullOrg) -> None:
    """ORDER BY in an aggregate query takes grouped fields or aggregates (observed text)."""
    err = error("SELECT Status, COUNT(Id) FROM FulfillmentOrder GROUP BY Status ORDER BY Type", org)
    assert (err.error_code, err.message.splitlines()[-1]) == (
        "MALFORMED_QUERY", "Ordered field must be grouped or aggregated: Type")


def test_select_field_not_grouped_is_malformed_with_salesforce_text(org: FullOrg) -> None:
    """``SELECT Type, Status, COUNT(Id) ... GROUP BY Type``: Status must be grouped or aggregated, caret under it."""
    soql = "SELECT Type, Status, COUNT(Id) FROM FulfillmentOrder GROUP BY Type"
    err = error(soql, org)
    assert err.error_code == "MALFORMED_QUERY"
    lines = err.message.split("\n")
    assert soql.startswith(lines[1]) and lines[2] == " " * 13 + "^"
    assert lines[3:] == ["ERROR at Row:1:Column:14", "Field must be grouped or aggregated: Status"]


def test_aliases_outside_aggregate_queries_are_malformed(org: FullOrg) -> None:
    """``SELECT Name n FROM Account`` -> "only aggregate expressions use field aliasing" (observed)."""
    err = error("SELECT Id i FROM FulfillmentOrder", org)
    assert (err.error_code, err.message.splitlines()[-1]) == (
        "MALFORMED_QUERY", "only aggregate expressions use field aliasing")
    assert "Column:11" in err.message


@pytest.mark.parametrize("inner", ["SELECT COUNT(Id) FROM FulfillmentOrderLineItems",
                                   "SELECT COUNT() FROM FulfillmentOrderLineItems",
                                   "SELECT Quantity FROM FulfillmentOrderLineItems GROUP BY Quantity"])
def test_aggregates_in_subqueries_are_malformed(org: FullOrg, inner: str) -> None:
    """Aggregates belong to the root query only ("only root queries support aggregate expressions", observed)."""
    err = error(f"SELECT Id, ({inner}) FROM FulfillmentOrder", org)
    assert (err.error_code, err.message.splitlines()[-1]) == (
        "MALFORMED_QUERY", "only root queries support aggregate expressions")


def test_aggregate_in_where_is_a_syntax_error(org: FullOrg) -> None:
    """Aggregate functions may appear in HAVING, not in WHERE ("HAVING", SOQL reference)."""
    err = error("SELECT Type FROM FulfillmentOrder WHERE COUNT(Id) > 1 GROUP BY Type", org)
    assert err.error_code == "MALFORMED_QUERY"
    assert err.message.endswith("unexpected token: '('")


def test_grouped_field_cannot_also_be_aggregated(org: FullOrg) -> None:
    """``COUNT(Id) ... GROUP BY Id`` -> "Grouped field should not be aggregated: Id" (observed)."""
    err = error("SELECT Id, COUNT(Id) FROM FulfillmentOrder GROUP BY Id", org)
    assert (err.error_code, err.message.splitlines()[-1]) == (
        "MALFORMED_QUERY", "Grouped field should not be aggregated: Id")


@pytest.mark.parametrize("soql", ["SELECT COUNT() FROM FulfillmentOrder GROUP BY Status",
                                  "SELECT COUNT() FROM FulfillmentOrder ORDER BY Status"])
def test_count_rows_form_refuses_group_by_and_order_by(org: FullOrg, soql: str) -> None:
    """COUNT() can't be used with GROUP BY (API 19.0+) or ORDER BY ("COUNT() and COUNT(fieldName)")."""
    assert error(soql, org).error_code == "MALFORMED_QUERY"


def test_limit_needs_group_by_in_an_aggregate_query(org: FullOrg) -> None:
    """LIMIT with an aggregate function requires GROUP BY ("Considerations for GROUP BY"); COUNT() may use LIMIT."""
    assert error("SELECT MAX(CreatedDate) FROM FulfillmentOrder LIMIT 1", org).error_code == "MALFORMED_QUERY"
    assert rows("SELECT Status, MAX(CreatedDate) FROM FulfillmentOrder GROUP BY Status LIMIT 1", org)
    assert run_query("SELECT COUNT() FROM FulfillmentOrder LIMIT 1", org, api_version="62.0").total_size == 1


def test_more_groups_than_one_batch_are_refused(big_org: FullOrg) -> None:
    """GROUP BY results can't use a query locator: past 2,000 rows the query is refused; LIMIT 2000 answers."""
    soql = "SELECT FulfillmentOrderNumber, COUNT(Id) FROM FulfillmentOrder GROUP BY FulfillmentOrderNumber"
    assert BIG > 2000
    err = error(soql, big_org)
    assert err.message == ("Aggregate query does not support queryMore(), use LIMIT to restrict the results to a "
                           "single batch")
    assert len(rows(soql + " LIMIT 2000", big_org)) == 2000


def test_sum_and_avg_need_numbers_and_checkboxes_refuse_aggregates(real_org: Org) -> None:
    """AVG/SUM take numeric fields; checkbox fields take no aggregate ("field X does not support aggregate
    operator Y", observed)."""
    err = error("SELECT SUM(Name) FROM Account", real_org)
    assert (err.error_code, err.message.splitlines()[-1]) == (
        "MALFORMED_QUERY", "field Name does not support aggregate operator SUM")
    err = error("SELECT COUNT(IsActive) FROM Product2", real_org)
    assert err.message.endswith("field IsActive does not support aggregate operator COUNT")
    assert rows("SELECT AVG(Quantity) FROM FulfillmentOrderLineItem", real_org)[0]["expr0"] > 0


@pytest.mark.parametrize("field", ["GrandTotalAmount", "CreatedDate", "FulfillmentOrderNumber"])
def test_currency_datetime_and_autonumber_fields_can_not_be_grouped(real_org: Org, field: str) -> None:
    """Currency/number(double), date/time and auto-number fields aren't groupable (describe ``groupable``)."""
    err = error(f"SELECT {field}, COUNT(Id) FROM FulfillmentOrder GROUP BY {field}", real_org)
    assert (err.error_code, err.message.splitlines()[-1]) == (
        "MALFORMED_QUERY", f"field '{field}' can not be grouped in a query call")


def test_groupable_types_group_on_the_real_org(real_org: Org) -> None:
    """Picklists, lookups and checkboxes group: FulfillmentOrders by Status and DeliveryMethod."""
    got = rows("SELECT Status, DeliveryMethod.Name, COUNT(Id) FROM FulfillmentOrder "
               "GROUP BY Status, DeliveryMethod.Name ORDER BY Status", real_org)
    assert [(r["Status"], r["Name"], r["expr0"]) for r in got] == [
        ("Allocated", "BOPIS", 2), ("Fulfilled", "Standard Ground", 2), ("Pickpack", "BOPIS", 2)]
    assert rows("SELECT IsActive, COUNT(Id) FROM Product2 GROUP BY IsActive", real_org)[0]["IsActive"] is True


def test_min_and_max_on_a_picklist_follow_the_picklist_order(real_org: Org) -> None:
    """MIN()/MAX() on a picklist use the picklist's sort order, not the alphabet ("Aggregate Functions")."""
    got = rows("SELECT MIN(Status), MAX(Status) FROM FulfillmentOrder WHERE Status IN ('Pickpack', 'Fulfilled')",
               real_org)
    assert got == [{"attributes": AGG, "expr0": "Pickpack", "expr1": "Fulfilled"}]
