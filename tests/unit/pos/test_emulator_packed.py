"""The POS emulator keeps imported orders packed: reads are copies, changes count only through the store's own
actions, and search filters without decoding."""

from __future__ import annotations

import sys
from typing import Any

from emulator.pos.fulfillment import FulfillmentOrders
from emulator.pos.packed import PackedOrders

from .test_emulator_fulfillment import payload


def test_a_read_is_a_copy_that_does_not_change_the_store() -> None:
    """Changing a dict a read returned leaves the stored order as it was (as a POS behind a database)."""
    store = FulfillmentOrders()
    order, _ = store.import_order(payload(), 5)
    order["orderStatus"] = "DELIVERED"
    store.get("FO-1")["orderProductList"][0]["itemStatus"] = "CANCELED"
    again = store.get("FO-1")
    assert again["orderStatus"] == "NEW"
    assert again["orderProductList"][0]["itemStatus"] == "NEW"


def test_events_and_cancels_are_kept() -> None:
    """PACK then a cancel of the other line are both visible to later reads and searches."""
    store = FulfillmentOrders()
    store.import_order(payload(), 5)
    store.apply_event("FO-1", {"eventType": "PACK", "items": [{"orderItemId": "POI-000001"}]}, 6)
    store.cancel("FO-1", {"reason": "OTHER", "orderItemIds": ["POI-000002"]}, 7)
    order = store.get("FO-1")
    assert [x["itemStatus"] for x in order["orderProductList"]] == ["PACKED", "CANCELED"]
    assert order["orderStatus"] == "PACKED" and order["updatedDate"] == 7
    found = store.search({"status": "PACKED", "updatedSince": 7})["orders"]
    assert [o["orderId"] for o in found] == ["FO-1"]
    assert store.search({"status": "NEW"})["orders"] == []


def test_search_filters_and_pages_in_import_order() -> None:
    """storeId, externalOrderIds and paging answer in import order with whole orders."""
    store = FulfillmentOrders()
    for n in range(5):
        store.import_order(payload(externalOrderId=f"0a3{n}", orderId=f"FO-{n}", storeId=str(256 + n % 2)), n)
    first = store.search({"storeId": "256", "pageSize": 2})
    assert [o["orderId"] for o in first["orders"]] == ["FO-0", "FO-2"]
    rest = store.search({"storeId": "256", "pageSize": 2, "pageToken": first["nextPageToken"]})
    assert [o["orderId"] for o in rest["orders"]] == ["FO-4"] and "nextPageToken" not in rest
    picked = store.search({"externalOrderIds": ["0a33", "0a31"]})["orders"]
    assert [o["orderId"] for o in picked] == ["FO-1", "FO-3"]
    assert picked[0]["orderProductList"][0]["productId"] == "SKU-1"


def test_packed_orders_are_smaller_than_dicts() -> None:
    """A packed order takes a fraction of the memory its dicts would (what lets 50,000 fit beside the worker)."""

    def deep_size(value: Any) -> int:
        size = sys.getsizeof(value)
        if isinstance(value, dict):
            size += sum(deep_size(k) + deep_size(v) for k, v in value.items())
        elif isinstance(value, list):
            size += sum(deep_size(v) for v in value)
        return size

    store = FulfillmentOrders()
    order, _ = store.import_order(payload(), 5)
    packed = PackedOrders()
    packed.save(order)
    assert sys.getsizeof(packed._data["FO-1"]) * 2 < deep_size(order)
