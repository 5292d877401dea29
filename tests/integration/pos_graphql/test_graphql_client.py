"""The GraphQL POS client against the emulator on loopback: OIDC discovery and token caching, the schema check
against a changed server, permission errors, and sale history as the worker reads it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from emulator.pos.app import STATE, RunningPos, start_pos_emulator
from emulator.pos.graphql.server import ISSUER, SDL_PATH
from emulator.pos.settings import PosEmulatorSettings
from worker.auth_hold import CredentialsRefused
from worker.config import PosConfig
from worker.errors import PermanentError
from worker.pos_graphql.client import GraphqlPos
from worker.pos_graphql.schema_check import SchemaMismatch
from worker.retry import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


class Clock:
    """Wall-clock seconds shared by the emulator and the client; moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_796_130_000.0

    def __call__(self) -> float:
        return self.now


def pos_config(url: str, *, client_id: str = "demo-gql-client", secret: str = "demo-gql-secret") -> PosConfig:
    return PosConfig.model_validate({
        "backend": "graphql", "merchant_id": "acme",
        "graphql": {"url": f"{url}/graphql", "issuer": f"{url}/oidc", "client_id": client_id,
                    "client_secret": secret, "timeout_seconds": 5},
    })


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def clock() -> Clock:
    return Clock()


@pytest.fixture
async def emulator(clock: Clock) -> AsyncIterator[RunningPos]:
    pos = await start_pos_emulator(PosEmulatorSettings(clock=clock, graphql_token_ttl_seconds=600))
    yield pos
    await pos.stop()


async def client_for(pos: RunningPos, http: aiohttp.ClientSession, clock: Clock, **kwargs: Any) -> GraphqlPos:
    return GraphqlPos(pos_config(pos.url, **kwargs), http, retry=FAST_RETRY, clock=clock)


async def test_discovery_finds_the_token_endpoint_and_concurrent_calls_share_one_token(
        emulator: RunningPos, http: aiohttp.ClientSession, clock: Clock) -> None:
    """The first calls discover the issuer once and fetch one token for ten concurrent requests."""
    gpos = await client_for(emulator, http, clock)
    try:
        await asyncio.gather(*(gpos.environment() for _ in range(10)))
        assert gpos.auth.token_endpoint == f"{emulator.url}/oidc/token"
        assert (gpos.auth.discoveries, gpos.auth.fetches) == (1, 1)
        assert emulator.runner.app[STATE].stats.requests == 10
    finally:
        await gpos.close()


async def test_the_token_is_refreshed_before_it_expires_and_after_the_server_forgets_it(
        emulator: RunningPos, http: aiohttp.ClientSession, clock: Clock) -> None:
    """A token is reused, refreshed half-way through its life, and refreshed once when the API rejects it."""
    gpos = await client_for(emulator, http, clock)
    try:
        await gpos.ping()
        clock.now += 250
        await gpos.ping()
        assert gpos.auth.fetches == 1
        clock.now += 100  # 350 s of a 600 s token: past half-way
        await gpos.ping()
        assert gpos.auth.fetches == 2
        emulator.runner.app[ISSUER].revoke_all()
        await asyncio.gather(*(gpos.ping() for _ in range(5)))
        assert gpos.auth.fetches == 3 and gpos.auth.discoveries == 1
    finally:
        await gpos.close()


async def test_refused_client_credentials_are_held_and_say_why(emulator: RunningPos, http: aiohttp.ClientSession,
                                                               clock: Clock) -> None:
    """A wrong secret is invalid_client (401): CredentialsRefused at once, then held without new token requests."""
    gpos = await client_for(emulator, http, clock, secret="wrong")
    try:
        with pytest.raises(CredentialsRefused) as caught:
            await gpos.ping()
        assert "invalid_client" in str(caught.value) or "client authentication failed" in str(caught.value)
        with pytest.raises(CredentialsRefused):
            await gpos.ping()
        issuer = emulator.runner.app[ISSUER]
        assert issuer.refused == 1 and gpos.auth.operator_required is not None
        assert "wrong" not in str(gpos.auth.operator_required)
    finally:
        await gpos.close()


async def test_a_client_without_the_role_gets_a_permission_error_naming_the_permission(
        emulator: RunningPos, http: aiohttp.ClientSession, clock: Clock) -> None:
    """A client without the role gets a permanent error naming sale:read; environment still answers."""
    gpos = await client_for(emulator, http, clock, client_id="demo-gql-norole")
    try:
        assert (await gpos.environment())["id"] == "acme"
        with pytest.raises(PermanentError) as caught:
            await gpos.sale_page(0, 1, 10, None)
        assert caught.value.code == "FORBIDDEN" and not caught.value.transient
        assert "lacks the permission sale:read (query sale)" in str(caught.value)
    finally:
        await gpos.close()


