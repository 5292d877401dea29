"""The org-side interface the engine reads through, plus an adapter that fills in the optional parts.

Required by the contract: ``has_object``, ``has_field``, ``canonical_field``, ``lookup``,
``child_relationship``, ``records``, ``get``, ``object_of``. Optional, used when present:

- ``canonical_object(sobject) -> str`` (fallback: the type of a stored row, else the text as written);
- ``canonical_relationship(sobject, name) -> str`` (fallback: parent relationships derive from their
  foreign key, ``DeliveryMethodId`` -> ``DeliveryMethod``; child relationships keep the text as written);
- ``children(sobject, fk_field, parent_id) -> Iterable[row]`` with exactly those parameter names, or the same as
  ``soql_children`` when ``children`` means something else on the resolver (fallback: one pass over
  ``records(child)`` per query, grouped by the foreign key);
- ``field_type(sobject, field) -> str | None`` (``"string"``, ``"double"``, ``"datetime"``, ``"autonumber"``, ...;
  fallback: the emulator org's ``schema``; None means unknown, and unknown types pass every type rule);
- ``picklist_values(sobject, field) -> Sequence[str]`` in their defined order (fallback: the org's ``schema``),
  used by ``MIN``/``MAX`` on picklists.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from ..ids import to18

_CHILDREN_PARAMS = ("sobject", "fk_field", "parent_id")


class Resolver(Protocol):
    """Schema and rows of an org, as the SOQL engine needs them (all names case-insensitive)."""

    def has_object(self, sobject: str) -> bool: ...

    def has_field(self, sobject: str, field: str) -> bool: ...

    def canonical_field(self, sobject: str, field: str) -> str: ...

    def lookup(self, sobject: str, relationship: str) -> tuple[str, str] | None: ...

    def child_relationship(self, sobject: str, name: str) -> tuple[str, str] | None: ...

    def records(self, sobject: str) -> Iterable[dict[str, Any]]: ...

    def get(self, record_id: str) -> dict[str, Any] | None: ...

    def object_of(self, record_id: str) -> str | None: ...


def normalize_id(value: Any) -> str | None:
    """The 18-character form of a 15/18-character id, or None when ``value`` is not an id."""
    return to18(value) if isinstance(value, str) else None


def _indexed_children(resolver: Any) -> Callable[..., Iterable[dict[str, Any]]] | None:
    """The resolver's indexed child lookup (``soql_children`` or ``children`` with the contract's parameters)."""
    method = getattr(resolver, "soql_children", None) or getattr(resolver, "children", None)
    if method is None or not callable(method):
        return None
    try:
        params = tuple(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return None
    return method if params == _CHILDREN_PARAMS else None


class Access:
    """One query's view of a resolver: optional-method fallbacks, deleted-row filtering, child indexes."""

    def __init__(self, resolver: Resolver, include_deleted: bool) -> None:
        self.resolver = resolver
        self.include_deleted = include_deleted
        self._indexed_children = _indexed_children(resolver)
        self._child_index: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
        self._rows: dict[str, dict[str, Any] | None] = {}

    def alive(self, row: dict[str, Any]) -> bool:
        """Whether a row takes part in the query (deleted rows only with ``include_deleted``)."""
        return self.include_deleted or not row.get("IsDeleted")

    def canonical_object(self, sobject: str) -> str:
        """The object name with its canonical casing."""
        method = getattr(self.resolver, "canonical_object", None)
        if callable(method):
            return str(method(sobject))
        for row in self.resolver.records(sobject):
            found = self.resolver.object_of(str(row.get("Id", "")))
            if found and found.lower() == sobject.lower():
                return found
            break
        return sobject

    def parent_key(self, sobject: str, relationship: str, fk: str) -> str:
        """The JSON key of a parent relationship (canonical casing when it can be known)."""
        method = getattr(self.resolver, "canonical_relationship", None)
        if callable(method):
            return str(method(sobject, relationship))
        derived = fk[:-2] if fk.endswith("Id") else fk[:-3] + "__r" if fk.endswith("__c") else fk
        return derived if derived.lower() == relationship.lower() else relationship

    def _field_def(self, sobject: str, field: str) -> Any:
        schema = getattr(self.resolver, "schema", None)
        getter = getattr(schema, "get", None)
        obj = getter(sobject) if callable(getter) else None
        finder = getattr(obj, "field", None)
        return finder(field) if callable(finder) else None

    def field_type(self, sobject: str, field: str) -> str | None:
        """The field's data type (``"autonumber"`` for auto-number text), or None when the resolver can't say."""
        method = getattr(self.resolver, "field_type", None)
        if callable(method):
            found = method(sobject, field)
            return None if found is None else str(found)
        fdef = self._field_def(sobject, field)
        if fdef is None:
            return None
        return "autonumber" if getattr(fdef, "autonumber", None) else str(getattr(fdef, "type", "")) or None

    def picklist_values(self, sobject: str, field: str) -> Sequence[str]:
        """A picklist's values in their defined order (empty when not a picklist or unknown)."""
        method = getattr(self.resolver, "picklist_values", None)
        if callable(method):
            return tuple(method(sobject, field) or ())
        fdef = self._field_def(sobject, field)
        return tuple(getattr(fdef, "picklist", ()) or ()) if fdef is not None else ()

    def child_key(self, sobject: str, relationship: str) -> str:
        """The JSON key of a child relationship (canonical casing when the resolver offers it)."""
        method = getattr(self.resolver, "canonical_relationship", None)
        return str(method(sobject, relationship)) if callable(method) else relationship

    def get(self, record_id: Any) -> dict[str, Any] | None:
        """A row by id (any object), or None for a null, malformed or unknown id (memoised per query)."""
        full = normalize_id(record_id)
        if full is None:
            return None
        if full not in self._rows:
            self._rows[full] = self.resolver.get(full)
        return self._rows[full]

    def record_type(self, row: dict[str, Any], fallback: str) -> str:
        """The object a row belongs to (polymorphic lookups), ``fallback`` when the id says nothing."""
        found = self.resolver.object_of(str(row.get("Id", "")))
        return found or fallback

    def scan(self, sobject: str) -> Iterable[dict[str, Any]]:
        """Every live (or, with ``include_deleted``, every) row of an object."""
        return (row for row in self.resolver.records(sobject) if self.alive(row))

    def children(self, child: str, fk: str, parent_id: str) -> list[dict[str, Any]]:
        """Rows of ``child`` whose ``fk`` points at ``parent_id``."""
        if self._indexed_children is not None:
            rows = self._indexed_children(sobject=child, fk_field=fk, parent_id=parent_id)
            return [row for row in rows if self.alive(row)]
        index = self._child_index.get((child, fk))
        if index is None:
            index = defaultdict(list)
            for row in self.scan(child):
                key = normalize_id(row.get(fk))
                if key is not None:
                    index[key].append(row)
            self._child_index[(child, fk)] = index
        return index.get(normalize_id(parent_id) or "", [])
