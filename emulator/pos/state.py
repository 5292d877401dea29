"""In-memory state of the emulated POS: tokens, imported orders, sales, webhook sender, counters."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from .auth import RateLimiter, Stats, Tokens
from .common import ApiProblem, paginate
from .fulfillment import FulfillmentOrders
from .sales import KINDS, SaleError, SaleRequest, build_sale, default_lines
from .settings import PosEmulatorSettings
from .webhooks import WebhookSender


@dataclass
class PosState:
    settings: PosEmulatorSettings
    tokens: Tokens = field(init=False)
    stats: Stats = field(default_factory=Stats)
    limiter: RateLimiter = field(init=False)
    orders: FulfillmentOrders = field(init=False)
    sales: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: WebhookSender = field(init=False)
    rng: random.Random = field(init=False)
    sale_sequence: dict[str, int] = field(default_factory=dict)
    sale_modified_ms: dict[str, int] = field(default_factory=dict)  # GraphQL sale history selects on it

    def __post_init__(self) -> None:
        s = self.settings
        self.tokens = Tokens(s)
        self.limiter = RateLimiter(s.rate_limit_per_second, time.monotonic)
        self.orders = FulfillmentOrders(s.page_size)
        self.webhooks = WebhookSender(s.webhook_timeout_seconds)
        self.rng = random.Random(s.seed)

    def now_ms(self) -> int:
        return int(self.settings.clock() * 1000)

    def reset(self) -> None:
        """Forget orders, sales, deliveries and counters; keep webhook configuration and issued tokens."""
        self.orders.reset()
        self.sales.clear()
        self.sale_sequence.clear()
        self.sale_modified_ms.clear()
        self.webhooks.log.clear()
        self.webhooks.failed.clear()
        self.stats = Stats()
        self.rng = random.Random(self.settings.seed)

    # ------------------------------------------------------------------ store associates

    def fulfillment_event(self, order_id: str, body: Any) -> dict[str, Any]:
        """Apply an associate's event; sends STORE_FULFILLMENT, and BOPIS_EXPORT/BOFIS_EXPORT (the full order)
        when the order has just been completed (DELIVERED/SHIPPED)."""
        before = self.orders.get(order_id)["orderStatus"]
        order, webhook = self.orders.apply_event(order_id, body, self.now_ms())
        self.webhooks.emit("STORE_FULFILLMENT", webhook, order_id, webhook["eventType"])
        if order["orderStatus"] in ("DELIVERED", "SHIPPED") and before != order["orderStatus"]:
            export = "BOPIS_EXPORT" if order["orderType"] == "BOPIS" else "BOFIS_EXPORT"
            self.webhooks.emit(export, order, order_id, order["orderStatus"])
        return {"order": order, "event": webhook}

    # ------------------------------------------------------------------ sales

    def create_sale(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiProblem(400, "INVALID_FIELD", "(body): expected a JSON object")
        kind = body.get("kind", "in_store")
        if kind not in KINDS:
            raise ApiProblem(400, "INVALID_FIELD", f"kind: expected one of {', '.join(KINDS)}")
        store = str(body.get("store", "256"))
        original = None
        if kind in ("return", "exchange"):
            original_id = body.get("original_order_id")
            if not original_id:
                raise ApiProblem(400, "INVALID_FIELD", f"original_order_id: required for a {kind}")
            original = self.sales.get(str(original_id))
            if original is None or not original.get("orderProductList"):
                raise ApiProblem(
                    400, "INVALID_FIELD", f"original_order_id: no sale {original_id} with products"
                )
        lines = body.get("lines")
        if lines is None:
            lines = default_lines(self.rng, kind) if kind != "return" else []
        if not isinstance(lines, list) or (kind != "return" and not lines):
            raise ApiProblem(400, "INVALID_FIELD", "lines: expected a non-empty list")
        if kind == "mixed_cart" and len(lines) < 2:
            raise ApiProblem(400, "INVALID_FIELD", "lines: a mixed cart needs at least two lines")
        return_lines = body.get("return_lines")
        if return_lines is not None and not isinstance(return_lines, list):
            raise ApiProblem(400, "INVALID_FIELD", "return_lines: expected a list")
        seq = self.sale_sequence.get(store, 0) + 1
        order_id = f"S-{store}-{seq:06d}"
        order_date = body.get("order_date", self.now_ms())
        request = SaleRequest(
            kind=kind,
            tender=str(body.get("tender", "card")),
            store=store,
            order_id=order_id,
            order_date_ms=int(order_date),
            sequence=seq,
            lines=lines,
            customer_email=body.get("customer_email"),
            anonymous="customer_email" in body and body["customer_email"] is None,
            original=original,
            return_lines=return_lines,
        )
        try:
            sale = build_sale(request, self.rng)
        except SaleError as exc:
            raise ApiProblem(400, "INVALID_FIELD", str(exc)) from None
        self.sale_sequence[store] = seq
        self.sales[order_id] = sale
        self.sale_modified_ms[order_id] = self.now_ms()
        self.export_sale(sale)
        return sale

    def export_sale(self, sale: dict[str, Any], endpoint: str | None = None) -> None:
        if endpoint is None:
            endpoint = "RETURN" if sale["returnProductList"] and not sale["orderProductList"] else "ORDER"
        self.webhooks.emit(endpoint, sale, sale["orderId"], sale["orderStatus"])

    def update_sale(self, order_id: str, body: Any) -> dict[str, Any]:
        sale = self.get_sale(order_id)
        status = body.get("orderStatus") if isinstance(body, dict) else None
        if status is not None:
            if not isinstance(status, str) or not status:
                raise ApiProblem(400, "INVALID_FIELD", "orderStatus: expected a non-empty string")
            sale["orderStatus"] = status
        self.sale_modified_ms[order_id] = self.now_ms()
        self.export_sale(sale, "ORDER_UPDATE")
        return sale

    def get_sale(self, order_id: str) -> dict[str, Any]:
        sale = self.sales.get(order_id)
        if sale is None:
            raise ApiProblem(404, "NOT_FOUND", f"no order {order_id}")
        return sale

    def search_sales(self, query: Any) -> dict[str, Any]:
        if not isinstance(query, dict):
            raise ApiProblem(400, "INVALID_FIELD", "(body): expected a JSON object")
        rows = list(self.sales.values())
        if query.get("orderIds") is not None:
            ids = set(query["orderIds"])
            rows = [s for s in rows if s["orderId"] in ids]
        if query.get("storeId") is not None:
            rows = [s for s in rows if s["storeId"] == query["storeId"]]
        if query.get("email") is not None:
            email = str(query["email"]).casefold()
            rows = [s for s in rows if (s.get("email") or "").casefold() == email]
        if query.get("fromDate") is not None:
            rows = [s for s in rows if s["orderDate"] >= query["fromDate"]]
        if query.get("toDate") is not None:
            rows = [s for s in rows if s["orderDate"] <= query["toDate"]]
        return paginate(rows, query, self.settings.page_size)

    def repost(self, body: Any) -> dict[str, Any]:
        """``sa/orders/repost``: re-send failed webhook events of these orders, else re-export the sale."""
        ids = body.get("orderIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise ApiProblem(400, "INVALID_FIELD", "orderIds: expected a non-empty list of order ids")
        reposted, not_found = [], []
        for order_id in ids:
            failed = [e.id for e in self.webhooks.failed.values() if e.order_id == order_id]
            if failed:
                self.webhooks.repost(failed)
                reposted.append(order_id)
            elif order_id in self.sales:
                self.export_sale(self.sales[order_id])
                reposted.append(order_id)
            elif order_id in self.orders.by_id:
                reposted.append(order_id)  # nothing failed: nothing to send again
            else:
                not_found.append(order_id)
        return {"reposted": reposted, "notFound": not_found}