async def test_the_schema_check_passes_on_the_assumed_schema(emulator: RunningPos, http: aiohttp.ClientSession,
                                                             clock: Clock) -> None:
    """Introspecting the emulator's /graphql finds every type and field the worker's queries use."""
    gpos = await client_for(emulator, http, clock)
    try:
        await gpos.check_schema()
    finally:
        await gpos.close()


async def test_the_schema_check_names_a_field_the_server_removed(http: aiohttp.ClientSession, clock: Clock) -> None:
    """Against a server whose Sale has no modifiedAt the check fails with Sale.modifiedAt named, in one line."""
    sdl = SDL_PATH.read_text().replace("  modifiedAt: DateTime!\n", "")
    pos = await start_pos_emulator(PosEmulatorSettings(clock=clock, graphql_sdl=sdl))
    gpos = await client_for(pos, http, clock)
    try:
        with pytest.raises(SchemaMismatch) as caught:
            await gpos.check_schema()
        assert str(caught.value) == ("pos SCHEMA_MISMATCH: GraphQL schema mismatch: Sale.modifiedAt: no such field "
                                     "on the server (query SaleHistory)")
    finally:
        await gpos.close()
        await pos.stop()


async def test_sale_history_pages_by_keyset_cursor_over_a_since_until_window(
        emulator: RunningPos, http: aiohttp.ClientSession, clock: Clock) -> None:
    """Admin sales appear in sale(since, until) by modification time, paged by keyset cursor without loss."""
    state = emulator.runner.app[STATE]
    for n in range(5):
        clock.now += 1
        state.create_sale({"kind": "in_store", "tender": "cash" if n % 2 else "card", "store": "256"})
    start, end = int((clock.now - 10) * 1000), int((clock.now + 1) * 1000)
    gpos = await client_for(emulator, http, clock)
    try:
        seen: list[str] = []
        after = None
        while True:
            nodes, after, more = await gpos.sale_page(start, end, 2, after)
            seen += [n["id"] for n in nodes]
            if not more:
                break
        assert seen == [f"S-256-00000{n}" for n in range(1, 6)]
        clock.now += 5
        state.update_sale("S-256-000001", {"orderStatus": "VOIDED"})
        nodes, _, _ = await gpos.sale_page(int((clock.now - 1) * 1000), int((clock.now + 1) * 1000), 10, None)
        assert [(n["id"], n["status"]) for n in nodes] == [("S-256-000001", "VOIDED")]
        customer = await gpos.customer(str(nodes[0]["customerId"]))
        location = await gpos.location(str(nodes[0]["locationId"]))
        assert customer is not None and customer["email"] == "a@example.com"
        assert location is not None and location["code"] == "256"
    finally:
        await gpos.close()


async def test_sales_sharing_one_modification_time_page_without_loss_and_until_is_exclusive(
        emulator: RunningPos, http: aiohttp.ClientSession, clock: Clock) -> None:
    """Five sales stamped in the same millisecond page 2 at a time, each once; a sale at ``until`` is left out."""
    state = emulator.runner.app[STATE]
    for n in range(5):
        state.create_sale({"kind": "in_store", "tender": "cash" if n % 2 else "card", "store": "256"})
    stamped = int(clock.now * 1000)
    gpos = await client_for(emulator, http, clock)
    try:
        seen: list[str] = []
        after = None
        while True:
            nodes, after, more = await gpos.sale_page(stamped, stamped + 1, 2, after)
            seen += [n["id"] for n in nodes]
            if not more:
                break
        assert sorted(seen) == seen == [f"S-256-00000{n}" for n in range(1, 6)]
        nodes, _, more = await gpos.sale_page(stamped - 1000, stamped, 10, None)
        assert nodes == [] and not more  # [since, until): modified exactly at until belongs to the next window
    finally:
        await gpos.close()


async def test_a_secret_with_reserved_characters_logs_in_with_http_basic(http: aiohttp.ClientSession,
                                                                          clock: Clock) -> None:
    """client_secret_basic form-urlencodes id and secret (RFC 6749 §2.3.1): '+', ':', '%' and ' ' survive."""
    clients = {"id:with space": ("s3cr+t:50% off/é", ("integration",))}
    pos = await start_pos_emulator(PosEmulatorSettings(clock=clock, graphql_clients=clients))
    gpos = await client_for(pos, http, clock, client_id="id:with space", secret="s3cr+t:50% off/é")
    try:
        assert (await gpos.environment())["currency"] == "USD"
        assert (pos.runner.app[ISSUER].issued, pos.runner.app[ISSUER].refused) == (1, 0)
    finally:
        await gpos.close()
        await pos.stop()
