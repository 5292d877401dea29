"""GraphQL errors -> the worker's error tree, and the schema check of the worker's queries (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import build_schema, graphql_sync

from emulator.pos.graphql.server import SDL_PATH
from worker.errors import AuthenticationError, LimitExceeded, PermanentError, TransientError, graphql_error
from worker.pos_graphql.schema_check import INTROSPECTION, SchemaMismatch, check_schema, schema_problems


def gql_error(code: str | None, **extensions: Any) -> dict[str, Any]:
    ext = {"code": code, **extensions} if code else {}
    return {"message": f"{code} happened", "path": ["sale"], "extensions": ext}


@pytest.mark.parametrize(("errors", "status", "kind", "transient"), [
    ([gql_error("FORBIDDEN", permission="sale:read")], None, PermanentError, False),
    ([gql_error("UNAUTHENTICATED")], 401, AuthenticationError, False),
    ([], 401, AuthenticationError, False),
    ([gql_error("RATE_LIMITED")], 429, LimitExceeded, True),
    ([], 429, LimitExceeded, True),
    ([gql_error("SERVICE_UNAVAILABLE")], None, TransientError, True),
    ([gql_error("INTERNAL_SERVER_ERROR")], None, TransientError, True),
    ([], 503, TransientError, True),
    ([gql_error("BAD_USER_INPUT", argument="since")], None, PermanentError, False),
    ([{"message": "Cannot query field 'x' on type 'Sale'."}], 400, PermanentError, False),
])
def test_graphql_errors_map_to_the_error_tree(errors: list[dict[str, Any]], status: int | None, kind: type,
                                              transient: bool) -> None:
    """Each extensions.code / HTTP status lands on its kind of error and retry verdict."""
    error = graphql_error(errors, status=status)
    assert type(error) is kind and error.transient is transient and error.service == "pos"


def test_a_permission_error_is_permanent_and_names_the_missing_permission() -> None:
    """FORBIDDEN anywhere in errors wins, and the message names the permission and the query."""
    error = graphql_error([gql_error("BAD_USER_INPUT"), gql_error("FORBIDDEN", permission="customer:read")])
    assert error.code == "FORBIDDEN" and not error.transient
    assert "lacks the permission customer:read (query sale)" in str(error)


def test_rate_limit_keeps_the_retry_after_hint() -> None:
    """A RATE_LIMITED answer carries Retry-After so the retry waits at least that long."""
    assert graphql_error([gql_error("RATE_LIMITED")], retry_after=7.0).retry_after == 7.0


def introspect(sdl: str) -> dict[str, Any]:
    result = graphql_sync(build_schema(sdl), INTROSPECTION)
    assert result.errors is None and result.data is not None
    return result.data


def test_the_assumed_schema_satisfies_every_worker_query() -> None:
    """The SDL file the emulator serves validates every document the worker sends."""
    assert schema_problems(introspect(SDL_PATH.read_text())) == []


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("  modifiedAt: DateTime!\n", "", "Sale.modifiedAt: no such field on the server (query SaleHistory)"),
    ("  code: String!\n", "", "Location.code: no such field on the server (query Location)"),
    ("first: Int = 50, ", "", "Query.sale: has no argument first on the server (query SaleHistory)"),
    ("  customer(id: ID!): Customer\n", "", "Query.customer: no such field on the server (query Customer)"),
    ("DateTime", "Instant", "DateTime: no such type on the server (query SaleHistory)"),
])
def test_a_changed_server_schema_is_named_by_type_and_field(old: str, new: str, problem: str) -> None:
    """A field, argument or type the worker's queries use but the server lacks is one line naming it."""
    sdl = SDL_PATH.read_text()
    assert old in sdl
    changed = sdl.replace(old, new)
    assert problem in schema_problems(introspect(changed))
    with pytest.raises(SchemaMismatch) as caught:
        check_schema(introspect(changed))
    assert "GraphQL schema mismatch: " in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("  quantity: Int!\n", "  quantity: Float!\n",
     "SaleLine.quantity: is Float on the server, the worker reads Int (query SaleHistory)"),
    ("  modifiedAt: DateTime!\n", "  modifiedAt: String!\n",
     "Sale.modifiedAt: is String on the server, the worker reads DateTime (query SaleHistory)"),
    ("  approved: Boolean!\n", "  approved: String\n",
     "SalePayment.approved: is String on the server, the worker reads Boolean (query SaleHistory)"),
    ("field).\"\n  code: String!\n", "field).\"\n  code: Int!\n",
     "Location.code: is Int on the server, the worker reads an ID or String (query Location)"),
])
def test_a_field_whose_type_changed_is_named_with_both_types(old: str, new: str, problem: str) -> None:
    """A leaf the worker reads whose server type differs (validation alone accepts it) is named with both types."""
    sdl = SDL_PATH.read_text()
    assert sdl.count(old) == 1
    assert schema_problems(introspect(sdl.replace(old, new))) == [problem]


def test_the_assumed_schema_offers_exactly_the_supported_integration_endpoints() -> None:
    """The SDL's root fields are the vendor's supported queries and mutations, no more, and it says it is assumed."""
    schema = build_schema(SDL_PATH.read_text())
    assert schema.query_type is not None and schema.mutation_type is not None
    assert set(schema.query_type.fields) == {
        "customer", "environment", "giftcard", "item", "itemSerialLot", "itemWarehouse", "location", "product",
        "productBanner", "productGroup", "productNotice", "productSection", "productSortOption", "sale"}
    assert set(schema.mutation_type.fields) == {
        "giftcardAdd", "giftcardEdit", "giftcardTransAdd", "giftcardTransCapture", "purchaseAdd"}
    assert SDL_PATH.read_text().startswith("# ASSUMED SCHEMA")
