"""Checks a parsed query against the org schema and resolves every name to its canonical form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import (
    MALFORMED_QUERY,
    SoqlError,
    aggregate_not_root,
    alias_outside_aggregate,
    bad_child_relationship,
    bad_field_relationship,
    count_with_clause,
    grouped_and_aggregated,
    limit_without_group_by,
    locate,
    no_such_column,
    not_aggregatable,
    not_groupable,
    not_grouped,
    offset_too_large,
    order_not_grouped,
    semi_join_in_having,
    unsupported_object,
)
from .model import (
    Aggregate,
    FieldPath,
    OrderItem,
    Select,
    SemiJoin,
    SubQuery,
    condition_leaves,
    walk_fields,
)
from .resolver import Access

MAX_OFFSET = 2000

# Which field types each aggregate accepts, and which can be grouped. Sources: "Aggregate Functions" (AVG/SUM take
# numeric fields; https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-agg-functions.html)
# and "Considerations for GROUP BY" (the describe attribute ``groupable`` decides). Per type, as observed in field
# describes (blog post "What Can You GROUP BY?" and the Salesforce StackExchange wiki it cites,
# https://salesforce.stackexchange.com/questions/235528/what-types-of-fields-are-groupable-in-a-soql-group-by-clause):
# checkbox, text, text area, picklist, email, phone, URL, standard int numbers, ids/lookups and dates group;
# double/currency/percent numbers, date/time, long text, auto-number do not. The emulator's ``textarea`` is long text
# (describe length 32,000). Checkbox and long-text fields refuse aggregate operators (observed: "field X does not
# support aggregate operator COUNT").
NUMERIC_TYPES = frozenset({"int", "double", "currency", "percent"})
NOT_GROUPABLE = frozenset({"double", "currency", "percent", "datetime", "textarea", "autonumber"})
NOT_AGGREGATABLE = frozenset({"boolean", "textarea"})


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

    @property
    def identity(self) -> tuple[str, ...]:
        """The same field reached the same way compares equal (case-insensitive foreign keys and name)."""
        return (*(hop.fk.lower() for hop in self.hops), self.name.lower())


@dataclass
class ChildPlan:
    """A parent-to-child subquery: the JSON key, the foreign key on the child, the child's own plan."""

    key: str
    fk: str
    plan: Plan


@dataclass(frozen=True)
class AggRef:
    """One aggregate computed per group: ``COUNT`` ... ``SUM`` over ``field`` (None only for ``COUNT()``)."""

    func: str
    field: BoundField | None
    picklist: tuple[str, ...] = ()     # MIN/MAX on a picklist follow the picklist's order


# What a HAVING leaf or an ORDER BY key reads from a group: a grouped field (its index) or an aggregate.
GroupValue = int | AggRef


@dataclass
class AggColumn:
    """One column of an AggregateResult row: its JSON key and what it reads."""

    key: str
    value: GroupValue


@dataclass
class AggregatePlan:
    """GROUP BY fields, result columns, HAVING (leaves resolved in ``refs``) and ORDER BY of an aggregate query."""

    group_by: list[BoundField]
    columns: list[AggColumn]
    having: Any = None
    refs: dict[int, GroupValue] = field(default_factory=dict)          # id(HAVING leaf field) -> value
    reference: dict[int, bool] = field(default_factory=dict)          # id(HAVING leaf field) -> compares ids
    order: list[tuple[GroupValue, OrderItem]] = field(default_factory=list)


@dataclass
class Plan:
    """Everything needed to run one ``SELECT`` against one resolver."""

    select: Select
    sobject: str
    columns: list[BoundField | ChildPlan] = field(default_factory=list)
    count: Aggregate | None = None                                    # the row-count form ``COUNT()``
    aggregate: AggregatePlan | None = None
    fields: dict[int, BoundField] = field(default_factory=dict)      # id(FieldPath) -> bound field
    order: list[tuple[BoundField, OrderItem]] = field(default_factory=list)
    semi: dict[int, Plan] = field(default_factory=dict)              # id(SemiJoin) -> inner plan


def _pos_of(item: Any) -> Any:
    return item.pos if isinstance(item, FieldPath | Aggregate) else item.select.sobject_pos


