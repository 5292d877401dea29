"""Composite reference expressions: case-sensitive walk with '.' and '[n]'."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.salesforce.references import ReferenceError_, referenced_ids, substitute, walk

RESULTS: dict[str, Any] = {
    "acct": {"id": "001A", "success": True, "errors": []},
    "q": {"totalSize": 1, "records": [{"Id": "003B", "Account": {"Name": "Acme"}, "Amount": 12.5}]},
}


@pytest.mark.parametrize("expression,value", [
    ("acct.id", "001A"),
    ("acct.success", True),
    ("q.records[0].Id", "003B"),
    ("q.records[0].Account.Name", "Acme"),
    ("q.records[0].Amount", 12.5),
    ("q.totalSize", 1),
])
def test_walk_resolves(expression: str, value: Any) -> None:
    """Valid expressions walk objects and arrays to a scalar."""
    assert walk(expression, RESULTS) == value


@pytest.mark.parametrize("expression", ["acct.Id", "nope.id", "q.records[1].Id", "q.records", "q.records[0].id"])
def test_walk_rejects(expression: str) -> None:
    """Wrong case, unknown ids, out-of-range indexes and non-scalars are invalid references."""
    with pytest.raises(ReferenceError_) as info:
        walk(expression, RESULTS)
    assert info.value.message.startswith(f"Invalid reference specified. No value for {expression} found in ")


def test_substitute_keeps_types_for_whole_values_and_interpolates_text() -> None:
    """A whole-string reference keeps its JSON type; embedded references become text; URLs always text."""
    body = {"AccountId": "@{acct.id}", "Amount": "@{q.records[0].Amount}", "Note": "x-@{q.totalSize}",
            "Nested": [{"V": "@{acct.success}"}]}
    assert substitute(body, RESULTS) == {"AccountId": "001A", "Amount": 12.5, "Note": "x-1",
                                         "Nested": [{"V": True}]}
    assert substitute("/sobjects/Account/@{acct.id}", RESULTS, in_url=True) == "/sobjects/Account/001A"


def test_referenced_ids_finds_all_roots() -> None:
    """Dependencies are the reference roots mentioned anywhere."""
    assert referenced_ids({"a": "@{x.id}", "b": ["@{y.records[0].Id}-@{z.id}"]}) == {"x", "y", "z"}
