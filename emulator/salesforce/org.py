"""In-memory org state: rows indexed by id, by object and by parent; atomic transactions with an undo log."""

from __future__ import annotations

import time
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from . import rules
from .errors import SfError, dml, not_found
from .ids import PREFIX_TO_OBJECT, IdFactory, checksum, to18
from .schema import ObjectDef, Schema
from .validate import coerce, timestamp

INTEGRATION_USER_ID = "005R00000000001" + checksum("005R00000000001")
EventSink = Callable[[str, dict[str, Any]], Any]
_Undo = tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]


class Row(Mapping[str, Any]):
    """A stored record: every field of its object, defaults included, read-only.

    Holds the object's shared field-position map and one tuple of values instead of a dict per record (about a
    third of the memory: a 50,000-order org stays under 1 GB). Reads as a mapping in schema field order; writes go
    through the org, which replaces the row. ``dict(row)``, ``{**row}`` and ``row.copy()`` give a plain dict.
    """

    __slots__ = ("_slots", "_values")

    def __init__(self, slots: dict[str, int], values: tuple[Any, ...]) -> None:
        self._slots = slots
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[self._slots[key]]

    def get(self, key: str, default: Any = None) -> Any:
        index = self._slots.get(key)
        return default if index is None else self._values[index]

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def __iter__(self) -> Iterator[str]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._values)

    def items(self) -> ItemsView[str, Any]:
        return dict(zip(self._slots, self._values, strict=True)).items()

    def copy(self) -> dict[str, Any]:
        return dict(zip(self._slots, self._values, strict=True))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row) and other._slots is self._slots:
            return self._values == other._values
        if isinstance(other, Mapping):
            return self.copy() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __or__(self, other: Mapping[str, Any]) -> dict[str, Any]:
        return {**self, **other}

    def __repr__(self) -> str:
        return repr(self.copy())


def _freeze(obj: ObjectDef, row: dict[str, Any] | None) -> dict[str, Any] | None:
    """The compact stored form of ``row`` when it has exactly the object's fields (always, for org writes)."""
    if row is None or isinstance(row, Row) or len(row) != len(obj.slots) or not obj.slots.keys() == row.keys():
        return row
    return Row(obj.slots, tuple(map(row.__getitem__, obj.slots)))  # type: ignore[return-value]


