"""Runs the aggregate part of a plan: groups the matching rows, computes aggregates, HAVING, ORDER BY, paging.

Result rows are AggregateResult records: ``{"attributes": {"type": "AggregateResult"}, <key>: value, ...}`` with the
keys chosen at bind time (alias, implied ``expr<i>``, or the grouped field's name). Sources: "Aggregate Functions",
"GROUP BY", "HAVING" and "Use Aliases with GROUP BY" of the SOQL and SOSL Reference
(https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-agg-functions.html).

Semantics kept here, each from "Aggregate Functions": every aggregate ignores nulls, except ``COUNT()``/``COUNT(Id)``
(``COUNT(field)`` counts non-null values, ``COUNT_DISTINCT`` distinct non-null values); ``AVG``/``SUM`` are numeric;
``MIN``/``MAX`` on a picklist follow the picklist order. Without GROUP BY the whole result is one group and one row,
even when no row matched (``COUNT`` 0, the others null) -- standard SQL behaviour, which Salesforce documents as
"COUNT() and COUNT(Id) in SOQL are similar to COUNT(*) in SQL". Grouping compares text case-insensitively and ids in
18-character form, as the rest of the engine does; the value shown for a group is the first row's.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cmp_to_key
from typing import Any

from .bind import AggRef, AggregatePlan, GroupValue, Plan
from .errors import AGGREGATE_BATCH_LIMIT, aggregate_too_many_rows
from .evaluate import Evaluator, compare, like_pattern, order_comparer, semi_key, sort_key
from .model import And, Compare, InList, Like, Not, Or

Row = dict[str, Any]
AGGREGATE_ATTRIBUTES = {"type": "AggregateResult"}


class _Group:
    """The rows of one group and its computed aggregates."""

    def __init__(self, keys: list[Any], rows: list[Row]) -> None:
        self.keys = keys
        self.rows = rows
        self.cache: dict[AggRef, Any] = {}


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compute(ref: AggRef, values: list[Any], row_count: int) -> Any:
    if ref.field is None:
        return row_count
    present = [v for v in values if v is not None]
    if ref.func == "COUNT":
        return len(present)
    if ref.func == "COUNT_DISTINCT":
        return len({semi_key(v) for v in present})
    if ref.func in ("SUM", "AVG"):
        numbers = [n for n in map(_number, present) if n is not None]
        if not numbers:
            return None
        if all(isinstance(n, int) for n in numbers) and ref.func == "SUM":
            return sum(numbers)
        # Summed as decimals, as Salesforce does for number/currency fields (no binary float drift: 0.1 + 0.2 = 0.3).
        total = sum((Decimal(str(n)) for n in numbers), Decimal(0))
        return float(total / len(numbers) if ref.func == "AVG" else total)
    if not present:
        return None
    order = {value.casefold(): i for i, value in enumerate(ref.picklist)}

    def rank(value: Any) -> tuple[int, Any]:
        # Picklists rank by their defined order first; otherwise (order empty) every value ties on it.
        return (order.get(str(value).casefold(), len(order)), sort_key(value))

    return (min if ref.func == "MIN" else max)(present, key=rank)


class AggregateRun:
    """One aggregate query over the rows its WHERE kept."""

    def __init__(self, plan: Plan, evaluator: Evaluator, today: date) -> None:
        assert plan.aggregate is not None
        self.plan = plan
        self.agg: AggregatePlan = plan.aggregate
        self.evaluator = evaluator
        self.today = today

    def groups(self, rows: list[Row]) -> list[_Group]:
        if not self.agg.group_by:
            return [_Group([], rows)]
        found: dict[tuple[Any, ...], _Group] = {}
        for row in rows:
            keys = [self.evaluator.value(bound, row) for bound in self.agg.group_by]
            identity = tuple(semi_key(k) for k in keys)
            group = found.get(identity)
            if group is None:
                found[identity] = _Group(keys, [row])
            else:
                group.rows.append(row)
        return list(found.values())

    def value(self, group: _Group, what: GroupValue) -> Any:
        if isinstance(what, int):
            return group.keys[what]
        if what not in group.cache:
            values = [] if what.field is None else [self.evaluator.value(what.field, r) for r in group.rows]
            group.cache[what] = _compute(what, values, len(group.rows))
        return group.cache[what]

    def having(self, cond: Any, group: _Group) -> bool:
        if cond is None:
            return True
        if isinstance(cond, And):
            return all(self.having(part, group) for part in cond.parts)
        if isinstance(cond, Or):
            return any(self.having(part, group) for part in cond.parts)
        if isinstance(cond, Not):
            return not self.having(cond.part, group)
        key = id(cond.field)
        stored = self.value(group, self.agg.refs[key])
        is_reference = self.agg.reference[key]
        if isinstance(cond, Compare):
            return compare(stored, cond.op, cond.value, is_reference, self.today)
        if isinstance(cond, Like):
            return isinstance(stored, str) and like_pattern(cond.pattern.like_regex).fullmatch(stored) is not None
        assert isinstance(cond, InList)
        hit = any(compare(stored, "=", lit, is_reference, self.today) for lit in cond.values)
        return hit != cond.negated

    def order(self, groups: list[_Group]) -> list[_Group]:
        if not self.agg.order:
            return groups
        keyed = [([sort_key(self.value(g, what)) for what, _ in self.agg.order], g) for g in groups]
        items = [item for _, item in self.agg.order]
        keyed.sort(key=cmp_to_key(order_comparer(items)))
        return [g for _, g in keyed]

    def run(self, rows: list[Row]) -> list[Row]:
        groups = [g for g in self.groups(rows) if self.having(self.agg.having, g)]
        groups = self.order(groups)
        select = self.plan.select
        start = select.offset or 0
        stop = None if select.limit is None else start + select.limit
        groups = groups[start:stop]
        if len(groups) > AGGREGATE_BATCH_LIMIT:
            raise aggregate_too_many_rows()
        out = []
        for group in groups:
            record: Row = {"attributes": dict(AGGREGATE_ATTRIBUTES)}
            for column in self.agg.columns:
                record[column.key] = self.value(group, column.value)
            out.append(record)
        return out
