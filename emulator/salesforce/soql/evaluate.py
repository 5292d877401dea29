"""Row-level semantics: reading (relationship) field values, WHERE predicates, ORDER BY comparison.

Salesforce semantics kept here: text comparison is case-insensitive; ids compare in 18-character form;
``!=`` and ``NOT IN`` match null values (null is a value in SOQL, unlike SQL); datetime literals compare
as instants against stored ISO strings whatever their offset notation; named date literals cover whole
UTC days; nulls sort first unless ``NULLS LAST``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache, cmp_to_key
from typing import Any

from .bind import BoundField, Plan
from .literals import day_range, to_day, to_instant
from .model import (
    And,
    Compare,
    Condition,
    DateLit,
    DateTimeLit,
    InList,
    Like,
    Literal,
    Not,
    Or,
    RelativeDate,
    StrLit,
)
from .resolver import Access, normalize_id

_APPLY = {
    "=": lambda c: c == 0, "!=": lambda c: c != 0, "<": lambda c: c < 0,
    ">": lambda c: c > 0, "<=": lambda c: c <= 0, ">=": lambda c: c >= 0,
}


@cache
def like_pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


def _sign(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _as_instant(stored: Any) -> datetime | None:
    if isinstance(stored, datetime):
        return stored if stored.tzinfo else stored.replace(tzinfo=UTC)
    if isinstance(stored, date):
        return datetime(stored.year, stored.month, stored.day, tzinfo=UTC)
    if isinstance(stored, str):
        instant = to_instant(stored)
        if instant is None and (day := to_day(stored)) is not None:
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        return instant
    return None


def _as_day(stored: Any) -> date | None:
    if isinstance(stored, datetime):
        return (stored if stored.tzinfo else stored.replace(tzinfo=UTC)).astimezone(UTC).date()
    if isinstance(stored, date):
        return stored
    return to_day(stored) if isinstance(stored, str) else None


def _as_number(stored: Any) -> float | None:
    if isinstance(stored, bool):
        return None
    if isinstance(stored, int | float):
        return float(stored)
    if isinstance(stored, str):
        try:
            return float(stored)
        except ValueError:
            return None
    return None


def _cmp(stored: Any, lit: Literal, is_reference: bool) -> int | None:
    """Three-way comparison of a non-null stored value with a non-null literal; None if incomparable."""
    if isinstance(lit, bool):
        return _sign(stored, lit) if isinstance(stored, bool) else None
    if isinstance(lit, int | float):
        number = _as_number(stored)
        return None if number is None else _sign(number, float(lit))
    if isinstance(lit, StrLit):
        if isinstance(stored, str):
            if is_reference and (a := normalize_id(stored)) and (b := normalize_id(lit.value)):
                return _sign(a, b)
            return _sign(stored.casefold(), lit.value.casefold())
        number = _as_number(stored)
        wanted = _as_number(lit.value)
        return None if number is None or wanted is None else _sign(number, wanted)
    if isinstance(lit, DateLit):
        day = _as_day(stored)
        return None if day is None else _sign(day, lit.value)
    if isinstance(lit, DateTimeLit):
        instant = _as_instant(stored)
        return None if instant is None else _sign(instant, lit.value)
    return None


def compare(stored: Any, op: str, lit: Literal, is_reference: bool, today: date) -> bool:
    """``stored <op> lit`` with SOQL semantics."""
    if lit is None:
        return stored is None if op == "=" else stored is not None if op == "!=" else False
    if stored is None:
        return op == "!="
    if isinstance(lit, RelativeDate):
        day = _as_day(stored)
        if day is None:
            return op == "!="
        start, end = day_range(lit, today)
        inside = start <= day < end
        return {"=": inside, "!=": not inside, "<": day < start, "<=": day < end,
                ">": day >= end, ">=": day >= start}[op]
    result = _cmp(stored, lit, is_reference)
    if result is None:
        return op == "!="
    return bool(_APPLY[op](result))


def semi_key(value: Any) -> Any:
    """How a semi-join compares values: ids in 18-character form, text case-insensitively."""
    if isinstance(value, str):
        return normalize_id(value) or value.casefold()
    return value


class Evaluator:
    """Evaluates one plan's WHERE and ORDER BY against rows."""

    def __init__(self, plan: Plan, access: Access, today: date, semi_values: dict[int, set[Any]]) -> None:
        self.plan = plan
        self.access = access
        self.today = today
        self.semi_values = semi_values
        self._in_index: dict[int, tuple[set[str], set[str], set[str]] | None] = {}

    def _id_index(self, cond: InList) -> tuple[set[str], set[str], set[str]] | None:
        """For ``Id IN ('...', ...)`` on a reference field: the literals as sets, built once per query.

        Same answers as comparing each literal in turn (ids compare in 18-character form when both sides are ids,
        text compares case-insensitively), without normalising every literal for every row.
        """
        key = id(cond)
        if key not in self._in_index:
            if not all(isinstance(lit, StrLit) for lit in cond.values):
                self._in_index[key] = None
            else:
                texts = [lit.value for lit in cond.values if isinstance(lit, StrLit)]
                ids = {full for text in texts if (full := normalize_id(text))}
                other = {text.casefold() for text in texts if not normalize_id(text)}
                self._in_index[key] = (ids, other, {text.casefold() for text in texts})
        return self._in_index[key]

    def value(self, bound: BoundField, row: dict[str, Any]) -> Any:
        """The value of a (possibly relationship) field for ``row``; None past a null lookup."""
        current = row
        for hop in bound.hops:
            parent = self.access.get(current.get(hop.fk))
            if parent is None:
                return None
            current = parent
        return current.get(bound.name)

    def matches(self, cond: Condition | None, row: dict[str, Any]) -> bool:
        """Whether ``row`` satisfies ``cond`` (no condition matches everything)."""
        if cond is None:
            return True
        if isinstance(cond, And):
            return all(self.matches(part, row) for part in cond.parts)
        if isinstance(cond, Or):
            return any(self.matches(part, row) for part in cond.parts)
        if isinstance(cond, Not):
            return not self.matches(cond.part, row)
        bound = self.plan.fields[id(cond.field)]
        stored = self.value(bound, row)
        if isinstance(cond, Compare):
            return compare(stored, cond.op, cond.value, bound.is_reference, self.today)
        if isinstance(cond, Like):
            return isinstance(stored, str) and like_pattern(cond.pattern.like_regex).fullmatch(stored) is not None
        if isinstance(cond, InList):
            if bound.is_reference and isinstance(stored, str) and (index := self._id_index(cond)) is not None:
                ids, folded_other, folded_all = index
                full = normalize_id(stored)
                hit = (full in ids or stored.casefold() in folded_other) if full else stored.casefold() in folded_all
            else:
                hit = any(compare(stored, "=", lit, bound.is_reference, self.today) for lit in cond.values)
            return hit != cond.negated
        hit = stored is not None and semi_key(stored) in self.semi_values[id(cond)]
        return hit != cond.negated

    def sort(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` in ORDER BY order (stable; no ORDER BY keeps the given order)."""
        if not self.plan.order:
            return rows
        keyed = [([sort_key(self.value(bound, row), bound.is_reference) for bound, _ in self.plan.order], row)
                 for row in rows]
        keyed.sort(key=cmp_to_key(order_comparer([item for _, item in self.plan.order])))
        return [row for _, row in keyed]


def sort_key(value: Any, is_reference: bool = False) -> tuple[int, Any] | None:
    """How ORDER BY (and MIN/MAX) rank a stored value; None for null. Record ids rank as ``Id >`` compares them
    (18-character form, case-sensitive: ids differing only in case are different records), so keyset paging
    (``WHERE Id > :last ORDER BY Id``) neither skips nor repeats a row."""
    if value is None:
        return None
    if is_reference and isinstance(value, str) and (record_id := normalize_id(value)):
        return (3, record_id)
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (1, float(value))
    if isinstance(value, str):
        instant = to_instant(value)
        return (2, instant) if instant is not None else (3, value.casefold())
    return (4, str(value))


def order_comparer(items: list[Any]) -> Callable[[Any, Any], int]:
    """cmp over (sort keys, row) pairs by ORDER BY items: ASC/DESC, NULLS FIRST/LAST (rows and aggregate rows)."""
    def cmp(a: tuple[list[Any], Any], b: tuple[list[Any], Any]) -> int:
        for item, ka, kb in zip(items, a[0], b[0], strict=True):
            if ka is None or kb is None:
                if ka is None and kb is None:
                    continue
                first = -1 if item.nulls_first else 1
                return first if ka is None else -first
            if ka != kb:
                result = -1 if ka < kb else 1
                return -result if item.descending else result
        return 0

    return cmp
