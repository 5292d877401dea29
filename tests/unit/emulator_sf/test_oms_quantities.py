"""OrderItemSummary quantity formulas and Status (emulator/REFERENCE-oms.md rules Q1-Q6, S1) without HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.salesforce.errors import SfError
from emulator.salesforce.oms_quantities import check_change, derive, ois_status


def _row(**counters: float) -> dict[str, Any]:
    row: dict[str, Any] = {"Id": "10uR00000000001IAA", "QuantityOrdered": 3.0, **counters}
    derive(row)
    return row


def test_quantity_is_ordered_minus_canceled_and_returned() -> None:
    """Quantity = QuantityOrdered - (QuantityCanceled + QuantityReturned); QuantityNetOrdered ignores returns."""
    row = _row(QuantityCanceled=1, QuantityFulfilled=2, QuantityReturned=1, QuantityReturnInitiated=1,
               QuantityAllocated=2)
    assert (row["Quantity"], row["QuantityNetOrdered"]) == (1.0, 2.0)


def test_available_to_fulfill_and_cancel_exclude_allocated_quantity() -> None:
    """QuantityAvailableToFulfill = QuantityAvailableToCancel = ordered - (canceled + allocated)."""
    row = _row(QuantityAllocated=2, QuantityCanceled=0)
    assert row["QuantityAvailableToFulfill"] == row["QuantityAvailableToCancel"] == 1.0


def test_available_to_return_is_fulfilled_minus_return_initiated() -> None:
    """QuantityAvailableToReturn = QuantityFulfilled - QuantityReturnInitiated; unfulfilled isn't returnable."""
    assert _row()["QuantityAvailableToReturn"] == 0.0
    row = _row(QuantityAllocated=3, QuantityFulfilled=3, QuantityReturnInitiated=1, QuantityReturned=1)
    assert row["QuantityAvailableToReturn"] == 2.0


@pytest.mark.parametrize("counters,status", [
    ({}, "ORDERED"),
    ({"QuantityAllocated": 1}, "PARTIALLYALLOCATED"),
    ({"QuantityAllocated": 3}, "ALLOCATED"),
    ({"QuantityAllocated": 3, "QuantityFulfilled": 1}, "PARTIALLYFULFILLED"),
    ({"QuantityAllocated": 3, "QuantityFulfilled": 3}, "FULFILLED"),
    ({"QuantityCanceled": 3}, "CANCELED"),
    ({"QuantityAllocated": 3, "QuantityFulfilled": 3, "QuantityReturnInitiated": 3, "QuantityReturned": 3},
     "RETURNED"),
    ({"QuantityAllocated": 3, "QuantityFulfilled": 3, "QuantityReturnInitiated": 3, "QuantityReturned": 1},
     "RETURNINITIATED"),
    ({"QuantityAllocated": 2, "QuantityFulfilled": 2, "QuantityCanceled": 1}, "FULFILLED"),
])
def test_status_follows_the_documented_formulas_in_order(counters: dict[str, float], status: str) -> None:
    """Status is the first of RETURNINITIATED..PARTIALLYALLOCATED whose formula holds, else ORDERED."""
    assert _row(**counters)["Status"] == status
    assert ois_status(_row(**counters)) == status


@pytest.mark.parametrize("kind,counters,ok,refused", [
    ("cancel", {"QuantityAllocated": 2}, 1.0, 2.0),
    ("cancel", {"QuantityAllocated": 3, "QuantityFulfilled": 3}, None, 1.0),
    ("return", {"QuantityAllocated": 3, "QuantityFulfilled": 2}, 2.0, 3.0),
    ("return", {}, None, 1.0),
])
def test_change_limits(kind: str, counters: dict[str, float], ok: float | None, refused: float) -> None:
    """submit-cancel is capped by QuantityAvailableToCancel, submit-return by QuantityAvailableToReturn (400)."""
    row = _row(**counters)
    if ok is not None:
        check_change(row, ok, kind)
    with pytest.raises(SfError) as info:
        check_change(row, refused, kind)
    assert (info.value.status, info.value.error_code) == (400, "INVALID_API_INPUT")
    assert f"available to {kind}" in info.value.message
