"""Imported orders kept as compressed JSON, beside the few fields a search filters on.

A POS order is about 1.7 KB as JSON, 0.7 KB compressed, and about five times the JSON as Python dicts; a
50,000-order backlog held as dicts made the emulator process outgrow the machine it shares with the worker.
Reads decode a fresh copy and writes encode, so what callers see is exactly what a stored-and-reloaded order
would be (as with a real POS behind a database): a change is kept only when it is saved with
:meth:`PackedOrders.save`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any, NamedTuple


class OrderKeys(NamedTuple):
    """What search filters on, kept unpacked so a filter never decodes an order."""

    store_id: Any
    status: str
    updated: int
    external_id: str


def _pack(order: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(order, separators=(",", ":"), ensure_ascii=False).encode(), 1)


class PackedOrders:
    """order id -> packed order, in import order (the order a search lists them in)."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._keys: dict[str, OrderKeys] = {}

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._data

    def clear(self) -> None:
        self._data.clear()
        self._keys.clear()

    def save(self, order: dict[str, Any]) -> None:
        order_id = order["orderId"]
        self._data[order_id] = _pack(order)
        self._keys[order_id] = OrderKeys(order.get("storeId"), order["orderStatus"], order["updatedDate"],
                                         order["externalOrderId"])

    def get(self, order_id: str) -> dict[str, Any] | None:
        packed = self._data.get(order_id)
        return None if packed is None else dict(json.loads(zlib.decompress(packed)))

    def keys(self) -> Iterator[tuple[str, OrderKeys]]:
        return iter(self._keys.items())

    def values(self) -> Iterator[dict[str, Any]]:
        return (json.loads(zlib.decompress(packed)) for packed in self._data.values())
