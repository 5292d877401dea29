"""Field checks for inbound POS payloads: refuse at the edge what Salesforce would certainly refuse later.

A value the org refuses is otherwise accepted with 200, stored, and dead-lettered on posting, where nobody at
the POS sees it; refused here it is a 400 naming the field, and the POS lists it under "Repost Failed Webhook
Events". Every check raises ``ValueError`` with a message that names the rule, never the value (personal data
stays out of answers and logs). The bounds, and why:

* **Amounts**: at most 999,999,999,999.99 either way (12 integer digits). Salesforce currency fields hold
  18 digits with 2 decimals, so order sums of many such lines still fit, and every cent value in the bound
  survives the JSON float the graph is sent as (exact below 2**53 cents). Quantized to cents (half up).
* **Quantities**: above 0, at most 1,000,000, at most 4 decimals (a finer fraction rounds to a zero or wrong
  Salesforce quantity). **Tax rates**: a fraction 0..100 (0.0825 is 8.25 %).
* **Dates**: epoch milliseconds within Salesforce's datetime range, 1700-01-01T00:00:00Z to
  4000-12-31T23:59:59.999Z (the year 292278994 of a Java ``Long.MAX_VALUE`` date is refused).
* **Currency**: an ISO 4217 code's shape, three upper-case letters.
* **Ids** (order, line, product, payment ids): 1..80 characters (``Order.OrderReferenceNumber`` and
  ``Order.Name`` are 80-character fields), no control characters, no leading or trailing spaces (Salesforce
  trims them, so a repost's lookup by ``OrderReferenceNumber`` would miss). **Store ids** also end up in the
  placeholder e-mail ``pos-<storeId>@no-email.invalid``: letters, digits, ``-`` and ``_`` only.
* **Salesforce ids** (``externalOrderId`` = the FulfillmentOrder Id): 15 or 18 letters and digits.
* **E-mail**: ASCII ``local@domain.tld`` (dot-atom local part up to 64, host labels of letters, digits and
  inner hyphens, a letter TLD), at most 80 characters (Salesforce email fields); blank means "none".
* **Text** (names, address parts, phone): no control characters but tab and line breaks, and the length of
  the Salesforce field it lands in (street 255, city 40, state 80, postal code 20, country 80, phone 40).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

from worker.mapping.money import CENT, money_json, qty_json, to_decimal

MAX_AMOUNT = Decimal("999999999999.99")
MAX_QUANTITY = Decimal(1_000_000)
QUANTITY_PLACES = 4
MAX_TAX_RATE = Decimal(100)
MIN_EPOCH_MS = -8_520_336_000_000  # 1700-01-01T00:00:00.000Z
MAX_EPOCH_MS = 64_092_211_199_999  # 4000-12-31T23:59:59.999Z
ID_LENGTH = 80
MAX_NUMBER_TEXT = 50  # a numeric string longer than this is not an amount

_CURRENCY = re.compile(r"[A-Z]{3}")
_STORE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
_LINE_BREAKS = frozenset("\t\n\r")


def _number(value: object) -> Decimal:
    if isinstance(value, str) and len(value) > MAX_NUMBER_TEXT:
        raise ValueError("expected a number")
    return to_decimal(value)


def amount(value: object) -> Decimal:
    """An amount in cents within ±MAX_AMOUNT (checked before quantizing: 1e308 never reaches ``quantize``)."""
    number = _number(value)
    if abs(number) > MAX_AMOUNT:
        raise ValueError(f"amount out of range (at most {MAX_AMOUNT} either way)")
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


def quantity(value: object) -> Decimal:
    """A quantity up to MAX_QUANTITY with at most QUANTITY_PLACES decimals (``> 0`` is the model's constraint)."""
    number = _number(value)
    if number > MAX_QUANTITY:
        raise ValueError(f"quantity must be at most {MAX_QUANTITY}")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -QUANTITY_PLACES:
        raise ValueError(f"quantity has more than {QUANTITY_PLACES} decimals")
    return number


def tax_rate(value: object) -> Decimal | None:
    if value is None:
        return None
    number = _number(value)
    if not 0 <= number <= MAX_TAX_RATE:
        raise ValueError(f"tax rate must be a fraction from 0 to {MAX_TAX_RATE}")
    return number


def epoch_ms(value: int) -> int:
    """Epoch milliseconds inside Salesforce's datetime range (years 1700..4000)."""
    if not MIN_EPOCH_MS <= value <= MAX_EPOCH_MS:
        raise ValueError("date out of range (Salesforce takes years 1700 to 4000, in epoch milliseconds)")
    return value


def currency(value: str) -> str:
    if not _CURRENCY.fullmatch(value):
        raise ValueError("expected an ISO 4217 currency code: three upper-case letters, e.g. USD")
    return value


def _controls(value: str, allowed: frozenset[str] = frozenset()) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in value)


def identifier(value: str) -> str:
    """An id Salesforce stores and finds again: 1..80 characters, no control characters, not padded."""
    if not value:
        raise ValueError("must not be empty")
    if len(value) > ID_LENGTH:
        raise ValueError(f"longer than {ID_LENGTH} characters")
    if _controls(value):
        raise ValueError("contains a control character")
    if value != value.strip():
        raise ValueError("has leading or trailing spaces")
    return value


def optional_identifier(value: str | None) -> str | None:
    return None if value is None else identifier(value)


def store_id(value: str) -> str:
    if not _STORE_ID.fullmatch(value):
        raise ValueError("expected 1 to 40 letters, digits, '-' or '_'")
    return value


def salesforce_id(value: str) -> str:
    if not _SALESFORCE_ID.fullmatch(value):
        raise ValueError("expected a Salesforce Id (15 or 18 letters and digits)")
    return value


def email(value: str | None) -> str | None:
    """A syntactically valid address of at most 80 characters; blank stands for none and passes."""
    if value is None or not value.strip():
        return value
    text = value.strip()
    match = _EMAIL.fullmatch(text)
    if len(text) > 80 or not match or len(match.group("local")) > 64:
        raise ValueError("not a valid e-mail address (local@domain.tld, ASCII, at most 80 characters)")
    return value


def text(limit: int) -> Callable[[str | None], str | None]:
    """A check for free text landing in a Salesforce field of ``limit`` characters: no control characters
    but tab and line breaks, at most ``limit`` characters; None passes."""

    def check(value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        if _controls(value, _LINE_BREAKS):
            raise ValueError("contains a control character")
        return value

    return check


def text_of(limit: int) -> AfterValidator:
    return AfterValidator(text(limit))


# ----------------------------------------------------------- annotated types for the inbound models

InMoney = Annotated[Decimal, BeforeValidator(amount), PlainSerializer(money_json, return_type=float, when_used="json")]
InQty = Annotated[Decimal, BeforeValidator(quantity), PlainSerializer(qty_json, when_used="json"), Field(gt=0)]
EpochMs = Annotated[int, AfterValidator(epoch_ms)]
Id = Annotated[str, Field(min_length=1), AfterValidator(identifier)]
OptId = Annotated[str | None, AfterValidator(optional_identifier)]
Email = Annotated[str | None, AfterValidator(email)]
Text255 = Annotated[str | None, text_of(255)]
Text80 = Annotated[str | None, text_of(80)]
