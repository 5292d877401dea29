"""Root fields of the emulated GraphQL POS (assumed shapes: ``schema.graphql``; errors: the REFERENCE file).

Sales are the emulator's in-store sales (the same ones ``/__admin/sales`` creates), shown in the assumed shape;
``sale(since, until)`` selects on their modification time (creation, or an admin update) and pages with a
keyset cursor, so a resumed page never skips a sale. Every root field but ``environment`` needs a permission
that the calling client's roles grant; without it the field resolves to an error whose
``extensions`` are ``{"code": "FORBIDDEN", "permission": "<name>"}``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ariadne import MutationType, QueryType
from graphql import GraphQLError, GraphQLResolveInfo

from ..state import PosState

# What each root field needs; environment is open to every authenticated client.
PERMISSIONS = {
    "sale": "sale:read", "customer": "customer:read", "location": "location:read", "giftcard": "giftcard:read",
    "item": "inventory:read", "itemSerialLot": "inventory:read", "itemWarehouse": "inventory:read",
    "product": "product:read", "productBanner": "product:read", "productGroup": "product:read",
    "productNotice": "product:read", "productSection": "product:read", "productSortOption": "product:read",
    "giftcardAdd": "giftcard:write", "giftcardEdit": "giftcard:write", "giftcardTransAdd": "giftcard:write",
    "giftcardTransCapture": "giftcard:write", "purchaseAdd": "purchase:write",
}
ROLES = {
    "integration": frozenset(PERMISSIONS.values()),
    "reporting": frozenset({"location:read", "product:read", "inventory:read"}),
}
MAX_PAGE = 500
FULFILLMENT = {("IN_STORE", "DEFAULT"): "TAKE_WITH", ("IN_STORE", "PICKUP_LATER"): "PICKUP_LATER"}
METHODS = {"CreditCard": "CARD", "DigitalWallet": "WALLET", "Cash": "CASH"}
WALLETS = {"ApplePay": "APPLE_PAY", "GooglePay": "GOOGLE_PAY"}


@dataclass
class GraphqlBook:
    """What only the GraphQL API keeps: gift cards, their transactions and recorded purchases."""

    giftcards: dict[str, dict[str, Any]] = field(default_factory=dict)
    trans: dict[str, dict[str, Any]] = field(default_factory=dict)
    purchases: list[dict[str, Any]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_instant(value: Any, argument: str) -> int:
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return int(datetime.fromisoformat(value[:-1] + "+00:00").timestamp() * 1000)
        except ValueError:
            pass
    raise GraphQLError(f"{argument}: expected an ISO 8601 UTC instant such as 2026-12-01T13:45:00.000Z",
                       extensions={"code": "BAD_USER_INPUT", "argument": argument})


def money(value: Any, sign: int = 1) -> str:
    return f"{Decimal(str(value or 0)) * sign:.2f}"


def _line(line: dict[str, Any], sign: int) -> dict[str, Any]:
    kind = FULFILLMENT.get((line.get("fulfillmentType"), line.get("fulfillmentSubType")), "SHIP")
    if sign < 0:
        kind = "TAKE_WITH"
    out = {
        "id": str(line["orderItemId"]), "itemId": line["productId"], "sku": line["productId"],
        "description": line.get("name"), "quantity": sign * int(line["quantity"]),
        "unitPrice": money(line["price"]), "taxRate": (line.get("productTax") or {}).get("rate"),
        "fulfillment": kind, "returnOf": None, "returnReason": None,
        **{key: money(line[src], sign) for key, src in
           (("subtotal", "subTotal"), ("discount", "discount"), ("tax", "tax"), ("total", "total"))},
    }
    if sign < 0:
        out["returnOf"] = {"saleId": line.get("originalOrderId"), "lineId": line.get("originalOrderItemId")}
        out["returnReason"] = line.get("returnReason")
    return out


def _payment(tender: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": tender.get("paymentId"), "method": METHODS[tender["paymentMethod"]],
        "amount": money(tender["amountAuthorized"]), "cardBrand": tender.get("cardType"),
        "cardLast4": tender.get("lastFour"), "walletType": WALLETS.get(tender.get("walletType") or ""),
        "reference": tender.get("transactionId"), "approved": tender.get("paymentStatus") == "APPROVED",
    }


def _address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if not address:
        return None
    return {"firstName": address.get("firstName"), "lastName": address.get("lastName"),
            "line1": address.get("addressLine1"), "line2": address.get("addressLine2"), "city": address.get("city"),
            "region": address.get("state"), "postalCode": address.get("postalCode"),
            "country": address.get("country")}


def sale_node(order: dict[str, Any], modified_ms: int) -> dict[str, Any]:
    """One emulator sale (CustomerOrder) in the assumed GraphQL shape."""
    status = str(order.get("orderStatus") or "COMPLETED").upper()
    profile = order.get("customerProfile") or {}
    return {
        "id": order["orderId"], "number": order.get("displayOrderId") or order["orderId"],
        "status": "VOIDED" if status in ("VOIDED", "CANCELED", "CANCELLED") else "COMPLETED",
        "createdAt": iso(int(order["orderDate"])), "modifiedAt": iso(modified_ms),
        "currency": order["currency"], "locationId": f"LOC-{order['storeId']}",
        "customerId": profile.get("customerId"), "shippingAddress": _address(order.get("shippingAddress")),
        "lines": [_line(line, 1) for line in order.get("orderProductList") or []]
        + [_line(line, -1) for line in order.get("returnProductList") or []],
        "payments": [_payment(t) for t in order.get("tenders") or []],
        "subtotal": money(order["orderSubTotal"]), "discountTotal": money(order.get("discount")),
        "taxTotal": money(order.get("taxSubTotal")), "total": money(order["totalAmount"]),
    }


def _cursor(modified: int, sale_id: str) -> str:
    return base64.urlsafe_b64encode(f"{modified}|{sale_id}".encode()).decode()


def _after(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    try:
        modified, _, sale_id = base64.urlsafe_b64decode(value.encode()).decode().partition("|")
        return int(modified), sale_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise GraphQLError("after: not a cursor of this connection",
                           extensions={"code": "BAD_USER_INPUT", "argument": "after"}) from None


def _allow(info: GraphQLResolveInfo) -> None:
    needed = PERMISSIONS.get(info.field_name)
    granted: frozenset[str] = info.context["permissions"]
    if needed is not None and needed not in granted:
        raise GraphQLError(f"the calling account lacks the permission {needed} needed by {info.field_name}",
                           extensions={"code": "FORBIDDEN", "permission": needed})


def bindables(state: PosState, book: GraphqlBook) -> list[Any]:
    query, mutation = QueryType(), MutationType()

    @query.field("environment")
    def environment(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
        s = state.settings
        return {"id": s.merchant_id, "name": f"{s.merchant_id} {s.locale}-{s.region}", "apiVersion": "2026-1",
                "currency": "USD", "timezone": "UTC"}

    @query.field("sale")
    def sale(_: Any, info: GraphQLResolveInfo, since: str, until: str, first: int | None = 50,
             after: str | None = None) -> dict[str, Any]:
        _allow(info)
        first = 50 if first is None else first  # an explicit null takes the default
        start, end = parse_instant(since, "since"), parse_instant(until, "until")
        if end < start:
            raise GraphQLError("until: must not be before since", extensions={"code": "BAD_USER_INPUT",
                                                                             "argument": "until"})
        if not 1 <= first <= MAX_PAGE:
            raise GraphQLError(f"first: expected 1..{MAX_PAGE}", extensions={"code": "BAD_USER_INPUT",
                                                                             "argument": "first"})
        key = _after(after)
        rows = sorted((state.sale_modified_ms.get(sid, int(s["orderDate"])), sid) for sid, s in state.sales.items())
        rows = [r for r in rows if start <= r[0] < end and (key is None or r > key)]
        page = rows[:first]
        return {"nodes": [sale_node(state.sales[sid], modified) for modified, sid in page],
                "pageInfo": {"hasNextPage": len(rows) > first,
                             "endCursor": _cursor(*page[-1]) if page else after}}

    @query.field("customer")
    def customer(_: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
        _allow(info)
        for order in reversed(list(state.sales.values())):
            profile = order.get("customerProfile") or {}
            if profile.get("customerId") == id:
                return {"id": id, "email": profile.get("email"), "firstName": profile.get("firstName"),
                        "lastName": profile.get("lastName"), "phone": profile.get("phoneMobile")}
        return None

    @query.field("location")
    def location(_: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
        _allow(info)
        if not id.startswith("LOC-") or len(id) == 4:
            return None
        code = id[4:]
        return {"id": id, "code": code, "name": f"Store {code}", "timezone": "America/Chicago"}

    @query.field("giftcard")
    def giftcard(_: Any, info: GraphQLResolveInfo, code: str) -> dict[str, Any] | None:
        _allow(info)
        return book.giftcards.get(code)

    def empty_list(_: Any, info: GraphQLResolveInfo, **__: Any) -> list[Any]:
        _allow(info)
        return []

    def nothing(_: Any, info: GraphQLResolveInfo, **__: Any) -> None:
        _allow(info)
        return None

    for name in ("itemSerialLot", "itemWarehouse", "productBanner", "productNotice", "productSortOption"):
        query.set_field(name, empty_list)
    for name in ("item", "product", "productGroup", "productSection"):
        query.set_field(name, nothing)

    @mutation.field("giftcardAdd")
    def giftcard_add(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        _allow(info)
        if input["code"] in book.giftcards:
            raise GraphQLError("code: a gift card with this code exists",
                               extensions={"code": "BAD_USER_INPUT", "argument": "input.code"})
        card = {"code": input["code"], "balance": money(input["balance"]), "active": True}
        book.giftcards[card["code"]] = card
        return card

    def card_of(code: str) -> dict[str, Any]:
        card = book.giftcards.get(code)
        if card is None:
            raise GraphQLError(f"code: no gift card {code}", extensions={"code": "NOT_FOUND", "argument": "code"})
        return card

    @mutation.field("giftcardEdit")
    def giftcard_edit(_: Any, info: GraphQLResolveInfo, code: str, input: dict[str, Any]) -> dict[str, Any]:
        _allow(info)
        card = card_of(code)
        if input.get("active") is not None:
            card["active"] = bool(input["active"])
        return card

    @mutation.field("giftcardTransAdd")
    def giftcard_trans_add(_: Any, info: GraphQLResolveInfo, code: str, amount: str,
                           reference: str | None = None) -> dict[str, Any]:
        _allow(info)
        card_of(code)
        trans = {"id": f"GT-{next(book.ids)}", "code": code, "amount": money(amount), "captured": False}
        book.trans[trans["id"]] = trans
        return trans

    @mutation.field("giftcardTransCapture")
    def giftcard_trans_capture(_: Any, info: GraphQLResolveInfo, transId: str) -> dict[str, Any]:
        _allow(info)
        trans = book.trans.get(transId)
        if trans is None:
            raise GraphQLError(f"transId: no transaction {transId}",
                               extensions={"code": "NOT_FOUND", "argument": "transId"})
        if not trans["captured"]:
            card = card_of(trans["code"])
            card["balance"] = money(Decimal(card["balance"]) - Decimal(trans["amount"]))
            trans["captured"] = True
        return trans

    @mutation.field("purchaseAdd")
    def purchase_add(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        _allow(info)
        purchase = {"id": f"P-{next(book.ids)}", "reference": input["reference"], "total": money(input["total"])}
        book.purchases.append(purchase)
        return purchase

    return [query, mutation]
