"""A GraphQL POS sale (sale history node, assumed shape) -> the POS sale export body (:class:`PosSale`).

The body has exactly the Retail Cloud export's field names, so the sale then takes the same road as a webhook:
:func:`worker.webhook_jobs.build_jobs` (validation, dedupe key, exchange split) and the shared posting code.
Pure: the customer (``customer(id)``) and the store code (``location(id).code``) are looked up by the caller.

=================  =========================================================================================
GraphQL            export body
=================  =========================================================================================
line quantity > 0  ``orderProductList`` (fulfillment TAKE_WITH / PICKUP_LATER / SHIP -> type and sub-type)
line quantity < 0  ``returnProductList``, amounts made positive; ``returnOf`` -> originalOrderId / ItemId
payment method     CARD -> CreditCard (cardBrand, cardLast4); WALLET -> DigitalWallet; CASH -> Cash
status             COMPLETED / VOIDED as ``orderStatus``; createdAt -> ``orderDate`` (epoch ms)
=================  =========================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# fulfillment -> (fulfillmentType, fulfillmentSubType, omniFulfillmentType)
FULFILLMENT = {
    "TAKE_WITH": ("IN_STORE", "DEFAULT", "IN_STORE"),
    "PICKUP_LATER": ("IN_STORE", "PICKUP_LATER", "IN_STORE"),
    "SHIP": ("ONLINE", "DEFAULT", "SHIP_TO_HOME"),
}
PAYMENT_METHODS = {"CARD": "CreditCard", "WALLET": "DigitalWallet", "CASH": "Cash"}
WALLETS = {"APPLE_PAY": "ApplePay", "GOOGLE_PAY": "GooglePay"}
ADDRESS = {"firstName": "firstName", "lastName": "lastName", "addressLine1": "line1", "addressLine2": "line2",
           "city": "city", "state": "region", "postalCode": "postalCode", "country": "country"}


class SaleMappingError(ValueError):
    """A sale the export body cannot express; the message names the GraphQL field."""


def epoch_ms(value: Any, where: str) -> int:
    """An ISO 8601 instant (``...Z`` or with an offset) as epoch milliseconds."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return int(parsed.timestamp() * 1000)
    raise SaleMappingError(f"{where}: expected an ISO 8601 instant with a zone, got {value!r}")


def _amount(value: Any, where: str, sign: int = 1) -> str:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise SaleMappingError(f"{where}: expected a decimal amount, got {value!r}") from None
    if not amount.is_finite():
        raise SaleMappingError(f"{where}: expected a decimal amount, got {value!r}")
    return f"{amount * sign:f}"


def _line(sale_id: str, n: int, line: Mapping[str, Any]) -> dict[str, Any]:
    where = f"lines.{n}"
    quantity = line.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity == 0:
        raise SaleMappingError(f"{where}.quantity: expected a non-zero whole number, got {quantity!r}")
    sign = 1 if quantity > 0 else -1
    kind = FULFILLMENT.get(str(line.get("fulfillment")))
    if kind is None:
        raise SaleMappingError(f"{where}.fulfillment: unknown value {line.get('fulfillment')!r} "
                               f"(expected {', '.join(FULFILLMENT)})")
    tax = _amount(line.get("tax"), f"{where}.tax", sign)
    out: dict[str, Any] = {
        "orderItemId": line.get("id"), "externalId": f"{sale_id}-{line.get('id')}",
        "productId": line.get("sku") or line.get("itemId"), "name": line.get("description"),
        "quantity": abs(quantity), "price": _amount(line.get("unitPrice"), f"{where}.unitPrice"),
        "subTotal": _amount(line.get("subtotal"), f"{where}.subtotal", sign),
        "discount": _amount(line.get("discount"), f"{where}.discount", sign), "tax": tax,
        "total": _amount(line.get("total"), f"{where}.total", sign),
        "fulfillmentType": kind[0], "fulfillmentSubType": kind[1], "omniFulfillmentType": kind[2],
        "productTax": {"rate": line.get("taxRate"), "amount": tax},
    }
    if sign < 0:
        ref = line.get("returnOf") or {}
        out |= {"originalOrderId": ref.get("saleId"), "originalOrderItemId": ref.get("lineId"),
                "returnReason": line.get("returnReason")}
    return out


def _tender(n: int, payment: Mapping[str, Any]) -> dict[str, Any]:
    where = f"payments.{n}"
    method = PAYMENT_METHODS.get(str(payment.get("method")))
    if method is None:
        raise SaleMappingError(f"{where}.method: {payment.get('method')!r} has no POS tender mapping "
                               f"(expected {', '.join(PAYMENT_METHODS)})")
    wallet = payment.get("walletType")
    return {
        "paymentId": payment.get("id"), "transactionId": payment.get("reference"), "paymentMethod": method,
        "cardType": payment.get("cardBrand"), "lastFour": payment.get("cardLast4"),
        "walletType": WALLETS.get(str(wallet), wallet) if wallet else None,
        "amountAuthorized": _amount(payment.get("amount"), f"{where}.amount"),
        "paymentStatus": "APPROVED" if payment.get("approved") else "DECLINED",
    }


def sale_body(node: Mapping[str, Any], *, store_id: str, customer: Mapping[str, Any] | None) -> dict[str, Any]:
    """The export body of one sale; ``store_id`` is its location's code, ``customer`` its ``customer(id)``."""
    sale_id = str(node.get("id") or "")
    if not sale_id:
        raise SaleMappingError("id: required")
    lines = [_line(sale_id, n, line) for n, line in enumerate(node.get("lines") or [])]
    email = (customer or {}).get("email") or None
    profile = None
    if node.get("customerId"):
        c = customer or {}
        profile = {"customerId": node["customerId"], "email": email, "firstName": c.get("firstName"),
                   "lastName": c.get("lastName"), "phoneMobile": c.get("phone")}
    shipping = node.get("shippingAddress")
    return {
        "orderId": sale_id, "displayOrderId": node.get("number") or sale_id, "orderSource": "IN_STORE",
        "orderStatus": node.get("status"), "orderDate": epoch_ms(node.get("createdAt"), "createdAt"),
        "currency": node.get("currency"), "storeId": store_id, "email": email, "customerProfile": profile,
        "shippingAddress": {key: shipping.get(src) for key, src in ADDRESS.items()} if shipping else None,
        "orderProductList": [line for line in lines if "originalOrderId" not in line],
        "returnProductList": [line for line in lines if "originalOrderId" in line],
        "tenders": [_tender(n, p) for n, p in enumerate(node.get("payments") or [])],
        "orderSubTotal": _amount(node.get("subtotal"), "subtotal"),
        "discount": _amount(node.get("discountTotal"), "discountTotal"),
        "taxSubTotal": _amount(node.get("taxTotal"), "taxTotal"), "shippingCharge": "0",
        "totalAmount": _amount(node.get("total"), "total"),
    }
