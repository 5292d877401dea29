"""POS token: refused client credentials need an operator; token requests stop (bounded) rather than repeat per call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web

from worker.auth_hold import OPERATOR_HOLD_SECONDS, OPERATOR_MAX_REFUSALS
from worker.config import PosConfig
from worker.errors import AuthenticationError, TransientError
from worker.flows.runner import classify
from worker.pos.client import PosClient
from worker.retry import RetryPolicy

from .conftest import FakeClock

NO_RETRY = RetryPolicy(attempts=1)
SECRET = "pos-client-secret-31337"
REFUSED = (401, {"error": "invalid_client", "error_description": "Invalid client credentials"})


@dataclass
class FakePos:
    """A token endpoint (legacy and My Domain paths) that answers as scripted, and a POS API that answers 404."""

    url: str = ""
    token_replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # one per request, then 200
    token_requests: int = 0
    api_requests: int = 0


@pytest.fixture
async def fake_pos() -> AsyncIterator[FakePos]:
    fake = FakePos()

    async def token(_: web.Request) -> web.Response:
        fake.token_requests += 1
        status, body = fake.token_replies.pop(0) if fake.token_replies else (
            200, {"access_token": f"tok-{fake.token_requests}", "expired_in": 3600})
        return web.json_response(body, status=status)

    async def api(_: web.Request) -> web.Response:
        fake.api_requests += 1
        return web.json_response({"errorCode": "NOT_FOUND", "errorMessage": "no such order"}, status=404)

    app = web.Application()
    app.router.add_post("/oauth2/token", token)
    app.router.add_post("/services/oauth2/token", token)
    app.router.add_get("/merchant/v1/fulfillmentorders/{order_id}", api)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield fake
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def config(fake: FakePos, mode: str) -> PosConfig:
    auth: dict[str, Any] = {"mode": mode, "client_id": "pos-client", "client_secret": SECRET}
    if mode == "legacy":
        auth |= {"pos_secret": "hdr-secret", "api_key": "hdr-key"}
    return PosConfig.model_validate({
        "environment": "Test", "base_url": fake.url, "merchant_id": "acme", "rate_limit_per_second": 1000,
        "token_url": f"{fake.url}/oauth2/token" if mode == "legacy" else fake.url, "auth": auth,
    })


def client(fake: FakePos, http: aiohttp.ClientSession, clock: FakeClock, mode: str = "legacy") -> PosClient:
    return PosClient(config(fake, mode), http, retry=NO_RETRY, clock=clock)


@pytest.mark.parametrize("mode", ["legacy", "hyperforce"])
@pytest.mark.parametrize(("status", "code"), [(401, "invalid_client"), (400, "invalid_grant"), (403, "inactive_org")])
async def test_a_refusal_is_sent_once_then_held(fake_pos: FakePos, http: aiohttp.ClientSession, mode: str,
                                                status: int, code: str) -> None:
    """After one refused token request, later POS calls raise at once without a token or API request; one log."""
    fake_pos.token_replies.extend([(status, {"error": code, "error_description": "refused"})] * 5)
    pos = client(fake_pos, http, FakeClock(), mode)
    assert pos.auth.operator_required is None
    with structlog.testing.capture_logs() as logs:
        for _ in range(5):
            with pytest.raises(AuthenticationError) as caught:
                await pos.ping()
            assert caught.value.code == code and caught.value.service == "pos"
    assert (fake_pos.token_requests, fake_pos.api_requests) == (1, 0)
    reason = pos.auth.operator_required
    assert reason is not None and code in reason and "next token request at" in reason
    events = [e for e in logs if e["event"] == "pos_auth_needs_operator"]
    assert len(events) == 1 and events[0]["code"] == code and events[0]["mode"] == mode
    assert SECRET not in repr(logs) + reason + str(caught.value)


async def test_concurrent_calls_after_a_refusal_send_one_token_request(fake_pos: FakePos,
                                                                        http: aiohttp.ClientSession) -> None:
    """Callers queued behind the refused token request do not send one each (they see the hold)."""
    fake_pos.token_replies.extend([REFUSED] * 20)
    pos = client(fake_pos, http, FakeClock())
    results = await asyncio.gather(*(pos.ping() for _ in range(20)), return_exceptions=True)
    assert all(isinstance(r, AuthenticationError) for r in results)
    assert fake_pos.token_requests == 1


async def test_attempts_are_bounded_then_wait_for_a_restart(fake_pos: FakePos, http: aiohttp.ClientSession) -> None:
    """One token request per hold period, at most OPERATOR_MAX_REFUSALS in all; then none until restart."""
    fake_pos.token_replies.extend([REFUSED] * 10)
    clock = FakeClock()
    pos = client(fake_pos, http, clock)
    for _ in range(OPERATOR_MAX_REFUSALS + 3):
        for _ in range(3):
            with pytest.raises(AuthenticationError):
                await pos.ping()
        clock.now += OPERATOR_HOLD_SECONDS
    assert fake_pos.token_requests == OPERATOR_MAX_REFUSALS
    assert pos.auth.operator_required is not None and "restart" in pos.auth.operator_required


async def test_a_later_success_clears_the_operator_state(fake_pos: FakePos, http: aiohttp.ClientSession) -> None:
    """When the token request after the hold succeeds, operator_required is None again and calls go through."""
    fake_pos.token_replies.append(REFUSED)
    clock = FakeClock()
    pos = client(fake_pos, http, clock)
    with pytest.raises(AuthenticationError):
        await pos.ping()
    clock.now += OPERATOR_HOLD_SECONDS
    await pos.ping()
    assert pos.auth.operator_required is None
    assert (fake_pos.token_requests, fake_pos.api_requests) == (2, 1)


async def test_a_held_refusal_pauses_outbound_work(fake_pos: FakePos, http: aiohttp.ClientSession) -> None:
    """The refusal a queue handler sees pauses outbound work (runner 'limit') instead of burning job attempts."""
    fake_pos.token_replies.extend([REFUSED] * 2)
    pos = client(fake_pos, http, FakeClock())
    for _ in range(2):  # the refusal itself, then the held one
        with pytest.raises(AuthenticationError) as caught:
            await pos.ping()
        assert classify(caught.value) == "limit"
        assert caught.value.retry_after == OPERATOR_HOLD_SECONDS


@pytest.mark.parametrize("status", [500, 503, 429, 408])
async def test_busy_or_failing_token_endpoints_do_not_need_an_operator(fake_pos: FakePos,
                                                                        http: aiohttp.ClientSession,
                                                                        status: int) -> None:
    """5xx, 429 and 408 answers stay transient: no operator state, the next call tries again."""
    fake_pos.token_replies.append((status, {"error": "server_error"}))
    pos = client(fake_pos, http, FakeClock())
    with pytest.raises(TransientError) as caught:
        await pos.ping()
    assert classify(caught.value) != "limit" or status == 429
    assert pos.auth.operator_required is None
    await pos.ping()
    assert fake_pos.token_requests == 2


async def test_a_retrying_client_gives_up_at_once_on_refused_credentials(fake_pos: FakePos,
                                                                          http: aiohttp.ClientSession) -> None:
    """The client's in-call retries (the app's http_attempts) neither wait nor retry a refusal, held or new."""
    fake_pos.token_replies.extend([REFUSED] * 5)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    pos = PosClient(config(fake_pos, "legacy"), http, retry=RetryPolicy(attempts=4, base_delay=0.01), sleep=sleep,
                    clock=FakeClock())
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            await pos.ping()
    assert (slept, fake_pos.token_requests) == ([], 1)