def _thaw(row: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict copy of a stored row (C-speed for a Row)."""
    return row.copy() if isinstance(row, Row) else dict(row)


class _Tx:
    def __init__(self) -> None:
        self.undo: list[_Undo] = []
        self.events: list[tuple[str, dict[str, Any]]] = []


class Org:
    """The org: CRUD with Salesforce validation, formulas and FO status events; also the SOQL ``Resolver``."""

    def __init__(self, schema: Schema, clock: Callable[[], float] = time.time,
                 event_sink: EventSink | None = None) -> None:
        self.schema = schema
        self.clock = clock
        self.event_sink = event_sink
        self.ids = IdFactory()
        self.user_id = INTEGRATION_USER_ID
        self._live: dict[str, dict[str, Any]] = {}
        self._deleted: dict[str, dict[str, Any]] = {}
        self._by_obj: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in schema.objects}
        self._deleted_by_obj: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in schema.objects}
        # (child object, fk field) -> parent id -> the one child id, or an insertion-ordered dict of them once there
        # are two or more: most parents have a single child per relationship, and a bare id costs nothing extra
        self._children: dict[tuple[str, str], dict[str, str | dict[str, None]]] = {}
        self._unique: dict[tuple[str, str], dict[str, str]] = {}
        self._autonumbers: dict[str, int] = {}
        self._tx: _Tx | None = None
        self.cancel_status = "Cancelled"
        self.order_summary_flow = False  # org setting: a record-triggered flow creates the OrderSummary on activation

    # ----------------------------------------------------------------- transactions
    @contextmanager
    def atomic(self) -> Iterator[None]:
        """All writes inside commit together or not at all; FO events are published after the outermost commit."""
        outer = self._tx is None
        if outer:
            self._tx = _Tx()
        tx = self._tx
        assert tx is not None
        mark, event_mark = len(tx.undo), len(tx.events)
        try:
            yield
        except BaseException:
            while len(tx.undo) > mark:
                rid, sobject, live, deleted = tx.undo.pop()
                self._put(rid, sobject, live, deleted, log=False)
            del tx.events[event_mark:]
            if outer:
                self._tx = None
            raise
        if outer:
            self._tx = None
            for channel, payload in tx.events:
                if self.event_sink is not None:
                    self.event_sink(channel, payload)

    def emit(self, channel: str, payload: dict[str, Any]) -> None:
        """Queue an event for publication when the current transaction commits."""
        if self._tx is None:
            if self.event_sink is not None:
                self.event_sink(channel, payload)
        else:
            self._tx.events.append((channel, payload))

    # ----------------------------------------------------------------- low-level storage
    def _put(self, rid: str, sobject: str, live: dict[str, Any] | None, deleted: dict[str, Any] | None,
             log: bool = True) -> None:
        old_live, old_deleted = self._live.get(rid), self._deleted.get(rid)
        if log and self._tx is not None:
            self._tx.undo.append((rid, sobject, old_live, old_deleted))
        obj = self.schema.objects[sobject]
        live, deleted = _freeze(obj, live), _freeze(obj, deleted)
        if old_live is not None:
            self._unindex(obj, old_live)
            del self._live[rid]
            del self._by_obj[sobject][rid]
        if old_deleted is not None:
            del self._deleted[rid]
            del self._deleted_by_obj[sobject][rid]
        if live is not None:
            self._live[rid] = live
            self._by_obj[sobject][rid] = live
            self._index(obj, live)
        if deleted is not None:
            self._deleted[rid] = deleted
            self._deleted_by_obj[sobject][rid] = deleted

    def _index(self, obj: ObjectDef, row: dict[str, Any]) -> None:
        rid = row["Id"]
        for fname in obj.ref_fields:
            parent = row[fname]
            if parent:
                by_parent = self._children.setdefault(obj.child_keys[fname], {})
                current = by_parent.get(parent)
                if current is None:
                    by_parent[parent] = rid
                elif isinstance(current, str):
                    if current != rid:
                        by_parent[parent] = {current: None, rid: None}
                else:
                    current[rid] = None
        for fname in obj.unique_fields:
            if row[fname] is not None:
                self._unique.setdefault((obj.name, fname), {})[str(row[fname]).lower()] = rid

    def _unindex(self, obj: ObjectDef, row: dict[str, Any]) -> None:
        rid = row["Id"]
        for fname in obj.ref_fields:
            parent = row[fname]
            if parent:
                by_parent = self._children.get(obj.child_keys[fname], {})
                current = by_parent.get(parent)
                if current is None:
                    continue
                if isinstance(current, str):
                    if current == rid:
                        del by_parent[parent]
                else:
                    current.pop(rid, None)
                    if not current:
                        del by_parent[parent]
        for fname in obj.unique_fields:
            if row[fname] is not None:
                self._unique.get((obj.name, fname), {}).pop(str(row[fname]).lower(), None)

    def patch(self, rid: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Write already-valid values (formulas, system updates) without rules; returns the new row."""
        row = self._live[rid]
        new = _thaw(row)
        new.update(changes)
        self._put(rid, self.object_of(rid) or "", new, None)
        return new

    # ----------------------------------------------------------------- DML
    def next_autonumber(self, sobject: str, fname: str, prefix: str, width: int) -> str:
        key = f"{sobject}.{fname}"
        value = self._autonumbers.get(key, 100 if sobject == "Order" else 1)
        self._autonumbers[key] = value + 1
        return f"{prefix}{value:0{width}d}"

    def object_def(self, sobject: str) -> ObjectDef:
        obj = self.schema.get(sobject)
        if obj is None:
            raise not_found()
        return obj

    def _values(self, obj: ObjectDef, values: dict[str, Any], creating: bool, system: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key == "attributes":
                continue
            fdef = obj.field(key)
            if fdef is None:
                raise dml("INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", [key])
            if not system and not (fdef.createable if creating else fdef.updateable):
                if fdef.name == "Id" and not creating:
                    continue
                verb = "create/update"
                raise dml("INVALID_FIELD_FOR_INSERT_UPDATE",
                          f"Unable to {verb} fields: {fdef.name}. Please check the security settings of this field "
                          "and verify that it is read/write for your profile or permission set.", [fdef.name])
            stored = coerce(obj.name, fdef, value)
            if stored is not None and fdef.type == "reference" and fdef.name not in ("CreatedById",
                                                                                      "LastModifiedById"):
                self._check_reference(fdef.label, fdef.name, fdef.references, stored)
                stored = self._live[stored]["Id"]  # the target's own id string: one copy however many refer to it
            out[fdef.name] = stored
        return out

    def _check_reference(self, label: str, fname: str, targets: tuple[str, ...], rid: str) -> None:
        target = PREFIX_TO_OBJECT.get(rid[:3])
        if target not in targets:
            raise dml("FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {rid}", [fname])
        if rid not in self._live:
            raise dml("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fname])

    def _check_unique(self, obj: ObjectDef, row: dict[str, Any]) -> None:
        for fname in obj.unique_fields:
            value = row[fname]
            if value is None:
                continue
            other = self._unique.get((obj.name, fname), {}).get(str(value).lower())
            if other is not None and other != row["Id"]:
                raise dml("DUPLICATE_VALUE",
                          f"duplicate value found: {fname} duplicates value on record with id: {other}", [fname])

    def insert(self, sobject: str, values: dict[str, Any], *, system: bool = False) -> str:
        """Create a record; ``system`` lets the org itself write read-only fields and non-createable objects."""
        obj = self.object_def(sobject)
        if not obj.createable and not system:
            raise dml("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.label}")
        for key in values:
            if key.lower() == "id":
                raise dml("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])
        given = self._values(obj, values, True, system)
        row = {**obj.template, **given}
        now = timestamp(self.clock())
        rid = self.ids.next_id(obj.name)
        row.update(Id=rid, CreatedDate=now, LastModifiedDate=now, SystemModstamp=now, CreatedById=self.user_id,
                   LastModifiedById=self.user_id, IsDeleted=False)
        for fdef in obj.fields.values():
            if fdef.autonumber and row[fdef.name] is None:
                row[fdef.name] = self.next_autonumber(obj.name, fdef.name, *fdef.autonumber)
        with self.atomic():
            rules.before_insert(self, obj, row, system)
            missing = [f.name for f in obj.fields.values() if f.required and row[f.name] in (None, "")]
            if missing:
                raise dml("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
            self._check_unique(obj, row)
            self._put(rid, obj.name, row, None)
            rules.after_write(self, obj, None, row)
        return rid

    def live_row(self, rid: str, sobject: str | None = None) -> dict[str, Any]:
        """The live row for ``rid`` (15 or 18 chars) or the right Salesforce error."""
        full = to18(rid)
        expected = self.schema.get(sobject) if sobject else None
        if full is None or (expected is not None and full[:3] != expected.key_prefix):
            label = expected.name if expected else "Record"
            raise SfError(400, "MALFORMED_ID", f"{label} ID: id value of incorrect type: {rid}",
                          ["Id"])
        if full in self._deleted:
            raise SfError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        row = self._live.get(full)
        if row is None:
            raise not_found()
        return row

    def update(self, rid: str, values: dict[str, Any], *, sobject: str | None = None, system: bool = False) -> None:
        old = self.live_row(rid, sobject)
        obj = self.schema.objects[PREFIX_TO_OBJECT[old["Id"][:3]]]
        given = self._values(obj, values, False, system)
        new = _thaw(old)
        new.update(given)
        now = timestamp(self.clock())
        new.update(LastModifiedDate=now, SystemModstamp=now, LastModifiedById=self.user_id)
        with self.atomic():
            rules.before_update(self, obj, old, new, system)
            missing = [f.name for f in obj.fields.values() if f.required and new[f.name] in (None, "")]
            if missing:
                raise dml("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
            self._check_unique(obj, new)
            self._put(old["Id"], obj.name, new, None)
            rules.after_write(self, obj, old, new)

    def delete(self, rid: str, *, sobject: str | None = None) -> None:
        old = self.live_row(rid, sobject)
        obj = self.schema.objects[PREFIX_TO_OBJECT[old["Id"][:3]]]
        with self.atomic():
            self._put(old["Id"], obj.name, None, {**_thaw(old), "IsDeleted": True})
            rules.after_write(self, obj, old, None)

    # ----------------------------------------------------------------- reads
    def children(self, parent_id: str, child: str, fk: str) -> list[dict[str, Any]]:
        ids = self._children.get((child, fk), {}).get(parent_id)
        if ids is None:
            return []
        if isinstance(ids, str):
            return [self._live[ids]]
        return [self._live[i] for i in ids]

    def soql_children(self, sobject: str, fk_field: str, parent_id: str) -> list[dict[str, Any]]:
        """The SOQL resolver's indexed child lookup (a subquery per parent row without scanning the child object)."""
        canonical = self.schema.lower.get(sobject.lower(), sobject)
        obj = self.schema.get(canonical)
        fk = obj.lower.get(fk_field.lower(), fk_field) if obj else fk_field
        full = to18(parent_id) if isinstance(parent_id, str) else None
        return self.children(full, canonical, fk) if full else []

    def find(self, sobject: str, fname: str, value: Any) -> list[dict[str, Any]]:
        """Live rows of ``sobject`` whose ``fname`` equals ``value`` (case-insensitive for text)."""
        index = self._unique.get((sobject, fname))
        if index is not None:
            rid = index.get(str(value).lower())
            return [self._live[rid]] if rid else []
        needle = value.lower() if isinstance(value, str) else value
        return [row for row in self._by_obj[sobject].values()
                if (row[fname].lower() if isinstance(row[fname], str) else row[fname]) == needle]

    def count(self, sobject: str) -> int:
        return len(self._by_obj[sobject])

    # ----------------------------------------------------------------- soql.Resolver
    def has_object(self, sobject: str) -> bool:
        return self.schema.get(sobject) is not None

    def has_field(self, sobject: str, field: str) -> bool:
        obj = self.schema.get(sobject)
        return obj is not None and field.lower() in obj.lower

    def canonical_field(self, sobject: str, field: str) -> str:
        obj = self.schema.get(sobject)
        return obj.lower.get(field.lower(), field) if obj else field

    def lookup(self, sobject: str, relationship: str) -> tuple[str, str] | None:
        obj = self.schema.get(sobject)
        fdef = obj.relationships.get(relationship.lower()) if obj else None
        if fdef is None or fdef.references[0] not in self.schema.objects:
            return None
        return fdef.name, fdef.references[0]

    def child_relationship(self, sobject: str, name: str) -> tuple[str, str] | None:
        obj = self.schema.get(sobject)
        found = obj.children.get(name.lower()) if obj else None
        return (found[1], found[2]) if found else None

    def records(self, sobject: str) -> Iterable[dict[str, Any]]:
        canonical = self.schema.lower.get(sobject.lower())
        return self._by_obj[canonical].values() if canonical else ()

    def deleted_records(self, sobject: str) -> Iterable[dict[str, Any]]:
        canonical = self.schema.lower.get(sobject.lower())
        return self._deleted_by_obj[canonical].values() if canonical else ()

    def get(self, record_id: str) -> dict[str, Any] | None:
        full = to18(record_id) if len(record_id) == 15 else record_id
        return self._live.get(full or "")

    def live_or_deleted_id(self, record_id: str) -> str:
        """The 18-char id of a known record (live or deleted), else the input unchanged."""
        full = to18(record_id) or record_id
        return full if full in self._live or full in self._deleted else record_id

    def get_any(self, record_id: str) -> dict[str, Any] | None:
        return self._live.get(record_id) or self._deleted.get(record_id)

    def object_of(self, record_id: str) -> str | None:
        obj = PREFIX_TO_OBJECT.get(record_id[:3]) if isinstance(record_id, str) else None
        return obj if obj in self.schema.objects else None

    # ----------------------------------------------------------------- persistence
    def to_state(self) -> dict[str, Any]:
        return {"live": [dict(row) for row in self._live.values()],
                "deleted": [dict(row) for row in self._deleted.values()],
                "autonumbers": dict(self._autonumbers), "next_id": self.ids.position}

    def load_state(self, state: dict[str, Any]) -> None:
        for row in state.get("live", []):
            sobject = self.object_of(row["Id"])
            if sobject:
                self._put(row["Id"], sobject, {**self.schema.objects[sobject].template, **row}, None, log=False)
        for row in state.get("deleted", []):
            sobject = self.object_of(row["Id"])
            if sobject:
                self._put(row["Id"], sobject, None, row, log=False)
        self._autonumbers.update(state.get("autonumbers", {}))
        self.ids = IdFactory(int(state.get("next_id", 1)))


class AllRowsView:
    """Resolver over live and deleted rows (``queryAll``)."""

    def __init__(self, org: Org) -> None:
        self._org = org

    def __getattr__(self, name: str) -> Any:
        return getattr(self._org, name)

    def records(self, sobject: str) -> Iterable[dict[str, Any]]:
        return [*self._org.records(sobject), *self._org.deleted_records(sobject)]

    def get(self, record_id: str) -> dict[str, Any] | None:
        return self._org.get_any(record_id)
