"""Imported store-fulfilment orders (BOPIS/BOFIS) and their status model (``pos-api.md`` §8.3, §8.4).

Identity rules (the contract the worker relies on):

* ``orderId``: the POS keeps the ``orderId`` the worker sent (the FulfillmentOrderNumber); a second
  ``externalOrderId`` with an ``orderId`` already in use is refused with 409 ORDER_ID_IN_USE.
* ``orderItemId``: the POS generates its own line ids (as with "Generate Order ItemId for SFOMS Order",
  §3.5), ``POI-000001``, ... unique across orders. Each line keeps the id the worker sent as
  ``externalLineId``, so the worker maps FOLI Id (``externalLineId``) -> POS ``orderItemId``. Events
  carry the POS ``orderItemId``.

Line ``itemStatus``: NEW -PACK-> PACKED -DELIVERED (BOPIS) / SHIPPED (BOFIS)->; NEW or PACKED -CANCELED->
CANCELED. A CANCELED item may cancel part of a line's quantity (``canceledQuantity``); the line is CANCELED
when nothing is left. ``orderStatus``: CANCELED when every line is; DELIVERED/SHIPPED when every other line
is; PACKED when any line is PACKED; else NEW.
"""

from __future__ import annotations

import copy
import itertools
from decimal import Decimal
from typing import Any

from .common import ApiProblem, bad, json_qty, paginate, quantity, require_str
from .packed import PackedOrders

BOPIS_TYPES = frozenset({"PICKUP_IN_STORE", "BOPIS", "STORE_PICKUP"})  # BOPIS spelling unconfirmed (§3.1)
BOFIS_TYPES = frozenset({"SHIP_TO_HOME_CURRENT_STORE", "BOFIS"})
EVENTS = ("PACK", "DELIVERED", "SHIPPED", "CANCELED")
CANCEL_REASONS = ("DAMAGED", "OUT_OF_STOCK", "NOT_PICKED_UP", "OTHER")
FROM_STATES = {
    "PACK": ("NEW",),
    "DELIVERED": ("PACKED",),
    "SHIPPED": ("PACKED",),
    "CANCELED": ("NEW", "PACKED"),
}
TO_STATE = {"PACK": "PACKED", "DELIVERED": "DELIVERED", "SHIPPED": "SHIPPED", "CANCELED": "CANCELED"}
FINAL = frozenset({"DELIVERED", "SHIPPED"})


def validate_import(body: Any) -> None:
    """Required fields of the §8.3 payload; the error names the first bad field."""
    if not isinstance(body, dict):
        raise bad("(body)", "expected a JSON object")
    for key in ("externalOrderId", "orderId", "storeId", "omniFulfillmentType", "currency"):
        require_str(body, key)
    if body["omniFulfillmentType"] not in BOPIS_TYPES | BOFIS_TYPES:
        raise bad(
            "omniFulfillmentType",
            f"unknown value {body['omniFulfillmentType']!r} (expected one of "
            f"{', '.join(sorted(BOPIS_TYPES | BOFIS_TYPES))})",
        )
    if isinstance(body.get("orderDate"), bool) or not isinstance(body.get("orderDate"), int):
        raise bad("orderDate", "required (epoch milliseconds)")
    lines = body.get("orderProductList")
    if not isinstance(lines, list) or not lines:
        raise bad("orderProductList", "required (at least one line)")
    seen: set[str] = set()
    for n, line in enumerate(lines):
        where = f"orderProductList[{n}]."
        if not isinstance(line, dict):
            raise bad(where[:-1], "expected an object")
        item_id = require_str(line, "orderItemId", where)
        if item_id in seen:
            raise bad(f"{where}orderItemId", f"duplicate line id {item_id!r}")
        seen.add(item_id)
        require_str(line, "productId", where)
        quantity(line.get("quantity"), f"{where}quantity")
        price = line.get("price")
        if isinstance(price, bool) or not isinstance(price, int | float):
            raise bad(f"{where}price", "required (a number)")


def derive_status(lines: list[dict[str, Any]]) -> str:
    statuses = [line["itemStatus"] for line in lines]
    live = [s for s in statuses if s != "CANCELED"]
    if not live:
        return "CANCELED"
    if all(s == "DELIVERED" for s in live):
        return "DELIVERED"
    if all(s == "SHIPPED" for s in live):
        return "SHIPPED"
    return "PACKED" if "PACKED" in live else "NEW"


