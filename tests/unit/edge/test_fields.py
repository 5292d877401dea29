"""worker.pos.fields: the bounds of inbound POS values (what Salesforce would refuse), as tables."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from worker.pos import fields as f


def refused(check: Callable[[Any], Any], value: Any) -> str:
    with pytest.raises(ValueError) as caught:
        check(value)
    return str(caught.value)


@pytest.mark.parametrize(("value", "expected"), [
    (0, Decimal("0.00")), (38.97, Decimal("38.97")), ("38.975", Decimal("38.98")), (-12.5, Decimal("-12.50")),
    ("999999999999.99", Decimal("999999999999.99")), (-999999999999.99, Decimal("-999999999999.99")),
    (10**11, Decimal("100000000000.00")), ("1e-30", Decimal("0.00")),
])
def test_amounts_accepted(value: Any, expected: Decimal) -> None:
    """Amounts within ±999,999,999,999.99 are kept as exact cents (half up)."""
    assert f.amount(value) == expected


@pytest.mark.parametrize("value", [
    1e308, -1e308, 9.2e18, -9.2e18, 10**12, "1000000000000", "1e999999", "-1E+400", "1" * 60, "NaN", "Infinity",
    True, None, "lots", [1], {"a": 1},
])
def test_amounts_refused(value: Any) -> None:
    """Amounts out of range or not numbers are refused with a ValueError (never InvalidOperation)."""
    refused(f.amount, value)


@pytest.mark.parametrize(("value", "ok"), [
    (1, True), (2.5, True), ("0.0001", True), (1_000_000, True), ("1000000.0000", True), (Decimal("1E+2"), True),
    (1_000_001, False), (1e9, False), ("0.00001", False), (1e-9, False), ("12.34567", False), ("x", False),
])
def test_quantities(value: Any, ok: bool) -> None:
    """Quantities up to 1,000,000 with at most 4 decimals (> 0 is the model's own constraint)."""
    if ok:
        assert f.quantity(value) == Decimal(str(value))
    else:
        refused(f.quantity, value)


@pytest.mark.parametrize(("value", "ok"), [
    (-8_520_336_000_000, True), (0, True), (1717168580000, True), (64_092_211_199_999, True),
    (-8_520_336_000_001, False), (64_092_211_200_000, False), (2**63 - 1, False), (-(2**63), False),
])
def test_epoch_ms_range(value: int, ok: bool) -> None:
    """Dates from 1700-01-01T00:00:00Z to 4000-12-31T23:59:59.999Z (Salesforce's range)."""
    if ok:
        assert f.epoch_ms(value) == value
    else:
        assert "1700" in refused(f.epoch_ms, value)


@pytest.mark.parametrize(("value", "ok"), [
    ("USD", True), ("EUR", True), ("JPY", True),
    ("usd", False), ("US", False), ("USDD", False), ("NaN", False), ("US1", False), ("ÜSD", False), ("", False),
])
def test_currency_shape(value: str, ok: bool) -> None:
    """ISO 4217 shape: three upper-case ASCII letters."""
    if ok:
        assert f.currency(value) == value
    else:
        refused(f.currency, value)


@pytest.mark.parametrize(("value", "ok"), [
    ("S-256-000001", True), ("1", True), ("a b", True), ("ü-9/x", True), ("x" * 80, True),
    ("", False), ("x" * 81, False), ("S-1\x00", False), ("S\n1", False), ("S\t1", False), ("\x7f", False),
    (" S-1", False), ("S-1 ", False), ("S-1\u0085", False),
])
def test_identifiers(value: str, ok: bool) -> None:
    """Ids: 1..80 characters, no control characters, no padding."""
    if ok:
        assert f.identifier(value) == value
    else:
        refused(f.identifier, value)


@pytest.mark.parametrize(("value", "ok"), [
    ("256", True), ("S_1-a", True), ("x" * 40, True),
    ("25 6", False), ("25.6", False), ("a@b", False), ("x" * 41, False), ("", False), ("ü", False),
])
def test_store_ids(value: str, ok: bool) -> None:
    """Store ids also form the placeholder e-mail pos-<storeId>@no-email.invalid: letters, digits, - and _."""
    if ok:
        assert f.store_id(value) == value
        assert f.email(f"pos-{value}@no-email.invalid")
    else:
        refused(f.store_id, value)


@pytest.mark.parametrize(("value", "ok"), [
    ("0a3xx0000000001AAA", True), ("0a3xx0000000001", True),
    ("0a3xx0000000001A", False), ("0a3", False), ("0a3xx00000000/1AAA", False), ("", False),
])
def test_salesforce_ids(value: str, ok: bool) -> None:
    """Salesforce Ids are 15 or 18 letters and digits."""
    if ok:
        assert f.salesforce_id(value) == value
    else:
        refused(f.salesforce_id, value)


@pytest.mark.parametrize(("value", "ok"), [
    ("ann@example.com", True), ("ann.lee+pos@example.co.uk", True), ("o'brien%_--+x@example.com", True),
    ("a@b.io", True), ("pos-256@no-email.invalid", True), (" ann@example.com ", True), ("", True), ("  ", True),
    (None, True), ("x" * 64 + "@example.com", True),
    ("not-an-email", False), ("ann@example", False), ("a b@example.com", False), ("ann@@example.com", False),
    ("a..b@example.com", False), (".a@example.com", False), ("a.@example.com", False), ("ann@-bad.com", False),
    ("ann@bad-.com", False), ("üser@example.com", False), ("ann@example.c0m", False),
    ("x" * 65 + "@example.com", False), ("x" * 70 + "@example.com", False), ("a@b.c", False),
    ("ann@exa_mple.com", False), ("a\x00@example.com", False),
])
def test_emails(value: str | None, ok: bool) -> None:
    """ASCII local@domain.tld, dot-atom local part up to 64, at most 80 characters; blank means none."""
    if ok:
        assert f.email(value) == value
    else:
        assert "not a valid e-mail" in refused(f.email, value)


def test_email_refusal_does_not_repeat_the_address() -> None:
    """The message names the rule, never the (personal) value."""
    assert "ann.lee.private" not in refused(f.email, "ann.lee.private@@example.com")


@pytest.mark.parametrize(("limit", "value", "ok"), [
    (40, "Austin", True), (40, "C" * 40, True), (255, "1 Main St\nApt 2\tRear", True), (40, None, True),
    (40, "C" * 41, False), (255, "a\x00", False), (255, "a\x1b[31m", False), (80, "\x7f", False),
])
def test_text(limit: int, value: str | None, ok: bool) -> None:
    """Free text: the Salesforce field's length, no control characters but tab and line breaks."""
    if ok:
        assert f.text(limit)(value) == value
    else:
        refused(f.text(limit), value)


@pytest.mark.parametrize(("value", "ok"), [(0, True), (0.0825, True), (100, True), (-0.01, False), (101, False),
                                           (1e30, False)])
def test_tax_rates(value: Any, ok: bool) -> None:
    """Tax rates are fractions 0..100."""
    if ok:
        assert f.tax_rate(value) == Decimal(str(value))
    else:
        refused(f.tax_rate, value)
