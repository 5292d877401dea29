"""The GraphQL client's transport edge against a scripted server: what is retried, what is not, and the
emulator's OIDC answers (RFC 6749 §5.1/§5.2, OIDC discovery)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from emulator.pos.app import RunningPos, start_pos_emulator
from worker.config import PosConfig
from worker.errors import OutcomeUnknown, PermanentError, TransientError
from worker.pos_graphql.client import GraphqlPos
from worker.retry import RetryPolicy

ENV = {"data": {"environment": {"id": "m", "name": "n", "apiVersion": "1", "currency": "USD", "timezone": "UTC"}}}


class Scripted:
    """An OIDC issuer and /graphql answering ``script`` in order (then ENV): (status, body, headers)."""

    def __init__(self, script: list[tuple[int, Any, dict[str, str]]]) -> None:
        self.script, self.calls = script, 0

    def app(self) -> web.Application:
        async def discovery(request: web.Request) -> web.Response:
            base = f"{request.url.origin()}/oidc"
            return web.json_response({"issuer": base, "token_endpoint": f"{base}/token"})

        async def token(_: web.Request) -> web.Response:
            return web.json_response({"access_token": "t", "token_type": "Bearer", "expires_in": 3600})

        async def graphql(_: web.Request) -> web.Response:
            self.calls += 1
            if self.script:
                status, body, headers = self.script.pop(0)
                if isinstance(body, str):
                    return web.Response(status=status, text=body, headers=headers)
                return web.json_response(body, status=status, headers=headers)
            return web.json_response(ENV)

        app = web.Application()
        app.router.add_get("/oidc/.well-known/openid-configuration", discovery)
        app.router.add_post("/oidc/token", token)
        app.router.add_post("/graphql", graphql)
        return app


PURCHASE = "mutation PurchaseAdd { purchaseAdd(input: {reference: \"R1\", total: \"1.00\"}) { id } }"


async def run_client(script: list[tuple[int, Any, dict[str, str]]],
                     document: str | None = None) -> tuple[Scripted, Any]:
    server = Scripted(script)
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    config = PosConfig.model_validate({"backend": "graphql", "merchant_id": "m", "graphql": {
        "url": f"{url}/graphql", "issuer": f"{url}/oidc", "client_id": "c", "client_secret": "s"}})
    async with aiohttp.ClientSession() as http:
        gpos = GraphqlPos(config, http, retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05))
        try:
            if document is not None:
                return server, await gpos._request(document, "PurchaseAdd")
            return server, await gpos.environment()
        except Exception as exc:
            return server, exc
        finally:
            await gpos.close()
            await runner.cleanup()


@pytest.mark.parametrize("answer", [
    (503, "<html>bad gateway</html>", {}),
    (429, {"errors": [{"message": "slow down", "extensions": {"code": "RATE_LIMITED"}}]}, {"Retry-After": "0"}),
    (200, {"data": None, "errors": [{"message": "x", "extensions": {"code": "SERVICE_UNAVAILABLE"}}]}, {}),
    (200, "not json", {}),
])
async def test_transient_answers_are_retried_and_the_session_survives(answer: tuple[int, Any, dict[str, str]]) -> None:
    """A 5xx page, RATE_LIMITED, SERVICE_UNAVAILABLE and a non-GraphQL answer are retried; the next try works."""
    server, result = await run_client([answer])
    assert result == ENV["data"]["environment"] and server.calls == 2


async def test_permanent_answers_are_not_retried() -> None:
    """A BAD_USER_INPUT error is raised after one request, as a PermanentError with the server's message."""
    server, result = await run_client([(200, {"data": None, "errors": [
        {"message": "first: expected 1..500", "path": ["sale"], "extensions": {"code": "BAD_USER_INPUT"}}]}, {})])
    assert isinstance(result, PermanentError) and server.calls == 1
    assert "first: expected 1..500 (at sale)" in str(result)


