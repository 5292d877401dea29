"""WHERE semantics: every operator, null handling, relationship paths, ids, dates, semi-joins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from emulator.salesforce.soql import run_query

if TYPE_CHECKING:
    from conftest import FullOrg


def _numbers(org: FullOrg, where: str, now: datetime | None = None) -> list[int]:
    soql = (
        f"SELECT FulfillmentOrderNumber FROM FulfillmentOrder WHERE {where} ORDER BY FulfillmentOrderNumber"
    )
    result = run_query(soql, org, api_version="62.0", now=now)
    return [int(row["FulfillmentOrderNumber"][-1]) for row in result.rows]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Status = 'Allocated'", [1, 3]),
        ("Status = 'allocated'", [1, 3]),
        ("status = 'ALLOCATED'", [1, 3]),
        ("Status != 'Allocated'", [2, 4]),
        ("Status <> 'Allocated'", [2, 4]),
        ("Status > 'Cancelled'", [2]),
        ("Status <= 'cancelled'", [1, 3, 4]),
        ("GrandTotalAmount > 20", [1]),
        ("GrandTotalAmount >= 20", [1, 2]),
        ("GrandTotalAmount < 20", [4]),
        ("GrandTotalAmount <= 20.0", [2, 4]),
        ("GrandTotalAmount = 100.5", [1]),
        ("GrandTotalAmount > -1", [1, 2, 4]),
        ("GrandTotalAmount = null", [3]),
        ("GrandTotalAmount != null", [1, 2, 4]),
        ("GrandTotalAmount != 20", [1, 3, 4]),
        ("GrandTotalAmount < null", []),
        ("IsDeleted = false", [1, 2, 3, 4]),
        ("IsDeleted = TRUE", []),
        ("Status IN ('Allocated', 'cancelled')", [1, 3, 4]),
        ("Status NOT IN ('Allocated')", [2, 4]),
        ("GrandTotalAmount IN (0, 20)", [2, 4]),
        ("GrandTotalAmount IN (null)", [3]),
        ("FulfilledToName NOT IN ('o\\'Brien')", [2, 3, 4]),
        ("FulfilledToName LIKE 'o%'", [1]),
        ("FulfilledToName LIKE '%OFF%'", [2]),
        ("FulfilledToName LIKE '5_% off%'", [2]),
        ("FulfilledToName LIKE '50\\% off\\_sale'", [2]),
        ("FulfilledToName LIKE '50\\%'", []),
        ("FulfilledToName LIKE '5\\_%'", []),
        ("FulfilledToName LIKE 'O\\'B_ien'", [1]),
        ("FulfilledToName LIKE '%'", [1, 2, 3]),
        ("FulfilledToName = 'back\\\\slash \\\"q\\\"'", [3]),
        ("NOT Status = 'Allocated'", [2, 4]),
        ("NOT (Status = 'Allocated' OR Status = 'Fulfilled')", [4]),
        ("(Status = 'Allocated' OR Status = 'Fulfilled') AND Type = 'Warehouse'", [3]),
        ("Status = 'Allocated' AND (Type = 'Warehouse' OR GrandTotalAmount > 100)", [1, 3]),
        ("Status = 'Allocated' OR Status = 'Cancelled' OR GrandTotalAmount = 20", [1, 2, 3, 4]),
        ("DeliveryMethod.Name IN ('BOPIS','BOFIS')", [1, 2]),
        ("DeliveryMethod.Name = null", [4]),
        ("DeliveryMethod.Name != 'BOPIS'", [2, 3, 4]),
        ("OrderSummary.Account.PersonEmail = 'ADA@example.com'", [1, 2]),
        ("OrderSummary.Account.Name = null", [3, 4]),
        ("FulfilledFromLocation.warehouseID__c = 'WH-001'", [1, 3]),
        ("fulfilledfromlocation.WAREHOUSEID__C = 'wh-002'", [2]),
        ("CreatedDate > 2025-05-01T12:00:00Z", [2]),
        ("CreatedDate >= 2025-05-01T12:00:00+00:00", [1, 2]),
        ("CreatedDate = 2025-05-01T12:00:00.000+0000", [1]),
        ("CreatedDate < 2025-05-01T14:00:00+02:00", [3, 4]),
        ("CreatedDate > 2025-04-30T19:59:59.000-0400", [1, 2, 4]),
        ("Id IN (SELECT FulfillmentOrderId FROM FulfillmentOrderLineItem WHERE Quantity > 1)", [1, 2]),
        ("Id NOT IN (SELECT FulfillmentOrderId FROM FulfillmentOrderLineItem)", [3, 4]),
        ("OrderSummaryId IN (SELECT Id FROM OrderSummary WHERE AccountId != null)", [1, 2]),
        ("Status = 'Allocated' AND Id IN (SELECT FulfillmentOrderId FROM FulfillmentOrderLineItem)", [1]),
    ],
)
def test_where_operator_selects_expected_rows(org: FullOrg, where: str, expected: list[int]) -> None:
    """Each WHERE form keeps exactly the rows Salesforce would (deleted FO5 never appears)."""
    assert _numbers(org, where) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Id = '{FO1}'", [1]),
        ("Id = '{FO1_15}'", [1]),
        ("Id = '{FO1_lower_suffix}'", [1]),
        ("Id IN ('{FO1}', '{FO3}', '{FO3}')", [1, 3]),
        ("Id IN ('{FO1}') AND Status = 'Fulfilled'", []),
        ("Id = '{FO5}'", []),
        ("Id = 'not-an-id'", []),
        ("Id = '{BOPIS}'", []),
        ("Id != '{FO1}'", [2, 3, 4]),
        ("DeliveryMethodId = '{BOPIS_15}'", [1]),
        ("DeliveryMethodId NOT IN ('{BOPIS}')", [2, 3, 4]),
        ("DeliveryMethodId IN ('{BOPIS_15}', 'not-an-id')", [1]),
        ("DeliveryMethodId NOT IN ('{BOPIS_15}', 'not-an-id')", [2, 3, 4]),
        ("Id IN ('{FO1_15}', '{FO1_lower_suffix}', 'x')", [1]),
        ("FulfillmentOrderNumber IN ('fo-0001', 'FO-0002')", [1, 2]),
    ],
)
def test_id_filters_match_15_and_18_character_ids(org: FullOrg, where: str, expected: list[int]) -> None:
    """Ids compare in 18-character form; deleted rows and other objects' ids never match."""
    ids = dict(org.ids)
    ids.update(
        FO1_15=org.ids["FO1"][:15],
        FO1_lower_suffix=org.ids["FO1"][:15] + org.ids["FO1"][15:].lower(),
        BOPIS_15=org.ids["BOPIS"][:15],
    )
    assert _numbers(org, where.format(**ids)) == expected


