"""The worker's queries against the server's schema (introspection): no public SDL exists, so the worker finds
out at start (and in ``check-config --live``) whether the real server agrees with the fields it assumes.

Pure: the introspection answer in, one ``Type.field: reason`` line per problem out. graphql-core's own
validation does the work (unknown types, fields and arguments, wrong argument types), and the problem is
restated with the type and field it concerns. Validation accepts a field whose type changed (an ``Int``
quantity turned ``Float``, a ``DateTime`` turned ``String``), which the mapping would then refuse sale by sale;
so every leaf the documents select is also compared with :data:`.queries.LEAF_TYPES`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
    visit,
)

from worker.errors import PermanentError

from .queries import DOCUMENTS, LEAF_TYPES, STRING_LEAVES

INTROSPECTION = get_introspection_query(descriptions=False)
_FIELD = re.compile(r"Cannot query field '(?P<field>\w+)' on type '(?P<type>\w+)'")
_ARG = re.compile(r"Unknown argument '(?P<arg>\w+)' on field '(?P<type>\w+)\.(?P<field>\w+)'")
_TYPE = re.compile(r"Unknown type '(?P<type>\w+)'")


class SchemaMismatch(PermanentError):
    """The server's schema lacks a type, field or argument the worker's queries use."""


def _restate(operation: str, error: GraphQLError) -> str:
    text = error.message.split(" Did you mean")[0]
    if match := _FIELD.search(text):
        return f"{match['type']}.{match['field']}: no such field on the server (query {operation})"
    if match := _ARG.search(text):
        return f"{match['type']}.{match['field']}: has no argument {match['arg']} on the server (query {operation})"
    if match := _TYPE.search(text):
        return f"{match['type']}: no such type on the server (query {operation})"
    return f"query {operation}: {text}"


def schema_problems(introspection: Mapping[str, Any]) -> list[str]:
    """Every way the worker's documents do not fit the introspected schema (empty: they all validate)."""
    try:
        schema = build_client_schema(dict(introspection))  # type: ignore[arg-type]
    except (TypeError, KeyError, ValueError, GraphQLError) as exc:
        return [f"(schema): the introspection answer is not a schema ({type(exc).__name__}: {exc})"]
    found: list[str] = []
    for operation, document in DOCUMENTS.items():
        errors = validate(schema, parse(document))
        found += [_restate(operation, error) for error in errors]
        if not errors:
            found += _leaf_problems(schema, operation, document)
    return list(dict.fromkeys(found))


def _leaf_problems(schema: GraphQLSchema, operation: str, document: str) -> list[str]:
    """Each selected leaf whose server type is not the one the worker reads (a validated document)."""
    expected, info, path, found = LEAF_TYPES.get(operation, {}), TypeInfo(schema), [], []

    class Leaves(Visitor):
        def enter_field(self, node: Any, *_: Any) -> None:
            path.append(node.name.value)
            parent, definition = info.get_parent_type(), info.get_field_def()
            named = get_named_type(definition.type) if definition is not None else None
            if parent is None or named is None or not is_leaf_type(named):
                return
            kind = "enum" if isinstance(named, GraphQLEnumType) else named.name
            want = expected.get(".".join(path))
            if (kind != want) if want is not None else (kind not in STRING_LEAVES):
                found.append(f"{parent.name}.{node.name.value}: is {named.name} on the server, the worker reads "
                             f"{want or 'an ID or String'} (query {operation})")

        def leave_field(self, *_: Any) -> None:
            path.pop()

    visit(parse(document), TypeInfoVisitor(info, Leaves()))
    return found


def check_schema(introspection: Mapping[str, Any]) -> None:
    """Raise :class:`SchemaMismatch` naming the first type and field that differ (and how many more do)."""
    found = schema_problems(introspection)
    if found:
        more = f" (and {len(found) - 1} more: {'; '.join(found[1:4])})" if len(found) > 1 else ""
        raise SchemaMismatch("pos", f"GraphQL schema mismatch: {found[0]}{more}", code="SCHEMA_MISMATCH")