class FulfillmentOrders:
    def __init__(self, page_size: int = 50) -> None:
        self.page_size = page_size
        self.by_id = PackedOrders()
        self.by_external: dict[str, str] = {}
        self._line_ids = itertools.count(1)

    def reset(self) -> None:
        self.by_id.clear()
        self.by_external.clear()
        self._line_ids = itertools.count(1)

    @staticmethod
    def order_type(order: dict[str, Any]) -> str:
        return "BOFIS" if order.get("omniFulfillmentType") in BOFIS_TYPES else "BOPIS"

    def import_order(self, body: Any, now_ms: int) -> tuple[dict[str, Any], bool]:
        """(stored order, created); the same externalOrderId returns the stored order unchanged."""
        validate_import(body)
        existing = self.by_external.get(body["externalOrderId"])
        if existing is not None:
            return self.get(existing), False
        if body["orderId"] in self.by_id:
            raise ApiProblem(
                409, "ORDER_ID_IN_USE", f"orderId {body['orderId']} belongs to another externalOrderId"
            )
        order = copy.deepcopy(body)
        order.pop("duplicate", None)
        for line in order["orderProductList"]:
            line["externalLineId"] = line["orderItemId"]
            line["orderItemId"] = f"POI-{next(self._line_ids):06d}"
            line["itemStatus"] = "NEW"
            line["canceledQuantity"] = 0
        order.update(
            orderType=self.order_type(order), orderStatus="NEW", createdDate=now_ms, updatedDate=now_ms
        )
        self.by_id.save(order)
        self.by_external[order["externalOrderId"]] = order["orderId"]
        return order, True

    def get(self, order_id: str) -> dict[str, Any]:
        order = self.by_id.get(order_id)
        if order is None:
            raise ApiProblem(404, "NOT_FOUND", f"no fulfillment order {order_id}")
        return order

    def search(self, query: Any) -> dict[str, Any]:
        if not isinstance(query, dict):
            raise bad("(body)", "expected a JSON object")
        found = list(self.by_id.keys())
        if query.get("storeId") is not None:
            found = [(i, k) for i, k in found if k.store_id == query["storeId"]]
        if query.get("status") is not None:
            wanted = query["status"] if isinstance(query["status"], list) else [query["status"]]
            found = [(i, k) for i, k in found if k.status in wanted]
        if query.get("updatedSince") is not None:
            if not isinstance(query["updatedSince"], int):
                raise bad("updatedSince", "expected epoch milliseconds")
            found = [(i, k) for i, k in found if k.updated >= query["updatedSince"]]
        if query.get("externalOrderIds") is not None:
            ids = set(query["externalOrderIds"])
            found = [(i, k) for i, k in found if k.external_id in ids]
        answer = paginate([i for i, _ in found], query, self.page_size)
        answer["orders"] = [self.get(i) for i in answer["orders"]]
        return answer

    def cancel(self, order_id: str, body: Any, now_ms: int) -> dict[str, Any]:
        """OMS-initiated cancel; already canceled lines are left as they are (a repeat is harmless)."""
        order = self.get(order_id)
        if not isinstance(body, dict):
            raise bad("(body)", "expected a JSON object")
        reason = require_str(body, "reason")
        ids = body.get("orderItemIds")
        lines = order["orderProductList"]
        if ids is not None:
            if not isinstance(ids, list):
                raise bad("orderItemIds", "expected a list of POS orderItemIds")
            known = {line["orderItemId"]: line for line in lines}
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise bad("orderItemIds", f"unknown lines {', '.join(map(str, unknown))}")
            lines = [known[i] for i in ids]
        done = [line["orderItemId"] for line in lines if line["itemStatus"] in FINAL]
        if order["orderStatus"] in FINAL or done:
            raise ApiProblem(
                409,
                "ALREADY_FULFILLED",
                f"order {order_id} is {order['orderStatus']}; fulfilled lines cannot be canceled",
            )
        for line in lines:
            if line["itemStatus"] != "CANCELED":
                line.update(itemStatus="CANCELED", canceledQuantity=line["quantity"], cancelReason=reason)
        order["orderStatus"] = derive_status(order["orderProductList"])
        order["updatedDate"] = now_ms
        self.by_id.save(order)
        return order

    def apply_event(self, order_id: str, body: Any, now_ms: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """A store associate acts on an order: (updated order, store-fulfilment webhook body)."""
        order = self.get(order_id)
        if not isinstance(body, dict):
            raise bad("(body)", "expected a JSON object")
        event = body.get("eventType")
        if event not in EVENTS:
            raise bad("eventType", f"expected one of {', '.join(EVENTS)}")
        kind = order["orderType"]
        if (event, kind) in (("DELIVERED", "BOFIS"), ("SHIPPED", "BOPIS")):
            raise ApiProblem(409, "ILLEGAL_TRANSITION", f"{event} is not an event of {kind} order {order_id}")
        plan = self._plan(order, event, body.get("items"))
        items = []
        for line, qty, spec in plan:
            remaining = Decimal(str(line["quantity"])) - Decimal(str(line["canceledQuantity"]))
            reason = None
            if event == "CANCELED":
                reason = spec.get("reason") or "OTHER"
                if reason not in CANCEL_REASONS:
                    raise bad("items.reason", f"expected one of {', '.join(CANCEL_REASONS)}")
            elif qty != remaining:
                raise bad("items.quantity", f"{event} applies to the whole remaining quantity ({remaining})")
            items.append((line, qty, remaining, reason, spec))
        out = []
        for line, qty, remaining, reason, spec in items:
            if event == "CANCELED":
                line["canceledQuantity"] = json_qty(Decimal(str(line["canceledQuantity"])) + qty)
                if qty == remaining:
                    line["itemStatus"] = "CANCELED"
            else:
                line["itemStatus"] = TO_STATE[event]
            shipped = event == "SHIPPED"
            out.append(
                {
                    "orderItemId": line["orderItemId"],
                    "quantity": json_qty(qty),
                    "reason": reason,
                    "trackingNumber": spec.get("trackingNumber") or (f"1Z{order_id}" if shipped else None),
                    "carrier": spec.get("carrier") or ("UPS" if shipped else None),
                }
            )
        order["orderStatus"] = derive_status(order["orderProductList"])
        order["updatedDate"] = now_ms
        self.by_id.save(order)
        webhook = {
            "eventType": event,
            "orderType": kind,
            "orderId": order["orderId"],
            "externalOrderId": order["externalOrderId"],
            "storeId": order["storeId"],
            "eventDate": now_ms,
            "storeAssociateId": str(body.get("storeAssociateId") or "2542"),
            "items": out,
        }
        return order, webhook

    @staticmethod
    def _plan(
        order: dict[str, Any], event: str, specs: Any
    ) -> list[tuple[dict[str, Any], Decimal, dict[str, Any]]]:
        lines = order["orderProductList"]
        allowed = FROM_STATES[event]

        def remaining(line: dict[str, Any]) -> Decimal:
            return Decimal(str(line["quantity"])) - Decimal(str(line["canceledQuantity"]))

        if specs is None or specs == []:
            plan = [(line, remaining(line), {}) for line in lines if line["itemStatus"] in allowed]
            if not plan:
                raise ApiProblem(
                    409,
                    "ILLEGAL_TRANSITION",
                    f"no line of order {order['orderId']} can take {event} (order is {order['orderStatus']})",
                )
            return plan
        if not isinstance(specs, list):
            raise bad("items", "expected a list")
        known = {line["orderItemId"]: line for line in lines}
        plan = []
        for n, spec in enumerate(specs):
            if not isinstance(spec, dict) or spec.get("orderItemId") not in known:
                raise bad(f"items[{n}].orderItemId", "not a POS orderItemId of this order")
            line = known[spec["orderItemId"]]
            if line["itemStatus"] not in allowed:
                raise ApiProblem(
                    409,
                    "ILLEGAL_TRANSITION",
                    f"line {line['orderItemId']} is {line['itemStatus']}; {event} is not allowed",
                )
            left = remaining(line)
            qty = left if spec.get("quantity") is None else quantity(spec["quantity"], f"items[{n}].quantity")
            if qty > left:
                raise bad(f"items[{n}].quantity", f"more than the {left} left on line {line['orderItemId']}")
            plan.append((line, qty, spec))
        return plan
