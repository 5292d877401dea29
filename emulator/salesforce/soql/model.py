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
    """A dotted field reference as written (``DeliveryMethod.Name``), with its select-list alias if any."""

    parts: tuple[str, ...]
    pos: Pos
    alias: str | None = None
    alias_pos: Pos | None = None

    @property
    def text(self) -> str:
        """The path as written."""
        return ".".join(self.parts)


# Source: "Aggregate Functions", SOQL and SOSL Reference
# https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-agg-functions.html
AGGREGATE_FUNCTIONS = frozenset({"AVG", "COUNT", "COUNT_DISTINCT", "MIN", "MAX", "SUM"})


@dataclass(frozen=True)
class Aggregate:
    """An aggregate function call: ``COUNT()`` (``field`` None), ``COUNT(Id)``, ``SUM(Amount) total``, ...

    ``func`` is upper case (one of :data:`AGGREGATE_FUNCTIONS`); ``alias`` is the explicit alias, if written.
    """

    func: str
    field: FieldPath | None
    pos: Pos
    alias: str | None = None
    alias_pos: Pos | None = None

    @property
    def text(self) -> str:
        """The call as Salesforce names it in messages (``COUNT(Id)``)."""
        return f"{self.func}({self.field.text if self.field else ''})"


@dataclass(frozen=True)
class SubQuery:
    """A parent-to-child subquery in the select list; ``select.sobject`` is the child relationship name."""

    select: Select


SelectItem = FieldPath | Aggregate | SubQuery


@dataclass(frozen=True)
class Compare:
    """``field <op> literal`` (``field`` is an aggregate only inside ``HAVING``)."""

    field: FieldPath | Aggregate
    op: str
    value: Literal


@dataclass(frozen=True)
class Like:
    """``field LIKE 'pattern'``."""

    field: FieldPath | Aggregate
    pattern: StrLit


@dataclass(frozen=True)
class InList:
    """``field [NOT] IN (literal, ...)``."""

    field: FieldPath | Aggregate
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

    field: FieldPath | Aggregate
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
    group_by: tuple[FieldPath, ...] = ()
    having: Condition | None = None

    @property
    def is_aggregate(self) -> bool:
        """Whether the statement aggregates (GROUP BY, or an aggregate in SELECT, HAVING or ORDER BY).

        ``COUNT()`` alone is the row-count form, not an aggregate query (it answers ``totalSize``, no records).
        """
        if self.group_by or self.having is not None:
            return True
        if any(isinstance(item, Aggregate) and item.field is not None for item in self.items):
            return True
        return any(isinstance(item.field, Aggregate) for item in self.order_by)


def condition_leaves(cond: Condition | None) -> list[Any]:
    """The predicates of a condition (WHERE or HAVING) under its AND/OR/NOT, in text order."""
    out: list[Any] = []
    stack: list[Any] = [cond] if cond is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or):
            stack.extend(reversed(node.parts))
        elif isinstance(node, Not):
            stack.append(node.part)
        else:
            out.append(node)
    return out


def walk_fields(cond: Condition | None) -> list[FieldPath | Aggregate]:
    """Every field path (or, in HAVING, aggregate) a condition reads (semi-join subqueries excluded)."""
    return [leaf.field for leaf in condition_leaves(cond)]
