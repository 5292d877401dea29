"""In-store sales as the POS exports them (CustomerOrder, reference ``pos-api.md`` §3.3).

Pure: amounts are computed with ``Decimal`` to the cent (half up) and emitted as JSON numbers. Invariants:
line ``total = subTotal - discount + tax``; order totals are the sums of the sold lines minus the returned
lines; ``tenders`` add up to ``totalAmount`` (negative for a refund).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
KINDS = ("in_store", "pickup_later", "endless_aisle", "mixed_cart", "return", "exchange")
TENDERS = ("card", "wallet", "cash", "split")
CATALOG = [
    ("SKU-0001", "Tee", Decimal("20.00")),
    ("SKU-0002", "Jeans", Decimal("59.99")),
    ("SKU-0003", "Cap", Decimal("14.50")),
    ("SKU-0004", "Socks", Decimal("7.25")),
    ("SKU-0005", "Jacket", Decimal("129.00")),
]
DEFAULT_TAX_RATE = Decimal("0.0825")
CUSTOMER = {
    "customerId": "C1",
    "email": "a@example.com",
    "firstName": "Ann",
    "lastName": "Lee",
    "phoneMobile": "+15550100",
}
ADDRESS = {
    "firstName": "Ann",
    "lastName": "Lee",
    "addressLine1": "1 Main St",
    "addressLine2": None,
    "city": "Austin",
    "state": "TX",
    "postalCode": "78701",
    "country": "US",
}
# kind -> (fulfillmentType, fulfillmentSubType, omniFulfillmentType) of its lines
LINE_TYPES = {
    "in_store": ("IN_STORE", "DEFAULT", "IN_STORE"),
    "pickup_later": ("IN_STORE", "PICKUP_LATER", "IN_STORE"),
    "endless_aisle": ("ONLINE", "DEFAULT", "SHIP_TO_HOME"),
    "exchange": ("IN_STORE", "DEFAULT", "IN_STORE"),
}


class SaleError(ValueError):
    """A bad sale request; the message names the field."""


def money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise SaleError(f"{field}: expected a number, got {value!r}") from None
    if not amount.is_finite():
        raise SaleError(f"{field}: expected a number, got {value!r}")
    return amount.quantize(CENT, ROUND_HALF_UP)


def num(value: Decimal) -> float | int:
    """A JSON number for an exact amount (float of the 2-decimal string, so 2.97 stays 2.97)."""
    return float(value)


@dataclass(frozen=True)
class SaleRequest:
    kind: str
    tender: str
    store: str
    order_id: str
    order_date_ms: int
    sequence: int
    lines: list[dict[str, Any]]
    customer_email: str | None
    anonymous: bool
    original: dict[str, Any] | None = None
    return_lines: list[dict[str, Any]] | None = None


def default_lines(rng: random.Random, kind: str) -> list[dict[str, Any]]:
    count = 2 if kind == "mixed_cart" else rng.randint(1, 3)
    picks = rng.sample(CATALOG, count)
    lines = []
    for n, (sku, _name, price) in enumerate(picks):
        discount = (price * rng.choice([Decimal(0), Decimal("0.1")])).quantize(CENT, ROUND_HALF_UP)
        lines.append(
            {
                "sku": sku,
                "quantity": rng.randint(1, 3) if n == 0 else 1,
                "price": price,
                "discount": discount,
                "tax_rate": DEFAULT_TAX_RATE,
            }
        )
    return lines


def _line_amounts(price: Decimal, quantity: int, discount: Decimal, rate: Decimal) -> dict[str, Decimal]:
    sub = (price * quantity).quantize(CENT, ROUND_HALF_UP)
    tax = ((sub - discount) * rate).quantize(CENT, ROUND_HALF_UP)
    return {"price": price, "subTotal": sub, "discount": discount, "tax": tax, "total": sub - discount + tax}


def _product_line(order_id: str, n: int, spec: dict[str, Any], types: tuple[str, str, str]) -> dict[str, Any]:
    where = f"lines[{n - 1}]"
    sku = spec.get("sku")
    if not isinstance(sku, str) or not sku:
        raise SaleError(f"{where}.sku: required")
    quantity = spec.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise SaleError(f"{where}.quantity: expected a positive integer")
    catalog = {s: (name, price) for s, name, price in CATALOG}
    name, list_price = catalog.get(sku, (sku, Decimal("10.00")))
    price = money(spec.get("price", list_price), f"{where}.price")
    discount = money(spec.get("discount", 0), f"{where}.discount")
    rate = Decimal(str(spec.get("tax_rate", DEFAULT_TAX_RATE)))
    if price < 0 or discount < 0 or discount > price * quantity:
        raise SaleError(f"{where}: price and discount must be >= 0 and discount <= price * quantity")
    amounts = _line_amounts(price, quantity, discount, rate)
    line: dict[str, Any] = {
        "orderItemId": str(n),
        "externalId": f"{order_id}-{n}",
        "productId": sku,
        "name": str(spec.get("name", name)),
        "quantity": quantity,
        **{k: num(v) for k, v in amounts.items()},
        "fulfillmentType": types[0],
        "fulfillmentSubType": types[1],
        "omniFulfillmentType": types[2],
        "priceAdjustments": [],
        "productTax": {"rate": float(rate), "amount": num(amounts["tax"])},
    }
    if discount > 0:
        line["priceAdjustments"] = [
            {
                "id": f"PROMO-{n}",
                "price": num(discount),
                "description": "Spring promo",
                "priceAdjustmentType": "PROMOTION",
            }
        ]
    return line


def _return_lines(req: SaleRequest) -> list[dict[str, Any]]:
    original = req.original or {}
    by_id = {str(line["orderItemId"]): line for line in original.get("orderProductList", [])}
    specs = req.return_lines or [
        {"orderItemId": i, "quantity": line["quantity"]} for i, line in by_id.items()
    ]
    lines = []
    for n, spec in enumerate(specs, start=1):
        where = f"return_lines[{n - 1}]"
        item_id = str(spec.get("orderItemId", ""))
        sold = by_id.get(item_id)
        if sold is None:
            raise SaleError(f"{where}.orderItemId: {item_id!r} is not a line of {original.get('orderId')}")
        quantity = spec.get("quantity", sold["quantity"])
        if (
            not isinstance(quantity, int)
            or isinstance(quantity, bool)
            or not 0 < quantity <= sold["quantity"]
        ):
            raise SaleError(f"{where}.quantity: expected 1..{sold['quantity']}")
        share = Decimal(quantity) / Decimal(sold["quantity"])
        price = money(sold["price"], "price")
        discount = (money(sold["discount"], "discount") * share).quantize(CENT, ROUND_HALF_UP)
        tax = (money(sold["tax"], "tax") * share).quantize(CENT, ROUND_HALF_UP)
        sub = (price * quantity).quantize(CENT, ROUND_HALF_UP)
        lines.append(
            {
                "orderItemId": f"R{n}",
                "externalId": f"{req.order_id}-R{n}",
                "productId": sold["productId"],
                "name": sold.get("name"),
                "quantity": quantity,
                "price": num(price),
                "subTotal": num(sub),
                "discount": num(discount),
                "tax": num(tax),
                "total": num(sub - discount + tax),
                "fulfillmentType": "IN_STORE",
                "fulfillmentSubType": "DEFAULT",
                "omniFulfillmentType": "IN_STORE",
                "priceAdjustments": [],
                "productTax": {"rate": sold.get("productTax", {}).get("rate"), "amount": num(tax)},
                "originalOrderId": original["orderId"],
                "originalOrderItemId": item_id,
                "returnReason": str(spec.get("reason") or "CUSTOMER_CHANGED_MIND"),
            }
        )
    return lines


def _tenders(req: SaleRequest, total: Decimal, rng: random.Random) -> list[dict[str, Any]]:
    day = datetime.fromtimestamp(req.order_date_ms / 1000, UTC).strftime("%Y%m%d")
    status = "APPROVED"

    def tender(kind: str, amount: Decimal, n: int) -> dict[str, Any]:
        base: dict[str, Any] = {
            "paymentId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "transactionId": f"{req.store}-{day}-{req.sequence}-{n}",
            "cardType": None,
            "lastFour": None,
            "walletType": None,
            "amountAuthorized": num(amount),
            "paymentStatus": status,
        }
        if kind == "card":
            return {**base, "paymentMethod": "CreditCard", "cardType": "Visa", "lastFour": "4242"}
        if kind == "wallet":
            return {**base, "paymentMethod": "DigitalWallet", "walletType": "ApplePay"}
        return {**base, "paymentMethod": "Cash"}

    if total == 0:
        return []
    if req.tender == "split":
        half = (total / 2).quantize(CENT, ROUND_HALF_UP)
        return [tender("card", half, 1), tender("cash", total - half, 2)]
    return [tender(req.tender, total, 1)]


def build_sale(req: SaleRequest, rng: random.Random) -> dict[str, Any]:
    """The CustomerOrder JSON of one in-store transaction."""
    if req.kind not in KINDS:
        raise SaleError(f"kind: expected one of {', '.join(KINDS)}")
    if req.tender not in TENDERS:
        raise SaleError(f"tender: expected one of {', '.join(TENDERS)}")
    sold: list[dict[str, Any]] = []
    if req.kind != "return":
        for n, spec in enumerate(req.lines, start=1):
            types = LINE_TYPES.get(req.kind) or (
                ("IN_STORE", "DEFAULT", "IN_STORE") if n % 2 else ("ONLINE", "DEFAULT", "SHIP_TO_HOME")
            )
            sold.append(_product_line(req.order_id, n, spec, types))
    returned = _return_lines(req) if req.kind in ("return", "exchange") else []
    sums = {
        key: sum((money(line[key], key) for line in sold), Decimal(0))
        - sum((money(line[key], key) for line in returned), Decimal(0))
        for key in ("subTotal", "discount", "tax", "total")
    }
    email = None if req.anonymous else (req.customer_email or CUSTOMER["email"])
    ships = any(line["fulfillmentType"] == "ONLINE" for line in sold)
    return {
        "orderId": req.order_id,
        "displayOrderId": req.order_id,
        "orderSource": "IN_STORE",
        "orderStatus": "COMPLETED",
        "orderDate": req.order_date_ms,
        "currency": "USD",
        "storeId": req.store,
        "email": email,
        "customerProfile": None if email is None else {**CUSTOMER, "email": email},
        "billingAddress": None if email is None else dict(ADDRESS),
        "shippingAddress": dict(ADDRESS) if ships else None,
        "orderProductList": sold,
        "returnProductList": returned,
        "tenders": _tenders(req, sums["total"], rng),
        "orderSubTotal": num(sums["subTotal"]),
        "discount": num(sums["discount"]),
        "taxSubTotal": num(sums["tax"]),
        "shippingCharge": 0.0,
        "totalAmount": num(sums["total"]),
        "transactionDiscountAmount": 0.0,
    }
