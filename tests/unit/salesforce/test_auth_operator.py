"""TokenProvider: refused credentials need an operator; token requests stop (bounded) rather than lock the user out."""

from __future__ import annotations

import aiohttp
import pytest
import structlog

from worker.errors import AuthenticationError, TransientError
from worker.flows.runner import classify
from worker.salesforce.auth import OPERATOR_HOLD_SECONDS, OPERATOR_MAX_REFUSALS, TokenProvider

from .conftest import FAST, FakeSalesforce, auth_config, sf_config

REFUSED = (400, {"error": "invalid_grant", "error_description": "authentication failure"})


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def provider(fake: FakeSalesforce, session: aiohttp.ClientSession, clock: Clock) -> TokenProvider:
    return TokenProvider(sf_config(fake.url), auth_config(flow="password"), session, retry=FAST, clock=clock)


@pytest.mark.parametrize("code", ["invalid_grant", "invalid_client", "invalid_client_id", "unsupported_grant_type",
                                  "inactive_user", "inactive_org"])
async def test_a_refusal_is_sent_once_then_held(fake_sf: FakeSalesforce, session, code: str) -> None:
    """After one refused token request, later token() calls raise at once without a request; one log event."""
    fake_sf.token_replies.extend([(400, {"error": code, "error_description": "refused"})] * 5)
    tokens = provider(fake_sf, session, Clock())
    assert tokens.operator_required is None
    with structlog.testing.capture_logs() as logs:
        for _ in range(5):
            with pytest.raises(AuthenticationError) as caught:
                await tokens.token()
            assert caught.value.code == code
    assert len(fake_sf.token_forms) == 1
    assert tokens.operator_required is not None and code in tokens.operator_required
    events = [e for e in logs if e["event"] == "salesforce_auth_needs_operator"]
    assert len(events) == 1 and events[0]["code"] == code
    assert "pw-secret-123" not in repr(events) + tokens.operator_required


async def test_attempts_are_bounded_then_wait_for_a_restart(fake_sf: FakeSalesforce, session) -> None:
    """One attempt per hold period, at most OPERATOR_MAX_REFUSALS in all; then none until restart."""
    fake_sf.token_replies.extend([REFUSED] * 10)
    clock = Clock()
    tokens = provider(fake_sf, session, clock)
    for _ in range(OPERATOR_MAX_REFUSALS + 3):
        for _ in range(3):
            with pytest.raises(AuthenticationError):
                await tokens.token()
        clock.now += OPERATOR_HOLD_SECONDS
    assert len(fake_sf.token_forms) == OPERATOR_MAX_REFUSALS
    assert tokens.operator_required is not None and "restart" in tokens.operator_required


async def test_a_later_success_clears_the_operator_state(fake_sf: FakeSalesforce, session) -> None:
    """When the attempt after the hold succeeds, operator_required is None again and the token is served."""
    fake_sf.token_replies.append(REFUSED)
    clock = Clock()
    tokens = provider(fake_sf, session, clock)
    with pytest.raises(AuthenticationError):
        await tokens.token()
    clock.now += OPERATOR_HOLD_SECONDS
    assert (await tokens.token()).access_token and tokens.operator_required is None


async def test_a_held_refusal_pauses_outbound_work(fake_sf: FakeSalesforce, session) -> None:
    """The refusal a queue handler sees pauses outbound work (runner 'limit') instead of burning job attempts."""
    fake_sf.token_replies.append(REFUSED)
    tokens = provider(fake_sf, session, Clock())
    with pytest.raises(AuthenticationError) as caught:
        await tokens.token()
    assert classify(caught.value) == "limit"
    assert caught.value.retry_after == OPERATOR_HOLD_SECONDS


async def test_server_errors_do_not_need_an_operator(fake_sf: FakeSalesforce, session) -> None:
    """5xx answers stay transient: no operator state, the next call tries again."""
    fake_sf.token_replies.extend([(503, {})] * 3)
    tokens = provider(fake_sf, session, Clock())
    with pytest.raises(TransientError):
        await tokens.token()
    assert tokens.operator_required is None
    assert (await tokens.token()).access_token and len(fake_sf.token_forms) == 4