NOW = datetime(2025, 5, 1, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate = TODAY", [1, 4]),
        ("CreatedDate = today", [1, 4]),
        ("CreatedDate = YESTERDAY", [3]),
        ("CreatedDate = TOMORROW", [2]),
        ("CreatedDate < TODAY", [3]),
        ("CreatedDate <= TODAY", [1, 3, 4]),
        ("CreatedDate > TODAY", [2]),
        ("CreatedDate >= TODAY", [1, 2, 4]),
        ("CreatedDate != TODAY", [2, 3]),
        ("CreatedDate = LAST_N_DAYS:1", [1, 3, 4]),
        ("CreatedDate = LAST_N_DAYS:0", [1, 4]),
        ("CreatedDate = NEXT_N_DAYS:1", [2]),
        ("CreatedDate = THIS_MONTH", [1, 2, 4]),
        ("CreatedDate = LAST_MONTH", [3]),
        ("CreatedDate = THIS_WEEK", [1, 2, 3, 4]),
        ("CreatedDate = NEXT_WEEK", []),
        ("CreatedDate = THIS_YEAR", [1, 2, 3, 4]),
        ("CreatedDate IN (YESTERDAY, TOMORROW)", [2, 3]),
    ],
)
def test_named_date_literals_cover_whole_utc_days(org: FullOrg, where: str, expected: list[int]) -> None:
    """TODAY, YESTERDAY, LAST_N_DAYS:n ... are day ranges relative to the injected clock (UTC)."""
    assert _numbers(org, where, now=NOW) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("PersonBirthdate = 1990-05-01", ["Ada"]),
        ("PersonBirthdate < 2000-01-01", ["Ada"]),
        ("PersonBirthdate > 1990-05-01", []),
        ("PersonBirthdate >= 1990-05-01", ["Ada"]),
        ("PersonBirthdate != 1990-05-01", ["Bob"]),
        ("PersonBirthdate IN (1990-05-01, 1991-01-01)", ["Ada"]),
        ("PersonBirthdate = null", ["Bob"]),
    ],
)
def test_date_literals_compare_with_stored_dates(org: FullOrg, where: str, expected: list[str]) -> None:
    """Unquoted YYYY-MM-DD literals compare as calendar days against stored date strings."""
    result = run_query(f"SELECT Name FROM Account WHERE {where} ORDER BY Name", org, api_version="62.0")
    assert [row["Name"] for row in result.rows] == expected


def test_keywords_are_case_insensitive(org: FullOrg) -> None:
    """Lower-case keywords, object and field names work and come back canonically cased."""
    result = run_query(
        "select id, STATUS from fulfillmentorder where status = 'fulfilled' order by id desc limit 5",
        org,
        api_version="62.0",
    )
    assert result.sobject == "FulfillmentOrder"
    assert [list(row) for row in result.rows] == [["attributes", "Id", "Status"]]
    assert result.rows[0]["Status"] == "Fulfilled"


def test_names_that_are_keywords_elsewhere_still_parse(org: FullOrg) -> None:
    """A field called Type next to keyword positions (ORDER BY, LIMIT) lexes as a name."""
    result = run_query(
        "SELECT Type FROM FulfillmentOrder WHERE Type = 'Warehouse' ORDER BY Type LIMIT 1",
        org,
        api_version="62.0",
    )
    assert result.rows[0]["Type"] == "Warehouse"