class Binder:
    """Binds a query's names for one :class:`Access`; raises Salesforce-style :class:`SoqlError`."""

    def __init__(self, soql: str, access: Access) -> None:
        self.soql = soql
        self.access = access

    def top(self, select: Select, *, root: bool = True) -> Plan:
        """Bind a statement whose ``FROM`` names an object (the query itself, or a semi-join's inner query)."""
        if not self.access.resolver.has_object(select.sobject):
            raise unsupported_object(self.soql, select.sobject_pos, select.sobject)
        if select.offset is not None and select.offset > MAX_OFFSET:
            raise offset_too_large()
        return self._plan(select, self.access.canonical_object(select.sobject), root=root)

    def _plan(self, select: Select, sobject: str, *, root: bool) -> Plan:
        plan = Plan(select, sobject)
        first = next((i for i in select.items if isinstance(i, Aggregate)), None)
        if not root and (select.is_aggregate or first is not None):
            raise aggregate_not_root(self.soql, first.pos if first is not None else select.sobject_pos)
        self._columns(plan)
        for path in walk_fields(select.where):
            assert isinstance(path, FieldPath)
            plan.fields[id(path)] = self.field(sobject, path)
        for node in _semi_joins(select.where):
            plan.semi[id(node)] = self._semi(node)
        if plan.aggregate is not None:
            self._aggregate_tail(plan, plan.aggregate)
            return plan
        for item in select.order_by:
            assert isinstance(item.field, FieldPath)
            plan.order.append((self.field(sobject, item.field), item))
        return plan

    def _columns(self, plan: Plan) -> None:
        select = plan.select
        items = select.items
        counts = [item for item in items if isinstance(item, Aggregate) and item.field is None]
        if counts:
            # "COUNT() must be the only element in the SELECT list" ("COUNT() and COUNT(fieldName)", SOQL reference).
            others = [item for item in items if item is not counts[0]]
            if others:
                where = others[0]
                text = where.text if isinstance(where, FieldPath) else where.func if isinstance(
                    where, Aggregate) else "COUNT"
                raise SoqlError(MALFORMED_QUERY,
                                f"{locate(self.soql, _pos_of(where))}Field must be grouped or aggregated: {text}")
            if select.group_by:
                raise count_with_clause(self.soql, select.group_by[0].pos, "GROUP BY")
            if select.having is not None:
                raise count_with_clause(self.soql, select.sobject_pos, "HAVING")
            if select.order_by:
                raise count_with_clause(self.soql, _pos_of(select.order_by[0].field), "ORDER BY")
            plan.count = counts[0]
            return
        if select.is_aggregate:
            plan.aggregate = self._aggregate_columns(plan)
            return
        seen: set[tuple[str, ...]] = set()
        for item in items:
            if isinstance(item, SubQuery):
                plan.columns.append(self._child(plan.sobject, item))
                continue
            assert isinstance(item, FieldPath)
            if item.alias_pos is not None:
                raise alias_outside_aggregate(self.soql, item.alias_pos)
            bound = self.field(plan.sobject, item)
            key = (*(hop.key for hop in bound.hops), bound.name)
            if key not in seen:
                seen.add(key)
                plan.columns.append(bound)

    # ----------------------------------------------------------------- aggregate queries
    def _aggregate_columns(self, plan: Plan) -> AggregatePlan:
        """GROUP BY and the select list of an aggregate query (AggregateResult keys: alias, exprN or field name).

        Source for the keys: "Use Aliases with GROUP BY" (SOQL reference) -- an unaliased aggregate gets the implied
        alias ``expr<i>``, ``i`` counting only the aggregates without an explicit alias, from 0.
        """
        select = plan.select
        groups: list[BoundField] = []
        for path in select.group_by:
            bound = self.field(plan.sobject, path)
            if self._field_type(plan.sobject, bound) in NOT_GROUPABLE:
                raise not_groupable(self.soql, path.pos, bound.name)
            groups.append(bound)
        agg = AggregatePlan(groups, [])
        implied = 0
        for item in select.items:
            if isinstance(item, SubQuery):
                # "You can't use child relationship expressions ... in a query that uses a GROUP BY clause"
                # ("Considerations for GROUP BY"); the message text is UNCONFIRMED.
                raise not_grouped(self.soql, item.select.sobject_pos, item.select.sobject)
            if isinstance(item, FieldPath):
                index = self._group_index(plan, agg, item)
                if index is None:
                    raise not_grouped(self.soql, item.pos, item.text)
                agg.columns.append(AggColumn(item.alias or groups[index].name, index))
                continue
            ref = self._agg_ref(plan, agg, item)
            if item.alias is None:
                key, implied = f"expr{implied}", implied + 1
            else:
                key = item.alias
            agg.columns.append(AggColumn(key, ref))
        return agg

    def _aggregate_tail(self, plan: Plan, agg: AggregatePlan) -> None:
        """HAVING, ORDER BY and LIMIT of an aggregate query."""
        select = plan.select
        if select.limit is not None and not select.group_by:
            raise limit_without_group_by(self.soql, select.sobject_pos)
        agg.having = select.having
        for leaf in condition_leaves(select.having):
            if isinstance(leaf, SemiJoin):
                raise semi_join_in_having(self.soql, leaf.field.pos)
            target = leaf.field
            if isinstance(target, Aggregate):
                ref = self._agg_ref(plan, agg, target)
                agg.refs[id(target)] = ref
                # MIN/MAX of an id field is an id (compared in 18-character form); counts and sums are numbers.
                agg.reference[id(target)] = ref.func in ("MIN", "MAX") and ref.field is not None and \
                    ref.field.is_reference
                continue
            index = self._group_index(plan, agg, target)
            if index is None:
                raise not_grouped(self.soql, target.pos, target.text)
            agg.refs[id(target)] = index
            agg.reference[id(target)] = agg.group_by[index].is_reference
        for item in select.order_by:
            key = item.field
            if isinstance(key, Aggregate):
                agg.order.append((self._agg_ref(plan, agg, key), item))
                continue
            index = self._group_index(plan, agg, key)
            if index is None:
                raise order_not_grouped(self.soql, key.pos, key.text)
            agg.order.append((index, item))

    def _group_index(self, plan: Plan, agg: AggregatePlan, path: FieldPath) -> int | None:
        identity = self.field(plan.sobject, path).identity
        return next((i for i, bound in enumerate(agg.group_by) if bound.identity == identity), None)

    def _agg_ref(self, plan: Plan, agg: AggregatePlan, call: Aggregate) -> AggRef:
        if call.field is None:
            return AggRef("COUNT", None)
        bound = self.field(plan.sobject, call.field)
        if any(bound.identity == group.identity for group in agg.group_by):
            raise grouped_and_aggregated(self.soql, call.pos, bound.name)
        ftype = self._field_type(plan.sobject, bound)
        if ftype is not None and (ftype in NOT_AGGREGATABLE
                                  or (call.func in ("SUM", "AVG") and ftype not in NUMERIC_TYPES)):
            raise not_aggregatable(self.soql, call.pos, bound.name, call.func)
        picklist: tuple[str, ...] = ()
        if call.func in ("MIN", "MAX") and ftype == "picklist":
            # "If you use the MIN() or MAX() functions on a picklist field, the function uses the sort order of the
            # picklist values instead of alphabetical order." ("Aggregate Functions", SOQL reference)
            picklist = tuple(self.access.picklist_values(self._owner(plan.sobject, bound), bound.name))
        return AggRef(call.func, bound, picklist)

    @staticmethod
    def _owner(sobject: str, bound: BoundField) -> str:
        return bound.hops[-1].target if bound.hops else sobject

    def _field_type(self, sobject: str, bound: BoundField) -> str | None:
        return self.access.field_type(self._owner(sobject, bound), bound.name)

    # ----------------------------------------------------------------- subqueries and fields
    def _child(self, parent: str, item: SubQuery) -> ChildPlan:
        select = item.select
        found = self.access.resolver.child_relationship(parent, select.sobject)
        if found is None:
            raise bad_child_relationship(self.soql, select.sobject_pos, select.sobject)
        child, fk = found
        key = self.access.child_key(parent, select.sobject)
        return ChildPlan(key, fk, self._plan(select, child, root=False))

    def _semi(self, node: SemiJoin) -> Plan:
        inner = node.select
        paths = [item for item in inner.items if isinstance(item, FieldPath)]
        if len(paths) != 1 or len(inner.items) != 1:
            first: Any = inner.items[1] if len(inner.items) > 1 else inner.items[0]
            raise SoqlError(MALFORMED_QUERY, f"{locate(self.soql, _pos_of(first))}The selected field in a semi-join "
                                             "subquery must be a single Id or reference field")
        plan = self.top(inner, root=False)
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
