"""Checks a parsed query against the org schema and resolves every name to its canonical form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import (
    MALFORMED_QUERY,
    SoqlError,
    bad_child_relationship,
    bad_field_relationship,
    locate,
    no_such_column,
    offset_too_large,
    unsupported_object,
)
from .model import CountItem, FieldPath, OrderItem, Select, SemiJoin, SubQuery, walk_fields
from .resolver import Access

MAX_OFFSET = 2000


@dataclass(frozen=True)
class Hop:
    """One step along a lookup: the JSON key, the foreign key on the current object, the target object."""

    key: str
    fk: str
    target: str


@dataclass(frozen=True)
class BoundField:
    """A field path resolved against the schema."""

    hops: tuple[Hop, ...]
    name: str

    @property
    def is_reference(self) -> bool:
        """Whether values are record ids (compared in 18-character form)."""
        return self.name == "Id" or self.name.endswith("Id")


@dataclass
class ChildPlan:
    """A parent-to-child subquery: the JSON key, the foreign key on the child, the child's own plan."""

    key: str
    fk: str
    plan: Plan


@dataclass
class Plan:
    """Everything needed to run one ``SELECT`` against one resolver."""

    select: Select
    sobject: str
    columns: list[BoundField | ChildPlan] = field(default_factory=list)
    count: CountItem | None = None
    count_field: BoundField | None = None
    fields: dict[int, BoundField] = field(default_factory=dict)      # id(FieldPath) -> bound field
    order: list[tuple[BoundField, OrderItem]] = field(default_factory=list)
    semi: dict[int, Plan] = field(default_factory=dict)              # id(SemiJoin) -> inner plan


class Binder:
    """Binds a query's names for one :class:`Access`; raises Salesforce-style :class:`SoqlError`."""

    def __init__(self, soql: str, access: Access) -> None:
        self.soql = soql
        self.access = access

    def top(self, select: Select) -> Plan:
        """Bind a top-level statement (``FROM`` names an object)."""
        if not self.access.resolver.has_object(select.sobject):
            raise unsupported_object(self.soql, select.sobject_pos, select.sobject)
        if select.offset is not None and select.offset > MAX_OFFSET:
            raise offset_too_large()
        return self._plan(select, self.access.canonical_object(select.sobject))

    def _plan(self, select: Select, sobject: str) -> Plan:
        plan = Plan(select, sobject)
        self._columns(plan)
        for path in walk_fields(select.where):
            plan.fields[id(path)] = self.field(sobject, path)
        for node in _semi_joins(select.where):
            plan.semi[id(node)] = self._semi(node)
        for item in select.order_by:
            plan.order.append((self.field(sobject, item.field), item))
        return plan

    def _columns(self, plan: Plan) -> None:
        items = plan.select.items
        counts = [item for item in items if isinstance(item, CountItem)]
        if counts:
            others = [item for item in items if not isinstance(item, CountItem)]
            if len(counts) > 1 or others:
                where = others[0] if others else counts[1]
                text = where.text if isinstance(where, FieldPath) else "COUNT"
                pos = where.pos if isinstance(where, FieldPath | CountItem) else where.select.sobject_pos
                detail = f"Field must be grouped or aggregated: {text}"
                raise SoqlError(MALFORMED_QUERY, f"{locate(self.soql, pos)}{detail}")
            plan.count = counts[0]
            if counts[0].field is not None:
                plan.count_field = self.field(plan.sobject, counts[0].field)
            return
        seen: set[tuple[str, ...]] = set()
        for item in items:
            if isinstance(item, SubQuery):
                plan.columns.append(self._child(plan.sobject, item))
                continue
            assert isinstance(item, FieldPath)
            bound = self.field(plan.sobject, item)
            key = (*(hop.key for hop in bound.hops), bound.name)
            if key not in seen:
                seen.add(key)
                plan.columns.append(bound)

    def _child(self, parent: str, item: SubQuery) -> ChildPlan:
        select = item.select
        found = self.access.resolver.child_relationship(parent, select.sobject)
        if found is None:
            raise bad_child_relationship(self.soql, select.sobject_pos, select.sobject)
        child, fk = found
        key = self.access.child_key(parent, select.sobject)
        return ChildPlan(key, fk, self._plan(select, child))

    def _semi(self, node: SemiJoin) -> Plan:
        inner = node.select
        paths = [item for item in inner.items if isinstance(item, FieldPath)]
        if len(paths) != 1 or len(inner.items) != 1:
            first: Any = inner.items[1] if len(inner.items) > 1 else inner.items[0]
            pos = first.pos if isinstance(first, FieldPath | CountItem) else first.select.sobject_pos
            raise SoqlError(MALFORMED_QUERY, f"{locate(self.soql, pos)}The selected field in a semi-join "
                                             "subquery must be a single Id or reference field")
        plan = self.top(inner)
        if plan.columns and isinstance(plan.columns[0], BoundField) and plan.columns[0].hops:
            raise SoqlError(MALFORMED_QUERY, f"{locate(self.soql, paths[0].pos)}The selected field in a "
                                             "semi-join subquery must not reference a relationship")
        return plan

    def field(self, sobject: str, path: FieldPath) -> BoundField:
        """Resolve ``path`` from ``sobject``: each leading part a lookup, the last part a field."""
        resolver = self.access.resolver
        hops: list[Hop] = []
        current = sobject
        for part in path.parts[:-1]:
            found = resolver.lookup(current, part)
            if found is None:
                raise bad_field_relationship(self.soql, path.pos, part)
            fk, target = found
            fk = resolver.canonical_field(current, fk)
            hops.append(Hop(self.access.parent_key(current, part, fk), fk, target))
            current = hops[-1].target
        last = path.parts[-1]
        if not resolver.has_field(current, last):
            raise no_such_column(self.soql, path.pos, last, current)
        return BoundField(tuple(hops), resolver.canonical_field(current, last))


def _semi_joins(cond: Any) -> list[SemiJoin]:
    out: list[SemiJoin] = []
    stack: list[Any] = [cond] if cond is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, SemiJoin):
            out.append(node)
        elif hasattr(node, "parts"):
            stack.extend(node.parts)
        elif hasattr(node, "part"):
            stack.append(node.part)
    return out
