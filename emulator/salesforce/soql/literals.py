"""SOQL literal decoding: quoted-string escapes, LIKE patterns, date/datetime values, named date ranges."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from .model import DateLit, DateTimeLit, RelativeDate, StrLit

# Escapes Salesforce accepts inside quoted strings; \% and \_ only mean something to LIKE.
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_LIKE_ONLY = {"%", "_"}

_FIXED_DAYS = {"TODAY": (0, 1), "YESTERDAY": (-1, 0), "TOMORROW": (1, 2),
               "LAST_90_DAYS": (-90, 1), "NEXT_90_DAYS": (1, 91)}
_PERIODS = {"WEEK", "MONTH", "YEAR"}
_N_DAYS = {"LAST_N_DAYS", "NEXT_N_DAYS"}


class LiteralError(ValueError):
    """A literal the lexer accepted but Salesforce would reject; ``str()`` is the message detail."""


def decode_string(token: str) -> StrLit:
    """Decode a ``'...'`` token into its value and a case-insensitive LIKE regex source."""
    body = token[1:-1]
    value: list[str] = []
    regex: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            lowered = nxt.lower() if nxt in "NRTBF" else nxt
            if lowered in _ESCAPES:
                value.append(_ESCAPES[lowered])
                regex.append(re.escape(_ESCAPES[lowered]))
            elif nxt in _LIKE_ONLY:
                value.append(nxt)
                regex.append(re.escape(nxt))
            else:
                raise LiteralError(f"Invalid string literal '{body}'. "
                                   f"Illegal character sequence '\\{nxt}' in string literal.")
            i += 2
            continue
        value.append(ch)
        regex.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return StrLit("".join(value), "".join(regex))


def parse_date(token: str) -> DateLit:
    """A ``YYYY-MM-DD`` literal."""
    try:
        return DateLit(date.fromisoformat(token))
    except ValueError as exc:
        raise LiteralError(token) from exc


def parse_datetime(token: str) -> DateTimeLit:
    """A datetime literal with ``Z``, ``+hh:mm`` or ``+hhmm`` offset and optional fraction."""
    parsed = to_instant(token)
    if parsed is None:
        raise LiteralError(token)
    return DateTimeLit(parsed)


def to_instant(value: str) -> datetime | None:
    """A stored or literal ISO datetime as an aware instant; None when it is not a datetime with time."""
    if len(value) < 19 or value[10] not in "Tt ":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def to_day(value: str) -> date | None:
    """The UTC calendar day of a stored date or datetime string; None when it is neither."""
    instant = to_instant(value)
    if instant is not None:
        return instant.astimezone(UTC).date()
    if len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def relative_date(name: str, n: int | None) -> RelativeDate:
    """Validate a named date literal (``TODAY``, ``LAST_N_DAYS:n`` ...)."""
    upper = name.upper()
    if n is None and (upper in _FIXED_DAYS or _period(upper) is not None):
        return RelativeDate(upper, None)
    if n is not None and upper in _N_DAYS:
        return RelativeDate(upper, n)
    raise LiteralError(name if n is None else f"{name}:{n}")


def _period(name: str) -> tuple[str, str] | None:
    head, _, unit = name.partition("_")
    if head in {"THIS", "LAST", "NEXT"} and unit in _PERIODS:
        return head, unit
    return None


def _shift_month(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def day_range(lit: RelativeDate, today: date) -> tuple[date, date]:
    """The ``[start, end)`` days a named date literal covers, relative to ``today`` (UTC)."""
    if lit.name in _FIXED_DAYS:
        lo, hi = _FIXED_DAYS[lit.name]
        return today + timedelta(days=lo), today + timedelta(days=hi)
    if lit.name == "LAST_N_DAYS":
        return today - timedelta(days=lit.n or 0), today + timedelta(days=1)
    if lit.name == "NEXT_N_DAYS":
        return today + timedelta(days=1), today + timedelta(days=(lit.n or 0) + 1)
    head, unit = _period(lit.name) or ("THIS", "WEEK")
    step = {"THIS": 0, "LAST": -1, "NEXT": 1}[head]
    if unit == "WEEK":  # weeks start on Sunday (en_US locale)
        start = today - timedelta(days=(today.weekday() + 1) % 7) + timedelta(weeks=step)
        return start, start + timedelta(weeks=1)
    if unit == "MONTH":
        start = _shift_month(today.replace(day=1), step)
        return start, _shift_month(start, 1)
    start = date(today.year + step, 1, 1)
    return start, date(start.year + 1, 1, 1)
