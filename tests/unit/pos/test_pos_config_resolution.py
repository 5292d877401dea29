"""POS URL resolution, path templates, JWT expiry reading and the client-side token bucket."""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from worker.config import PosConfig
from worker.pos.auth import HyperforceAuth, LegacyAuth, jwt_expiry, make_auth
from worker.pos.endpoints import Endpoints, resolve_base_url, resolve_token_url
from worker.pos.ratelimit import TokenBucket


def config(**overrides: Any) -> PosConfig:
    auth = {
        "mode": "legacy",
        "client_id": "c",
        "client_secret": "s3cret-value",
        "pos_secret": "p",
        "api_key": "k",
        **overrides.pop("auth", {}),
    }
    return PosConfig.model_validate({"merchant_id": "acme", "auth": auth, **overrides})


HYPERFORCE = {"mode": "hyperforce"}


@pytest.mark.parametrize(
    ("env", "base", "token"),
    [
        (
            "Production",
            "https://api.predictspring.com/prod/service",
            "https://prod-oauth2.predictspring.com/oauth2/token",
        ),
        (
            "Staging",
            "https://api.predictspring.com/staging/service",
            "https://staging-oauth2.predictspring.com/oauth2/token",
        ),
    ],
)
def test_legacy_public_hosts(env: str, base: str, token: str) -> None:
    """Legacy Production and Staging default to the documented PredictSpring hosts."""
    c = config(environment=env)
    assert (resolve_base_url(c), resolve_token_url(c)) == (base, token)


def test_explicit_urls_win() -> None:
    """pos.base_url and pos.token_url override every default (trailing slash dropped)."""
    c = config(base_url="http://127.0.0.1:9/", token_url="http://127.0.0.1:9/oauth2/token")
    assert resolve_base_url(c) == "http://127.0.0.1:9"
    assert resolve_token_url(c) == "http://127.0.0.1:9/oauth2/token"


@pytest.mark.parametrize("env", ["Test", "Dev"])
def test_legacy_test_and_dev_need_urls(env: str) -> None:
    """Legacy Test/Dev have no documented host: both URLs must be configured, checked when the config loads."""
    with pytest.raises(ValidationError, match=rf"base_url: no public default for legacy {env}"):
        config(environment=env)
    with pytest.raises(ValidationError, match=rf"token_url: no public default for legacy {env}"):
        config(environment=env, base_url="https://pos.example")


def test_hyperforce_token_url_from_my_domain() -> None:
    """A bare My Domain URL gets the Salesforce token path; a missing one fails at load, naming the key."""
    c = config(auth=HYPERFORCE, token_url="https://acme.my.salesforce.com")
    assert resolve_token_url(c) == "https://acme.my.salesforce.com/services/oauth2/token"
    with pytest.raises(ValidationError, match=r"token_url: Hyperforce tokens come from the merchant's"):
        config(auth=HYPERFORCE)


def test_path_templates() -> None:
    """{version} comes from api_version and {order_id} is quoted as one path segment."""
    e = Endpoints(config(base_url="https://pos.example", api_version="v2"))
    assert e.url("search_fulfillment_orders") == "https://pos.example/merchant/v2/fulfillmentorders/search"
    assert e.url("cancel_fulfillment_order", "FO 1/2") == (
        "https://pos.example/merchant/v2/fulfillmentorders/FO%201%2F2/cancel"
    )
    with pytest.raises(ValueError, match="needs an order id"):
        e.url("sale")


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_jwt_expiry_read_without_verification() -> None:
    """The exp claim of a JWT is read; opaque tokens and junk give None."""
    assert jwt_expiry(_jwt({"exp": 1_900_000_000})) == 1_900_000_000.0
    assert jwt_expiry("00Dxx0000001gPF!AQ4AQ.opaque") is None
    assert jwt_expiry("a.!!!.c") is None
    assert jwt_expiry(_jwt({"exp": "soon"})) is None


async def test_lifetimes_per_mode() -> None:
    """Legacy reads expired_in (or expires_in); Hyperforce reads the JWT exp, else assumes 30 minutes."""
    async with aiohttp.ClientSession() as session:
        legacy = make_auth(config(environment="Production"), session)
        assert isinstance(legacy, LegacyAuth)
        assert legacy._ttl({"expired_in": 120}, "t") == 120 and legacy._ttl({"expires_in": "90"}, "t") == 90
        hyper = make_auth(
            config(auth=HYPERFORCE, base_url="https://p", token_url="https://m"),
            session,
            clock=lambda: 1_000.0,
        )
        assert isinstance(hyper, HyperforceAuth)
        assert hyper._ttl({}, _jwt({"exp": 1_600})) == 600
        assert hyper._ttl({}, "opaque") == 1800


async def test_token_bucket_spaces_calls() -> None:
    """At 2 permits/s with a burst of 2, the third and fourth acquisitions wait 0.5 s each."""
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(2, clock=lambda: now[0], sleep=sleep)
    results = [await bucket.acquire() for _ in range(4)]
    assert results[:2] == [0.0, 0.0]
    assert results[2:] == pytest.approx([0.5, 0.5])
