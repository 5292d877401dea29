"""Literals: SOQL string escapes, LIKE escapes, simple_salesforce.format_soql round trips, parse cache."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest
from simple_salesforce import format_soql

from emulator.salesforce.soql import parse, run_query
from emulator.salesforce.soql.model import Compare, DateLit, DateTimeLit, InList, Like, StrLit

if TYPE_CHECKING:
    from conftest import FullOrg

TRICKY = [
    "O'Brien",
    'say "hi"',
    "back\\slash",
    "trailing\\",
    "50% off_sale",
    "line\nbreak\ttab\rcr",
    "bell\b\f",
    "\\'",
    "ünïcødé ✓",
    "",
]


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r"'plain'", "plain"),
        (r"'O\'Brien'", "O'Brien"),
        (r"'a\\b'", "a\\b"),
        (r"'say \"hi\"'", 'say "hi"'),
        (r"'l1\nl2'", "l1\nl2"),
        (r"'l1\Nl2'", "l1\nl2"),
        (r"'\t\r\b\f'", "\t\r\b\f"),
        (r"'50\%'", "50%"),
        (r"'a\_b'", "a_b"),
    ],
)
def test_string_escapes_decode_to_the_literal_value(literal: str, value: str) -> None:
    """Every SOQL quoted-string escape decodes to the character it stands for."""
    where = parse(f"SELECT Id FROM Account WHERE Name = {literal}").where
    assert isinstance(where, Compare) and isinstance(where.value, StrLit)
    assert where.value.value == value


@pytest.mark.parametrize("value", TRICKY)
def test_format_soql_values_parse_back_exactly(value: str) -> None:
    """A value quoted by simple_salesforce.format_soql parses back to the identical string."""
    where = parse(format_soql("SELECT Id FROM Account WHERE Name = {}", value)).where
    assert isinstance(where, Compare) and isinstance(where.value, StrLit)
    assert where.value.value == value


def test_format_soql_lists_dates_and_scalars_parse_back() -> None:
    """format_soql lists, datetimes, dates, numbers, booleans and None become the matching literals."""
    stamp = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    soql = format_soql(
        "SELECT Id FROM Account WHERE Name IN {} AND A = {} AND B = {} AND C = {} AND D = {} AND E = {}",
        TRICKY,
        stamp,
        date(2025, 5, 1),
        2.5,
        True,
        None,
    )
    where = parse(soql).where
    parts = where.parts  # type: ignore[union-attr]
    assert isinstance(parts[0], InList)
    assert [v.value for v in parts[0].values] == TRICKY  # type: ignore[union-attr]
    assert [p.value for p in parts[1:]] == [DateTimeLit(stamp), DateLit(date(2025, 5, 1)), 2.5, True, None]


@pytest.mark.parametrize("value", ["O'Brien", 'back\\slash "q"', "50% off_sale"])
def test_format_soql_equality_finds_the_stored_row(org: FullOrg, value: str) -> None:
    """Querying with a format_soql-quoted stored value finds exactly that row."""
    soql = format_soql("SELECT FulfilledToName FROM FulfillmentOrder WHERE FulfilledToName = {}", value)
    rows = run_query(soql, org, api_version="62.0").rows
    assert [row["FulfilledToName"] for row in rows] == [value]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("50% off_", ["50% off_sale"]),
        ("50X off_", []),
        ("50% offX", []),
        ("O'B", ["O'Brien"]),
        ("back\\", ['back\\slash "q"']),
    ],
)
def test_format_soql_like_spec_matches_wildcards_literally(
    org: FullOrg, prefix: str, expected: list[str]
) -> None:
    """With format_soql's :like spec, % and _ in the value match only themselves."""
    soql = format_soql(
        "SELECT FulfilledToName FROM FulfillmentOrder WHERE FulfilledToName LIKE '{:like}%'", prefix
    )
    rows = run_query(soql, org, api_version="62.0").rows
    assert [row["FulfilledToName"] for row in rows] == expected


def test_like_pattern_keeps_escaped_wildcards_literal() -> None:
    """In a LIKE pattern, \\% and \\_ are literal while bare % and _ are wildcards."""
    where = parse(r"SELECT Id FROM Account WHERE Name LIKE 'a\%b_c%'").where
    assert isinstance(where, Like)
    assert where.pattern.value == "a%b_c%"
    assert where.pattern.like_regex == "a%b.c.*"


def test_datetime_literal_forms_are_the_same_instant() -> None:
    """Z, +00:00, +0000 and fractional forms of one instant parse to equal datetimes."""
    forms = [
        "2025-05-01T12:00:00Z",
        "2025-05-01T12:00:00+00:00",
        "2025-05-01T12:00:00.000+0000",
        "2025-05-01T14:00:00+02:00",
    ]
    values = set()
    for form in forms:
        where = parse(f"SELECT Id FROM Account WHERE CreatedDate = {form}").where
        assert isinstance(where, Compare) and isinstance(where.value, DateTimeLit)
        values.add(where.value.value)
    assert values == {datetime(2025, 5, 1, 12, 0, tzinfo=UTC)}


def test_parsed_queries_are_cached_by_text() -> None:
    """Parsing the same text twice returns the cached statement object."""
    text = "SELECT Id FROM Account WHERE Name = 'cache-probe'"
    before = parse.cache_info().hits
    first = parse(text)
    assert parse(text) is first
    assert parse.cache_info().hits == before + 1
