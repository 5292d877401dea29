"""Exact amounts and time conversions shared by the POS models and the mappings (pure).

Amounts are ``Decimal`` internally and quantized to cents with ROUND_HALF_UP. At the JSON edge they are
emitted as JSON numbers (a float with at most two decimals): Salesforce and the POS both expect numbers, and
every cent value below 2**53 / 100 round-trips exactly through a float's shortest repr
(``float(Decimal("38.97"))`` prints as ``38.97``). Quantities are emitted as integers when integral, else as
floats.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
TOLERANCE = Decimal("0.01")
ZERO = Decimal("0.00")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_decimal(value: object) -> Decimal:
    """A JSON number or numeric string as an exact Decimal (floats via their shortest repr, never binary)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"expected a number, got {value!r}") from None
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return result


def cents(value: object) -> Decimal:
    """Quantize to cents, ROUND_HALF_UP."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def opt_cents(value: object) -> Decimal | None:
    return None if value is None else cents(value)


def money_json(value: Decimal) -> float:
    """JSON number for an amount (two decimals)."""
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def qty_json(value: Decimal) -> int | float:
    """JSON number for a quantity: an int when integral."""
    return int(value) if value == value.to_integral_value() else float(value)


def close(a: Decimal, b: Decimal) -> bool:
    """Equal within one cent (the tolerance of the POS and Salesforce rounding)."""
    return abs(a - b) <= TOLERANCE


def parse_sf_datetime(value: str) -> int:
    """Salesforce datetime (``2025-05-01T12:00:00.000+0000`` or ``...Z``) -> epoch milliseconds UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(milliseconds=1)


def ms_to_sf_datetime(epoch_ms: int) -> str:
    """Epoch ms -> Salesforce datetime literal in UTC, e.g. ``2024-05-31T15:16:20.000Z``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def ms_to_sf_date(epoch_ms: int) -> str:
    """Epoch ms -> Salesforce date (UTC calendar day), e.g. ``2024-05-31``."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
