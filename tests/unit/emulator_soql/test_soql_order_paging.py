"""ORDER BY (directions, nulls, relationship keys, case-insensitive text), LIMIT and OFFSET."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from emulator.salesforce.soql import run_query

if TYPE_CHECKING:
    from conftest import FullOrg


def _numbers(org: FullOrg, tail: str) -> list[int]:
    result = run_query(f"SELECT FulfillmentOrderNumber FROM FulfillmentOrder {tail}", org, api_version="62.0")
    assert result.total_size == len(result.rows)
    return [int(row["FulfillmentOrderNumber"][-1]) for row in result.rows]


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("ORDER BY GrandTotalAmount", [3, 4, 2, 1]),
        ("ORDER BY GrandTotalAmount ASC", [3, 4, 2, 1]),
        ("ORDER BY GrandTotalAmount DESC", [3, 1, 2, 4]),
        ("ORDER BY GrandTotalAmount DESC NULLS LAST", [1, 2, 4, 3]),
        ("ORDER BY GrandTotalAmount ASC NULLS LAST", [4, 2, 1, 3]),
        ("ORDER BY GrandTotalAmount NULLS FIRST", [3, 4, 2, 1]),
        ("order by grandtotalamount desc nulls last", [1, 2, 4, 3]),
        ("ORDER BY Status, FulfillmentOrderNumber DESC", [3, 1, 4, 2]),
        ("ORDER BY Status DESC, FulfillmentOrderNumber", [2, 4, 1, 3]),
        ("ORDER BY DeliveryMethod.Name", [4, 2, 1, 3]),
        ("ORDER BY DeliveryMethod.Name DESC NULLS LAST", [3, 1, 2, 4]),
        ("ORDER BY OrderSummary.OrderNumber DESC, CreatedDate", [3, 4, 1, 2]),
        ("ORDER BY FulfilledToName", [4, 2, 3, 1]),
        ("ORDER BY CreatedDate", [3, 4, 1, 2]),
        ("ORDER BY CreatedDate DESC", [2, 1, 4, 3]),
    ],
)
def test_order_by_sorts_like_salesforce(org: FullOrg, tail: str, expected: list[int]) -> None:
    """ORDER BY sorts case-insensitively, nulls first unless NULLS LAST, keys left to right."""
    assert _numbers(org, tail) == expected


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("ORDER BY CreatedDate LIMIT 2", [3, 4]),
        ("ORDER BY CreatedDate LIMIT 0", []),
        ("ORDER BY CreatedDate LIMIT 10", [3, 4, 1, 2]),
        ("ORDER BY CreatedDate OFFSET 1", [4, 1, 2]),
        ("ORDER BY CreatedDate LIMIT 2 OFFSET 1", [4, 1]),
        ("ORDER BY CreatedDate LIMIT 2 OFFSET 3", [2]),
        ("ORDER BY CreatedDate OFFSET 4", []),
        ("WHERE Status = 'Allocated' ORDER BY CreatedDate DESC LIMIT 1", [1]),
    ],
)
def test_limit_and_offset_page_the_ordered_rows(org: FullOrg, tail: str, expected: list[int]) -> None:
    """OFFSET skips, then LIMIT caps, the ordered result; total_size counts the returned rows."""
    assert _numbers(org, tail) == expected


def test_order_by_id_ranks_ids_as_id_comparisons_do() -> None:
    """ORDER BY Id ranks record ids case-sensitively, as ``Id >`` compares them, so keyset paging (``WHERE Id >
    :last ORDER BY Id``) visits every row once (was: ordered ignoring case, paging stopped at 28 of 49 rows)."""
    from datetime import date

    from emulator.salesforce.ids import checksum
    from emulator.salesforce.soql.evaluate import compare, sort_key
    from emulator.salesforce.soql.model import StrLit

    ids = [(stem := f"0a3R00000000{a}{b}A") + checksum(stem) for a in "0aAbBcC" for b in "0aAbBzZ"]
    ordered = sorted(ids, key=lambda value: sort_key(value, True))
    visited, last = [], None
    while len(visited) < len(ids):
        page = [i for i in ordered if last is None or compare(i, ">", StrLit(last, ""), True, date(2026, 1, 1))][:4]
        assert page, f"paging stopped after {len(visited)} of {len(ids)}"
        visited += page
        last = page[-1]
    assert sorted(visited) == sorted(ids) and len(visited) == len(ids)
