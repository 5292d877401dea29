"""The parsed form of a SOQL statement: immutable, schema-free, safe to cache by query text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .errors import Pos

COMPARE_OPS = ("=", "!=", "<>", "<", ">", "<=", ">=")


@dataclass(frozen=True)
class StrLit:
    """A quoted string: its decoded value and, for ``LIKE``, the equivalent anchored regex source."""

    value: str
    like_regex: str


@dataclass(frozen=True)
class DateLit:
    """A date literal such as ``2025-05-01``."""

    value: date


@dataclass(frozen=True)
class DateTimeLit:
    """A datetime literal such as ``2025-05-01T12:00:00Z`` (always timezone-aware)."""

    value: datetime


@dataclass(frozen=True)
class RelativeDate:
    """A named date literal (``TODAY``, ``LAST_N_DAYS:7``); resolved to a day range when the query runs."""

    name: str
    n: int | None


Literal = StrLit | DateLit | DateTimeLit | RelativeDate | bool | int | float | None


@dataclass(frozen=True)
class FieldPath:
    """A dotted field reference as written (``DeliveryMethod.Name``)."""

    parts: tuple[str, ...]
    pos: Pos

    @property
    def text(self) -> str:
        """The path as written."""
        return ".".join(self.parts)


@dataclass(frozen=True)
class CountItem:
    """``COUNT()`` (``field`` is None) or ``COUNT(field)`` in the select list."""

    field: FieldPath | None
    pos: Pos


@dataclass(frozen=True)
class SubQuery:
    """A parent-to-child subquery in the select list; ``select.sobject`` is the child relationship name."""

    select: Select


SelectItem = FieldPath | CountItem | SubQuery


@dataclass(frozen=True)
class Compare:
    """``field <op> literal``."""

    field: FieldPath
    op: str
    value: Literal


@dataclass(frozen=True)
class Like:
    """``field LIKE 'pattern'``."""

    field: FieldPath
    pattern: StrLit


@dataclass(frozen=True)
class InList:
    """``field [NOT] IN (literal, ...)``."""

    field: FieldPath
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class SemiJoin:
    """``field [NOT] IN (SELECT x FROM y ...)``."""

    field: FieldPath
    select: Select
    negated: bool


@dataclass(frozen=True)
class And:
    """All of ``parts``."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    """Any of ``parts``."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """The negation of ``part``."""

    part: Condition


Condition = Compare | Like | InList | SemiJoin | And | Or | Not


@dataclass(frozen=True)
class OrderItem:
    """One ``ORDER BY`` key; nulls sort first unless ``NULLS LAST`` (Salesforce default, any direction)."""

    field: FieldPath
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class Select:
    """A whole ``SELECT`` statement (top level, subquery or semi-join)."""

    items: tuple[SelectItem, ...]
    sobject: str
    sobject_pos: Pos
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


def walk_fields(cond: Condition | None) -> list[FieldPath]:
    """Every field path a condition reads (semi-join subqueries excluded)."""
    out: list[FieldPath] = []
    stack: list[Any] = [cond] if cond is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or):
            stack.extend(reversed(node.parts))
        elif isinstance(node, Not):
            stack.append(node.part)
        else:
            out.append(node.field)
    return out
