"""Runs a bound plan: picks candidate rows (by id when the WHERE pins ids), filters, orders, pages, shapes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .aggregate import AggregateRun
from .bind import Binder, BoundField, ChildPlan, Plan
from .evaluate import Evaluator, semi_key
from .model import And, Compare, Condition, InList, SemiJoin, StrLit
from .parse import parse
from .resolver import Access, Resolver, normalize_id

Row = dict[str, Any]


@dataclass
class QueryResult:
    """Rows shaped as REST query JSON; for ``COUNT()`` ``rows`` is empty and ``total_size`` is the count.

    ``aggregate`` marks AggregateResult rows (REST can't page them with a query locator: "Considerations for GROUP
    BY", SOQL and SOSL Reference).
    """

    sobject: str
    rows: list[dict[str, Any]]
    total_size: int
    aggregate: bool = False


def _pinned_ids(plan: Plan, cond: Condition | None, semi_values: dict[int, set[Any]]) -> list[str] | None:
    """Record ids the WHERE restricts the result to (top-level ``Id =``/``Id IN``), or None to scan."""
    parts = cond.parts if isinstance(cond, And) else (cond,) if cond is not None else ()
    for part in parts:
        if not isinstance(part, Compare | InList | SemiJoin):
            continue
        bound = plan.fields[id(part.field)]
        if bound.hops or bound.name != "Id":
            continue
        if isinstance(part, Compare) and part.op == "=" and isinstance(part.value, StrLit):
            return [part.value.value]
        if isinstance(part, InList) and not part.negated and all(isinstance(v, StrLit) for v in part.values):
            return [v.value for v in part.values if isinstance(v, StrLit)]
        if isinstance(part, SemiJoin) and not part.negated:
            return sorted(str(v) for v in semi_values[id(part)])
    return None


class _Run:
    """State of one ``run_query`` call."""

    def __init__(self, access: Access, today: date, api_version: str) -> None:
        self.access = access
        self.today = today
        self.api_version = api_version
        self._evaluators: dict[int, Evaluator] = {}

    def attributes(self, sobject: str, record_id: Any) -> dict[str, str]:
        return {"type": sobject, "url": f"/services/data/v{self.api_version}/sobjects/{sobject}/{record_id}"}

    def evaluator(self, plan: Plan) -> Evaluator:
        """The plan's evaluator, semi-join subqueries run once per query."""
        cached = self._evaluators.get(id(plan))
        if cached is not None:
            return cached
        semi_values: dict[int, set[Any]] = {}
        for key, inner in plan.semi.items():
            column = inner.columns[0]
            assert isinstance(column, BoundField)
            inner_eval = self.evaluator(inner)
            rows = self.filter(inner, inner_eval, self.candidates(inner, inner_eval))
            values = (inner_eval.value(column, row) for row in rows)
            semi_values[key] = {semi_key(v) for v in values if v is not None}
        self._evaluators[id(plan)] = Evaluator(plan, self.access, self.today, semi_values)
        return self._evaluators[id(plan)]

    def candidates(self, plan: Plan, evaluator: Evaluator) -> Iterable[dict[str, Any]]:
        """Rows that may match: looked up by id when the WHERE pins ids, else a scan of the object."""
        ids = _pinned_ids(plan, plan.select.where, evaluator.semi_values)
        if ids is None:
            return self.access.scan(plan.sobject)
        wanted = plan.sobject.lower()
        found: dict[str, dict[str, Any]] = {}
        for raw in ids:
            full = normalize_id(raw)
            row = self.access.get(full) if full else None
            if full is None or row is None or full in found or not self.access.alive(row):
                continue
            if (self.access.resolver.object_of(full) or "").lower() == wanted:
                found[full] = row
        return [found[key] for key in sorted(found)]

    def filter(self, plan: Plan, evaluator: Evaluator, rows: Iterable[Row]) -> list[Row]:
        """Matching rows, ordered, after OFFSET and LIMIT."""
        where = plan.select.where
        kept = [row for row in rows if evaluator.matches(where, row)]
        kept = evaluator.sort(kept)
        start = plan.select.offset or 0
        stop = None if plan.select.limit is None else start + plan.select.limit
        return kept[start:stop]

    def shape(self, plan: Plan, row: dict[str, Any]) -> dict[str, Any]:
        """One record as REST JSON: attributes, then the selected columns in select order."""
        out: dict[str, Any] = {"attributes": self.attributes(plan.sobject, row.get("Id"))}
        for column in plan.columns:
            if isinstance(column, ChildPlan):
                out[column.key] = self.child_envelope(column, row)
            else:
                self.put_field(out, column, row)
        return out

    def put_field(self, out: dict[str, Any], bound: BoundField, row: dict[str, Any]) -> None:
        """Set a field in ``out``, nesting parent objects (with attributes) along its lookups."""
        target = out
        current = row
        for hop in bound.hops:
            parent = self.access.get(current.get(hop.fk))
            if parent is None:
                target.setdefault(hop.key, None)
                return
            nested = target.get(hop.key)
            if nested is None:
                sobject = self.access.record_type(parent, hop.target)
                nested = {"attributes": self.attributes(sobject, parent["Id"])}
                target[hop.key] = nested
            target = nested
            current = parent
        target[bound.name] = current.get(bound.name)

    def child_envelope(self, child: ChildPlan, parent: dict[str, Any]) -> dict[str, Any] | None:
        """The nested query result of a subquery for one parent; None when it has no rows."""
        evaluator = self.evaluator(child.plan)
        rows = self.filter(child.plan, evaluator, self.access.children(child.plan.sobject, child.fk,
                                                                       str(parent.get("Id"))))
        if not rows:
            return None
        return {"totalSize": len(rows), "done": True, "records": [self.shape(child.plan, r) for r in rows]}


def run_query(soql: str, resolver: Resolver, *, api_version: str, include_deleted: bool = False,
              now: datetime | None = None) -> QueryResult:
    """Run one SOQL statement against ``resolver``; raises :class:`SoqlError` like Salesforce would.

    ``api_version`` (``"62.0"``) goes into ``attributes.url``; ``include_deleted`` is ``queryAll``;
    ``now`` fixes the clock for ``TODAY``-style literals (default: the current UTC time).
    """
    select = parse(soql)
    access = Access(resolver, include_deleted)
    plan = Binder(soql, access).top(select)
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    run = _Run(access, today, api_version.removeprefix("v"))
    evaluator = run.evaluator(plan)
    if plan.aggregate is not None:
        where = plan.select.where
        kept = [row for row in run.candidates(plan, evaluator) if evaluator.matches(where, row)]
        records = AggregateRun(plan, evaluator, today).run(kept)
        return QueryResult(plan.sobject, records, len(records), aggregate=True)
    rows = run.filter(plan, evaluator, run.candidates(plan, evaluator))
    if plan.count is not None:
        return QueryResult(plan.sobject, [], len(rows))
    return QueryResult(plan.sobject, [run.shape(plan, row) for row in rows], len(rows))
