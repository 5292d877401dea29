"""Pure return planning: POS return lines -> OrderItemSummary change items, refusing over-returns."""

from __future__ import annotations

from typing import Any

import pytest

from worker.config import ReturnsConfig
from worker.errors import PermanentError
from worker.flows.returns import plan_return
from worker.order_history import cancelable, returnable, search_condition

# Rows as detail_query reads them; what is returnable is OMS's QuantityAvailableToReturn (fulfilled - initiated).
ITEMS: list[dict[str, Any]] = [
    {"Id": "10uA", "Type": "Order Product", "StockKeepingUnit": "SKU-1", "Quantity": 2.0, "QuantityCanceled": 0,
     "QuantityReturned": 0, "QuantityReturnInitiated": 0, "QuantityAvailableToReturn": 2.0},
    {"Id": "10uB", "Type": "Order Product", "StockKeepingUnit": "SKU-2", "QuantityOrdered": 4.0, "Quantity": 2.0,
     "QuantityCanceled": 1, "QuantityFulfilled": 2.0,
     "QuantityReturned": 1, "QuantityReturnInitiated": 1, "QuantityAvailableToReturn": 1.0},
    {"Id": "10uC", "Type": "Delivery Charge", "StockKeepingUnit": None, "Quantity": 1.0},
    {"Id": "10uD", "Type": "Order Product", "StockKeepingUnit": "SKU-1", "Quantity": 1.0,
     "QuantityAvailableToReturn": 1.0},
    {"Id": "10uE", "Type": "Order Product", "StockKeepingUnit": "SKU-3", "Quantity": 2.0, "QuantityFulfilled": 0,
     "QuantityAvailableToReturn": 0.0},  # allocated to a store, not picked up yet
]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([{"originalOrderItemId": "10uA", "quantity": 1, "returnReason": "Wrong Item"}], [("10uA", 1.0, "Wrong Item")]),
        ([{"productId": "SKU-2", "quantity": 1}], [("10uB", 1.0, "Unknown")]),
        ([{"productId": "SKU-1", "quantity": 3}], [("10uA", 2.0, "Unknown"), ("10uD", 1.0, "Unknown")]),
        ([{"originalOrderItemId": "not-an-oisid", "productId": "SKU-1", "quantity": 1}], [("10uA", 1.0, "Unknown")]),
    ],
)
def test_lines_map_by_original_id_else_by_sku(
    lines: list[dict[str, Any]], expected: list[tuple[str, float, str]]
) -> None:
    """Return lines use the original OrderItemSummary id when known, else SKUs with quantity left."""
    change = plan_return(lines, ITEMS)
    assert [(c["orderItemSummaryId"], c["quantity"], c["reason"]) for c in change] == expected
    assert all(c["shippingReductionFlag"] is False for c in change)


@pytest.mark.parametrize(
    "lines",
    [
        [{"originalOrderItemId": "10uB", "quantity": 2}],  # 2 fulfilled - 1 return initiated = 1 left
        [{"originalOrderItemId": "10uE", "quantity": 1}],  # never fulfilled: nothing to return
        [{"productId": "SKU-3", "quantity": 1}],
        [{"productId": "SKU-1", "quantity": 4}],
        [{"productId": "SKU-9", "quantity": 1}],
        [{"originalOrderItemId": "10uA", "quantity": 0}],
    ],
)
def test_over_returns_and_bad_quantities_are_refused(lines: list[dict[str, Any]]) -> None:
    """Asking for more than is returnable (or a non-positive quantity) is a permanent, clear error."""
    with pytest.raises(PermanentError):
        plan_return(lines, ITEMS)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"OrderNumber": "00001"}, "OrderNumber LIKE '00001%'"),
        ({"LastName": "O'Brien"}, "Account.LastName LIKE 'O\\'Brien%'"),
        ({"BillingEmailAddress": "a_b%@x.com"}, "BillingEmailAddress LIKE 'a\\_b\\%@x.com%'"),
        ({"BillToContactId": "003A", "FirstName": "Ann"},
         "Account.FirstName LIKE 'Ann%' AND BillToContactId = '003A'"),
    ],
)
def test_search_condition_escapes_input(params: dict[str, str], expected: str) -> None:
    """Search input is escaped into SOQL, LIKE wildcards included (no injection through names or emails)."""
    assert search_condition(params) == expected


def test_search_condition_needs_a_field() -> None:
    """A search with no known field is refused with the list of fields."""
    with pytest.raises(ValueError, match="OrderNumber"):
        search_condition({"foo": "bar"})


@pytest.mark.parametrize(
    ("pos_reason", "expected"),
    [("broken in box", "Damaged"), ("BROKEN_IN_BOX", "Damaged"), ("Too Small", "Wrong Size"),
     ("Wrong Size", "Wrong Size"), ("DAMAGED", "Not Recognized"), (None, "Not Recognized")],
)
def test_reason_map_and_default_come_from_config(pos_reason: str | None, expected: str) -> None:
    """A configured reason map (codes normalised like the config does) and default replace the built-in ones."""
    config = ReturnsConfig(reason_map={"broken in box": "Damaged", "TOO_SMALL": "Wrong Size"},
                           default_reason="Not Recognized")
    line = {"originalOrderItemId": "10uA", "quantity": 1, "returnReason": pos_reason}
    (change,) = plan_return([line], ITEMS, reasons=config.reason_map, default_reason=config.default_reason)
    assert change["reason"] == expected



def test_returnable_and_cancelable_are_omss_own_quantities() -> None:
    """Returnable is QuantityAvailableToReturn and cancelable QuantityAvailableToCancel, never computed from
    Quantity (which counts allocated and unfulfilled units); missing or negative reads as 0."""
    item = {"Quantity": 3.0, "QuantityReturned": 0, "QuantityReturnInitiated": 1, "QuantityFulfilled": 2.0,
            "QuantityAvailableToReturn": 1.0, "QuantityAvailableToCancel": 0.0}
    assert (returnable(item), cancelable(item)) == (1, 0)
    assert (returnable({"Quantity": 2.0}), cancelable({"QuantityAvailableToCancel": -1})) == (0, 0)
