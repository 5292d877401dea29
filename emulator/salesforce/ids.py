"""Salesforce record ids: key prefixes, 15/18-character forms and the case-safe 3-character suffix."""

from __future__ import annotations

import itertools
import re

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")

# One table of key prefixes (the first three characters of every id of an object).
KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Product2": "01t",
    "Pricebook2": "01s",
    "PricebookEntry": "01u",
    "Location": "131",
    "Order": "801",
    "OrderItem": "802",
    "SalesChannel": "0bI",
    "OrderDeliveryMethod": "2Dm",
    "OrderDeliveryGroup": "2Dg",
    "OrderDeliveryGroupSummary": "0ag",
    "PaymentGroup": "0aF",
    "CardPaymentMethod": "03O",
    "DigitalWallet": "0dw",
    "Payment": "0a9",
    "PaymentGateway": "0b0",
    "PaymentAuthorization": "0Xc",
    "OrderItemTaxLineItem": "0bx",
    "OrderItemAdjustmentLineItem": "0bz",
    "OrderAdjustmentGroup": "0ah",
    "OrderSummary": "1Os",
    "OrderItemSummary": "10u",
    "OrderItemSummaryChange": "0ai",
    "FulfillmentOrder": "0a3",
    "FulfillmentOrderLineItem": "0a4",
    "FulfillmentOrderItemTax": "0a5",
    "FulfillmentOrderItemAdjustment": "0a6",
    "Shipment": "0OB",
    "CreditMemo": "50g",
    "CreditMemoLine": "50h",
    "BackgroundOperation": "0Ad",
    "QueryLocator": "01g",
}
PREFIX_TO_OBJECT: dict[str, str] = {v: k for k, v in KEY_PREFIXES.items()}


def checksum(id15: str) -> str:
    """The 3-character case-safe suffix Salesforce appends to a 15-character id."""
    out = []
    for chunk in range(3):
        flags = 0
        for pos, ch in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                flags |= 1 << pos
        out.append(_SUFFIX_ALPHABET[flags])
    return "".join(out)


def to18(value: str) -> str | None:
    """Normalise a 15- or 18-character id to 18 characters; None when it is not a well-formed id."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    id15 = value[:15]
    full = id15 + checksum(id15)
    if len(value) == 18 and value[15:].upper() != full[15:]:
        return None
    return full


def _base62(n: int, width: int) -> str:
    chars = []
    while n:
        n, rem = divmod(n, 62)
        chars.append(_BASE62[rem])
    return "".join(reversed(chars)).rjust(width, "0")


class IdFactory:
    """Issues unique 18-character ids with realistic prefixes: <prefix><pod 'R0'><'0'><9 base62 digits><suffix>."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)

    def next_id(self, sobject: str) -> str:
        prefix = KEY_PREFIXES.get(sobject, "a00")
        id15 = prefix + "R00" + _base62(next(self._counter), 9)
        return id15 + checksum(id15)

    @property
    def position(self) -> int:
        """Next counter value (persisted with the org state)."""
        value = next(self._counter)
        self._counter = itertools.count(value)
        return value
