"""Exact amounts and time conversions used at the JSON edge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from worker.mapping.money import (
    cents,
    money_json,
    ms_to_sf_date,
    ms_to_sf_datetime,
    parse_sf_datetime,
    qty_json,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0.1, Decimal("0.10")),
        (44.995, Decimal("45.00")),
        ("2.345", Decimal("2.35")),
        ("-2.345", Decimal("-2.35")),
        (7, Decimal("7.00")),
        (Decimal("1.005"), Decimal("1.01")),
        (1e-3, Decimal("0.00")),
    ],
)
def test_cents_round_half_up_from_shortest_repr(raw: object, expected: Decimal) -> None:
    """Floats convert via their shortest repr (no binary noise) and round half up to cents."""
    assert cents(raw) == expected


@pytest.mark.parametrize("raw", [True, None, "abc", float("nan"), float("inf"), "NaN", [1]])
def test_non_numbers_rejected(raw: object) -> None:
    """Booleans, None, text, NaN/inf and containers are not amounts."""
    with pytest.raises(ValueError):
        cents(raw)


def test_json_numbers() -> None:
    """Amounts become two-decimal floats; integral quantities ints."""
    assert (
        money_json(Decimal("38.97")),
        money_json(Decimal("4")),
        qty_json(Decimal("2.0")),
        qty_json(Decimal("1.5")),
    ) == (38.97, 4.0, 2, 1.5)
    assert isinstance(qty_json(Decimal("2.0")), int)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2025-05-01T12:00:00.000+0000", 1746100800000),
        ("2025-05-01T12:00:00.000Z", 1746100800000),
        ("2025-05-01T07:00:00.250-0500", 1746100800250),
        ("2025-05-01T12:00:00Z", 1746100800000),
    ],
)
def test_parse_salesforce_datetime(text: str, ms: int) -> None:
    """Salesforce datetimes with +0000, Z or other offsets become exact epoch ms."""
    assert parse_sf_datetime(text) == ms


def test_format_salesforce_datetime_and_date() -> None:
    """Epoch ms format as UTC Salesforce datetime and date literals."""
    assert ms_to_sf_datetime(1717168580007) == "2024-05-31T15:16:20.007Z"
    assert ms_to_sf_date(1717168580000) == "2024-05-31"