async def test_an_outage_that_outlasts_the_retries_is_transient() -> None:
    """Three 502 pages in a row end as a TransientError (the poll loop backs off and tries again later)."""
    server, result = await run_client([(502, "down", {})] * 3)
    assert isinstance(result, TransientError) and server.calls == 3


@pytest.mark.parametrize("answer", [
    (503, "<html>bad gateway</html>", {}),
    (200, "not json", {}),
])
async def test_a_mutation_without_a_graphql_answer_is_outcome_unknown_and_never_resent(
        answer: tuple[int, Any, dict[str, str]]) -> None:
    """A mutation answered by a 5xx page or non-GraphQL text may have run: OutcomeUnknown after one request."""
    server, result = await run_client([answer], PURCHASE)
    assert isinstance(result, OutcomeUnknown) and server.calls == 1
    assert "mutation PurchaseAdd sent but no GraphQL answer" in str(result)


async def test_a_mutation_the_server_refused_before_running_is_retried() -> None:
    """RATE_LIMITED (429) and SERVICE_UNAVAILABLE in a GraphQL answer say it did not run: the mutation is resent."""
    server, result = await run_client([
        (429, {"errors": [{"message": "slow down", "extensions": {"code": "RATE_LIMITED"}}]}, {"Retry-After": "0"}),
        (200, {"data": None, "errors": [{"message": "x", "extensions": {"code": "SERVICE_UNAVAILABLE"}}]}, {}),
        (200, {"data": {"purchaseAdd": {"id": "P-1"}}}, {})], PURCHASE)
    assert result == {"purchaseAdd": {"id": "P-1"}} and server.calls == 3


@pytest.fixture
async def emulator() -> AsyncIterator[RunningPos]:
    pos = await start_pos_emulator()
    yield pos
    await pos.stop()


@pytest.mark.parametrize(("form", "basic", "status", "error"), [
    ({"grant_type": "client_credentials"}, ("demo-gql-client", "nope"), 401, "invalid_client"),
    ({"grant_type": "client_credentials", "client_id": "ghost", "client_secret": "x"}, None, 401, "invalid_client"),
    ({"grant_type": "password"}, ("demo-gql-client", "demo-gql-secret"), 400, "unsupported_grant_type"),
    ({}, ("demo-gql-client", "demo-gql-secret"), 400, "invalid_request"),
])
async def test_the_emulated_token_endpoint_answers_rfc_6749_errors(emulator: RunningPos, form: dict[str, str],
                                                                   basic: tuple[str, str] | None, status: int,
                                                                   error: str) -> None:
    """The emulated token endpoint answers RFC 6749 §5.2 errors (401 invalid_client, 400 others), no-store."""
    headers = {}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(basic).encode()).decode()
    async with aiohttp.ClientSession() as http, http.post(f"{emulator.url}/oidc/token", data=form,
                                                          headers=headers) as resp:
        body = await resp.json()
        assert (resp.status, body["error"]) == (status, error) and body["error_description"]
        assert resp.headers["Cache-Control"] == "no-store"
        assert ("WWW-Authenticate" in resp.headers) == (status == 401 and basic is not None)


async def test_the_emulated_issuer_is_discoverable_and_grants_client_credentials(emulator: RunningPos) -> None:
    """Discovery names the issuer itself and a token endpoint that issues a Bearer token with expires_in."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{emulator.url}/oidc/.well-known/openid-configuration") as resp:
            meta = await resp.json()
        assert meta["issuer"] == f"{emulator.url}/oidc" and "client_credentials" in meta["grant_types_supported"]
        async with http.post(meta["token_endpoint"], data={"grant_type": "client_credentials",
                                                           "client_id": "demo-gql-client",
                                                           "client_secret": "demo-gql-secret"}) as resp:
            token = await resp.json()
        assert resp.status == 200 and token["token_type"] == "Bearer" and token["expires_in"] > 0
        async with http.post(f"{emulator.url}/graphql", json={"query": "{ environment { id } }"},
                             headers={"Authorization": "Bearer nope"}) as resp:
            assert resp.status == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
            assert (await resp.json())["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
