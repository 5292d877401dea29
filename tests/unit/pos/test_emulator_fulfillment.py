"""The POS emulator's fulfillment-order store: import identity, validation and derived order status."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from emulator.pos.common import ApiProblem
from emulator.pos.fulfillment import FulfillmentOrders, derive_status


def payload(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "externalOrderId": "0a3A",
        "orderId": "FO-1",
        "storeId": "256",
        "omniFulfillmentType": "PICKUP_IN_STORE",
        "orderDate": 1717168580000,
        "currency": "USD",
        "orderProductList": [
            {"orderItemId": "0a4A", "productId": "SKU-1", "quantity": 1, "price": 9.5},
            {"orderItemId": "0a4B", "productId": "SKU-2", "quantity": 2, "price": 3},
        ],
    }
    body.update(changes)
    return body


def test_pos_generates_line_ids_and_keeps_sent_ones() -> None:
    """Lines get POS orderItemIds; the sent id is kept as externalLineId; orderId is kept."""
    store = FulfillmentOrders()
    order, created = store.import_order(payload(), 5)
    assert created and order["orderId"] == "FO-1" and order["orderStatus"] == "NEW"
    assert [(x["externalLineId"], x["orderItemId"]) for x in order["orderProductList"]] == [
        ("0a4A", "POI-000001"),
        ("0a4B", "POI-000002"),
    ]
    again, created_again = store.import_order(payload(storeId="999"), 6)
    assert not created_again and again["storeId"] == "256"  # the stored order, unchanged


def test_order_id_taken_by_other_fo_is_conflict() -> None:
    """Another externalOrderId with an orderId already in use is a 409."""
    store = FulfillmentOrders()
    store.import_order(payload(), 1)
    with pytest.raises(ApiProblem) as caught:
        store.import_order(payload(externalOrderId="0a3B"), 2)
    assert caught.value.status == 409


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("externalOrderId"), "externalOrderId"),
        (lambda b: b.pop("storeId"), "storeId"),
        (lambda b: b.update(orderDate="2024-01-01"), "orderDate"),
        (lambda b: b.update(omniFulfillmentType="TELEPORT"), "omniFulfillmentType"),
        (lambda b: b.update(orderProductList=[]), "orderProductList"),
        (lambda b: b["orderProductList"][0].pop("orderItemId"), "orderProductList[0].orderItemId"),
        (lambda b: b["orderProductList"][1].update(quantity=0), "orderProductList[1].quantity"),
        (lambda b: b["orderProductList"][1].update(orderItemId="0a4A"), "orderProductList[1].orderItemId"),
    ],
)
def test_validation_names_the_field(mutate: Any, field: str) -> None:
    """Each missing or bad required field is a 400 whose message starts with the field's path."""
    body = copy.deepcopy(payload())
    mutate(body)
    with pytest.raises(ApiProblem) as caught:
        FulfillmentOrders().import_order(body, 1)
    assert caught.value.status == 400 and caught.value.message.startswith(f"{field}:")


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["CANCELED", "CANCELED"], "CANCELED"),
        (["DELIVERED", "CANCELED"], "DELIVERED"),
        (["SHIPPED", "SHIPPED"], "SHIPPED"),
        (["PACKED", "DELIVERED"], "PACKED"),
        (["NEW", "CANCELED"], "NEW"),
        (["NEW", "PACKED"], "PACKED"),
    ],
)
def test_order_status_derivation(statuses: list[str], expected: str) -> None:
    """orderStatus follows the §8.4 rule from the line statuses."""
    assert derive_status([{"itemStatus": s} for s in statuses]) == expected


def test_search_pages() -> None:
    """Search pages with opaque tokens; a foreign token is a 400."""
    store = FulfillmentOrders(page_size=2)
    for n in range(3):
        store.import_order(payload(externalOrderId=f"E{n}", orderId=f"FO-{n}"), n)
    first = store.search({})
    second = store.search({"pageToken": first["nextPageToken"]})
    assert len(first["orders"]) == 2 and len(second["orders"]) == 1 and "nextPageToken" not in second
    with pytest.raises(ApiProblem):
        store.search({"pageToken": "zz"})
