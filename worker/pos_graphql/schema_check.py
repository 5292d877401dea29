"""The worker's queries against the server's schema (introspection): no public SDL exists, so the worker finds
out at start (and in ``check-config --live``) whether the real server agrees with the fields it assumes.

Pure: the introspection answer in, one ``Type.field: reason`` line per problem out. graphql-core's own
validation does the work (unknown types, fields and arguments, wrong argument types), and the problem is
restated with the type and field it concerns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError, build_client_schema, get_introspection_query, parse, validate

from worker.errors import PermanentError

from .queries import DOCUMENTS

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
        found += [_restate(operation, error) for error in validate(schema, parse(document))]
    return list(dict.fromkeys(found))


def check_schema(introspection: Mapping[str, Any]) -> None:
    """Raise :class:`SchemaMismatch` naming the first type and field that differ (and how many more do)."""
    found = schema_problems(introspection)
    if found:
        more = f" (and {len(found) - 1} more: {'; '.join(found[1:4])})" if len(found) > 1 else ""
        raise SchemaMismatch("pos", f"GraphQL schema mismatch: {found[0]}{more}", code="SCHEMA_MISMATCH")
