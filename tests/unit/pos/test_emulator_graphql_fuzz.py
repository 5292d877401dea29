"""Hypothesis at the emulated GraphQL POS edge: any sale(since, until, first, after) arguments give sales or a
BAD_USER_INPUT error naming the argument, never an unexpected exception."""

from __future__ import annotations

from typing import Any

from ariadne import make_executable_schema
from graphql import graphql_sync
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.pos.graphql.resolvers import ROLES, GraphqlBook, bindables
from emulator.pos.graphql.server import SDL_PATH
from emulator.pos.settings import PosEmulatorSettings
from emulator.pos.state import PosState

STATE = PosState(PosEmulatorSettings())
for _ in range(3):
    STATE.create_sale({"kind": "in_store", "tender": "card", "store": "256"})
SCHEMA = make_executable_schema(SDL_PATH.read_text(), *bindables(STATE, GraphqlBook()))
QUERY = "query($s: DateTime!, $u: DateTime!, $f: Int, $a: String) { sale(since: $s, until: $u, first: $f, after: $a) " \
        "{ nodes { id modifiedAt } pageInfo { hasNextPage endCursor } } }"
INSTANT = st.one_of(st.just("2000-01-01T00:00:00.000Z"), st.just("2100-01-01T00:00:00.000Z"), st.text(max_size=30))


@settings(max_examples=300, deadline=None)
@given(since=INSTANT, until=INSTANT, first=st.one_of(st.none(), st.integers(-5, 600)),
       after=st.one_of(st.none(), st.text(max_size=20)))
def test_any_sale_arguments_answer_sales_or_bad_user_input(since: str, until: str, first: int | None,
                                                           after: str | None) -> None:
    """Every error sale() raises carries extensions.code BAD_USER_INPUT and the argument it concerns."""
    variables: dict[str, Any] = {"s": since, "u": until, "f": first, "a": after}
    result = graphql_sync(SCHEMA, QUERY, variable_values=variables,
                          context_value={"permissions": ROLES["integration"], "client_id": "t"})
    for error in result.errors or []:
        assert (error.extensions or {}).get("code") == "BAD_USER_INPUT", error.message
        assert (error.extensions or {}).get("argument") in ("since", "until", "first", "after")
    if not result.errors:
        assert result.data is not None and len(result.data["sale"]["nodes"]) <= (first or 50)
