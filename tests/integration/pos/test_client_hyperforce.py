"""PosClient in Hyperforce mode against the POS emulator, with a stand-in for the merchant's org."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from emulator.pos.app import RunningPos
from worker.config import PosConfig
from worker.errors import PermanentError
from worker.pos.client import PosClient

from .conftest import FAST_RETRY, FakeClock, Starter, fo_payload

MY_DOMAIN_CLIENT = ("eca-consumer-key", "eca-consumer-secret")


def hyperforce_config(pos_url: str, my_domain: str, **overrides: Any) -> PosConfig:
    raw: dict[str, Any] = {
        "environment": "Production",
        "base_url": pos_url,
        "token_url": my_domain,
        "merchant_id": "acme",
        "locale": "en-US",
        "region": "US",
        "rate_limit_per_second": 1000,
        "auth": {
            "mode": "hyperforce",
            "client_id": MY_DOMAIN_CLIENT[0],
            "client_secret": MY_DOMAIN_CLIENT[1],
        },
    }
    raw.update(overrides)
    return PosConfig.model_validate(raw)


class MyDomain:
    """``POST /services/oauth2/token`` of the merchant's org: checks the ECA client, mints a POS token."""

    def __init__(self, pos: RunningPos) -> None:
        self.pos, self.url, self.requests = pos, "", 0

    async def token(self, request: web.Request) -> web.Response:
        self.requests += 1
        form = await request.post()
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            cid, secret = str(form.get("client_id")), str(form.get("client_secret"))
        if form.get("grant_type") != "client_credentials" or (cid, secret) != MY_DOMAIN_CLIENT:
            return web.json_response(
                {"error": "invalid_client", "error_description": "invalid client"}, status=400
            )
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.pos.url}/__admin/hyperforce/token") as resp,
        ):
            minted = await resp.json()
        # Salesforce answers without expires_in; the JWT's exp claim is the only lifetime there is.
        return web.json_response(
            {
                "access_token": minted["access_token"],
                "token_type": "Bearer",
                "instance_url": self.url,
                "issued_at": minted["issued_at"],
            }
        )


@pytest.fixture
async def hyperforce(start_pos: Starter) -> AsyncIterator[tuple[RunningPos, MyDomain, FakeClock]]:
    clock = FakeClock()
    pos = await start_pos(auth_mode="hyperforce", rate_limit_per_second=0, clock=clock)
    domain = MyDomain(pos)
    app = web.Application()
    app.router.add_post("/services/oauth2/token", domain.token)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    domain.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield pos, domain, clock
    await runner.cleanup()


@pytest.mark.parametrize("where", [{}, {"environment": "Test", "salesforce_region": "us-east-2"}])
async def test_bearer_and_routing_headers_work(
    hyperforce, http: aiohttp.ClientSession, where: dict[str, str]
) -> None:
    """A My Domain token plus x-salesforce-region (the guide's, or the override), x-locale, x-region imports."""
    pos, domain, _ = hyperforce
    client = PosClient(hyperforce_config(pos.url, domain.url, **where), http, retry=FAST_RETRY)
    result = await client.import_fulfillment_order(fo_payload(1))
    assert result.created and result.pos_order_id == "FO-000001"
    assert domain.requests == 1 and pos.state.stats.unauthorized == 0


async def test_jwt_exp_schedules_refresh(hyperforce, http: aiohttp.ClientSession) -> None:
    """The JWT exp claim (no expires_in from Salesforce) makes the client refresh before the token dies."""
    pos, domain, clock = hyperforce
    client = PosClient(hyperforce_config(pos.url, domain.url), http, retry=FAST_RETRY, clock=clock)
    await client.ping()
    clock.now += 1790  # 30 min tokens: 10 s left, inside the refresh margin
    await client.ping()
    assert domain.requests == 2 and pos.state.stats.unauthorized == 0


async def test_revoked_bearer_refreshes_once(hyperforce, http: aiohttp.ClientSession) -> None:
    """A revoked bearer token gets one 401, one new token from My Domain, and the call succeeds."""
    pos, domain, _ = hyperforce
    client = PosClient(hyperforce_config(pos.url, domain.url), http, retry=FAST_RETRY)
    await client.ping()
    pos.state.tokens.revoke_all()
    await client.ping()
    assert domain.requests == 2 and pos.state.stats.unauthorized == 1


@pytest.mark.parametrize("override", [{"locale": "fr-FR"}, {"region": "EU"}, {"environment": "Test"}])
async def test_merchant_mismatch_is_permanent_403(
    hyperforce, http: aiohttp.ClientSession, override: dict[str, str]
) -> None:
    """x-locale/x-region of another merchant, or Test's us-west-2 for this us-east-2 one, is a permanent 403."""
    pos, domain, _ = hyperforce
    client = PosClient(hyperforce_config(pos.url, domain.url, **override), http, retry=FAST_RETRY)
    with pytest.raises(PermanentError) as caught:
        await client.ping()
    assert caught.value.status == 403 and caught.value.code == "MERCHANT_MISMATCH"
    assert domain.requests == 1


@pytest.mark.parametrize("missing", ["Authorization", "x-salesforce-region", "x-locale", "x-region"])
async def test_missing_hyperforce_header_is_401(
    hyperforce, http: aiohttp.ClientSession, missing: str
) -> None:
    """Each of the four Hyperforce headers is required: without it the call is 401 UNAUTHORIZED."""
    pos, domain, _ = hyperforce
    client = PosClient(hyperforce_config(pos.url, domain.url), http, retry=FAST_RETRY)
    headers = {**await client.auth.headers(), "Content-Type": "application/json"}
    url = f"{pos.url}/merchant/v1/fulfillmentorders/x"
    async with http.get(url, headers=headers) as resp:
        assert resp.status == 404
    del headers[missing]
    async with http.get(url, headers=headers) as resp:
        assert resp.status == 401 and (await resp.json())["errorCode"] == "UNAUTHORIZED"


async def test_legacy_token_endpoint_absent_in_hyperforce(hyperforce, http: aiohttp.ClientSession) -> None:
    """In Hyperforce mode the POS issues no tokens itself (they come from the Salesforce org)."""
    pos, _, _ = hyperforce
    async with http.post(f"{pos.url}/oauth2/token", data={"grant_type": "client_credentials"}) as resp:
        assert resp.status == 404


async def test_pluggable_validator(start_pos: Starter, http: aiohttp.ClientSession) -> None:
    """A custom validator decides which bearer tokens the emulator accepts (e.g. the SF emulator's)."""
    seen: list[str] = []

    async def validator(token: str) -> bool:
        seen.append(token)
        return token == "org-issued-token"

    pos = await start_pos(auth_mode="hyperforce", rate_limit_per_second=0, hyperforce_validator=validator)
    base = {
        "x-salesforce-region": "us-east-2",
        "x-locale": "en-US",
        "x-region": "US",
        "Content-Type": "application/json",
    }
    url = f"{pos.url}/merchant/v1/fulfillmentorders/x"
    async with http.get(url, headers={**base, "Authorization": "Bearer org-issued-token"}) as resp:
        assert resp.status == 404
    async with http.get(url, headers={**base, "Authorization": "Bearer something-else"}) as resp:
        assert resp.status == 401
    assert seen == ["org-issued-token", "something-else"]
