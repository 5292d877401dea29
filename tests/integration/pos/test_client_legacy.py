"""PosClient (legacy auth) against the POS emulator: auth, idempotent import, reads, cancel, limits."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import pytest

from worker.errors import AuthenticationError, PermanentError
from worker.pos.client import PosClient
from worker.retry import RetryPolicy

from .conftest import FAST_RETRY, FakeClock, Starter, admin, fo_payload, legacy_config

API_HEADERS = {"Content-Type": "application/json"}


async def test_import_is_idempotent_201_then_200_duplicate(client: PosClient, pos, http) -> None:
    """The first import creates (201), a re-send of the same externalOrderId returns the same order (200)."""
    payload = fo_payload(1)
    first = await client.import_fulfillment_order(payload)
    again = await client.import_fulfillment_order(payload)
    assert first.created is True and again.created is False
    assert first.pos_order_id == again.pos_order_id == "FO-000001"
    assert first.line_ids == again.line_ids
    assert set(first.line_ids) == {line["orderItemId"] for line in payload["orderProductList"]}
    assert all(v.startswith("POI-") for v in first.line_ids.values())
    assert len((await admin(http, pos, "GET", "orders"))["orders"]) == 1


async def test_import_names_the_missing_field(client: PosClient) -> None:
    """A payload without a required §8.3 field is refused permanently, naming the field."""
    payload = fo_payload(2)
    del payload["orderProductList"][1]["productId"]
    with pytest.raises(PermanentError, match=r"orderProductList\[1\]\.productId"):
        await client.import_fulfillment_order(payload)


async def test_get_returns_order_or_none(client: PosClient) -> None:
    """GET of an imported order returns it with statuses; an unknown id returns None (404)."""
    await client.import_fulfillment_order(fo_payload(3))
    order = await client.get_fulfillment_order("FO-000003")
    assert order is not None and order["orderStatus"] == "NEW"
    assert {line["itemStatus"] for line in order["orderProductList"]} == {"NEW"}
    assert await client.get_fulfillment_order("FO-missing") is None


async def test_search_follows_next_page_token(start_pos: Starter, http: aiohttp.ClientSession) -> None:
    """Search returns every match across pages and filters by store and externalOrderIds."""
    pos = await start_pos(rate_limit_per_second=0, page_size=2)
    client = PosClient(legacy_config(pos.url), http, retry=FAST_RETRY)
    for n in range(1, 6):
        await client.import_fulfillment_order(fo_payload(n, store="256" if n != 4 else "257"))
    found = await client.search_fulfillment_orders(store_id="256")
    assert sorted(o["orderId"] for o in found) == ["FO-000001", "FO-000002", "FO-000003", "FO-000005"]
    wanted = [fo_payload(2)["externalOrderId"], fo_payload(4)["externalOrderId"]]
    by_external = await client.search_fulfillment_orders(external_order_ids=wanted, status=["NEW"])
    assert sorted(o["orderId"] for o in by_external) == ["FO-000002", "FO-000004"]
    assert await client.search_fulfillment_orders(updated_since_ms=1 << 60) == []


async def test_cancel_lines_then_conflict_once_delivered(client: PosClient, pos, http) -> None:
    """OMS cancel of one line cancels that line; cancelling a delivered order is a permanent 409."""
    result = await client.import_fulfillment_order(fo_payload(6))
    first_line = next(iter(result.line_ids.values()))
    order = await client.cancel_fulfillment_order("FO-000006", [first_line], "customer request")
    statuses = {line["orderItemId"]: line["itemStatus"] for line in order["orderProductList"]}
    assert statuses[first_line] == "CANCELED" and order["orderStatus"] == "NEW"
    await admin(http, pos, "POST", "fulfillmentorders/FO-000006/events", {"eventType": "PACK"})
    await admin(http, pos, "POST", "fulfillmentorders/FO-000006/events", {"eventType": "DELIVERED"})
    with pytest.raises(PermanentError) as caught:
        await client.cancel_fulfillment_order("FO-000006", None, "too late")
    assert caught.value.status == 409


async def test_token_refreshed_before_expiry(start_pos: Starter, http: aiohttp.ClientSession) -> None:
    """With a short expired_in, the cached token is replaced before the POS would refuse it (no 401 seen)."""
    clock = FakeClock()
    pos = await start_pos(rate_limit_per_second=0, token_ttl_seconds=120, clock=clock)
    client = PosClient(legacy_config(pos.url), http, retry=FAST_RETRY, clock=clock)
    await client.ping()
    clock.now += 121  # the first token has expired at the POS
    await client.ping()
    stats = pos.state.stats
    assert stats.tokens_issued == 2 and stats.unauthorized == 0


async def test_revoked_token_refreshes_once_and_succeeds(client: PosClient, pos, http) -> None:
    """A 401 from a revoked token makes the client fetch one new token and repeat the call."""
    await client.ping()
    await admin(http, pos, "POST", "tokens/revoke")
    await client.ping()
    assert pos.state.stats.unauthorized == 1
    assert pos.state.stats.tokens_issued == 2


async def test_concurrent_callers_share_one_token_fetch(client: PosClient, pos) -> None:
    """Many concurrent first calls cause exactly one token request (single flight)."""
    await asyncio.gather(*(client.get_fulfillment_order(f"FO-{n}") for n in range(20)))
    assert pos.state.stats.tokens_issued == 1


async def test_wrong_pos_secret_is_authentication_error(pos, http: aiohttp.ClientSession) -> None:
    """A wrong PredictSpring-Secret gets 401 twice (after one refresh) and raises AuthenticationError."""
    client = PosClient(
        legacy_config(pos.url, auth={"pos_secret": "wrong-secret-value"}), http, retry=FAST_RETRY
    )
    with pytest.raises(AuthenticationError) as caught:
        await client.ping()
    assert "wrong-secret-value" not in str(caught.value)
    assert pos.state.stats.unauthorized == 2


async def test_wrong_client_secret_refused_at_token_endpoint(pos, http: aiohttp.ClientSession) -> None:
    """Bad client credentials fail at the token endpoint without leaking the secret."""
    config = legacy_config(pos.url, auth={"client_secret": "not-the-secret"})
    with pytest.raises(AuthenticationError) as caught:
        await PosClient(config, http, retry=FAST_RETRY).ping()
    assert "not-the-secret" not in str(caught.value)


async def test_form_credentials_accepted(pos, http: aiohttp.ClientSession) -> None:
    """Client credentials sent as form fields (instead of HTTP Basic) also get a token."""
    client = PosClient(legacy_config(pos.url), http, retry=FAST_RETRY, credentials="form")
    await client.ping()
    assert pos.state.stats.tokens_issued == 1


@pytest.mark.parametrize("missing", ["PredictSpring-Token", "PredictSpring-Secret", "X-api-key"])
async def test_missing_header_is_401(pos, http: aiohttp.ClientSession, missing: str) -> None:
    """Every API call without one of the three legacy headers is refused with 401 and an errorCode."""
    basic = "Basic " + base64.b64encode(b"demo-pos-client:demo-pos-secret").decode()
    async with http.post(
        f"{pos.url}/oauth2/token", data={"grant_type": "client_credentials"}, headers={"Authorization": basic}
    ) as resp:
        token = (await resp.json())["access_token"]
    headers = {
        "PredictSpring-Token": token,
        "PredictSpring-Secret": "demo-pos-secret-header",
        "X-api-key": "demo-pos-api-key",
        **API_HEADERS,
    }
    async with http.get(f"{pos.url}/merchant/v1/fulfillmentorders/x", headers=headers) as resp:
        assert resp.status == 404  # all present: authenticated
    del headers[missing]
    async with http.get(f"{pos.url}/merchant/v1/fulfillmentorders/x", headers=headers) as resp:
        assert resp.status == 401
        assert (await resp.json())["errorCode"] == "UNAUTHORIZED"


async def test_token_answer_uses_expired_in(pos, http: aiohttp.ClientSession) -> None:
    """The legacy token endpoint answers access_token, token_type and expired_in (sic), not expires_in."""
    async with http.post(
        f"{pos.url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-pos-client",
            "client_secret": "demo-pos-secret",
        },
    ) as resp:
        body = await resp.json()
    assert set(body) == {"access_token", "token_type", "expired_in"} and body["expired_in"] == 3600


async def test_429_is_retried_after_retry_after(start_pos: Starter, http: aiohttp.ClientSession) -> None:
    """Over the POS rate limit each 429 is waited out for at least its Retry-After, then the call succeeds."""
    pos = await start_pos(rate_limit_per_second=2)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)

    policy = RetryPolicy(attempts=6, base_delay=0.01, max_delay=5.0)
    client = PosClient(legacy_config(pos.url), http, retry=policy, sleep=sleep)
    results = await asyncio.gather(*(client.get_fulfillment_order(f"FO-{n}") for n in range(5)))
    assert results == [None] * 5
    assert pos.state.stats.rate_limited >= 1
    assert len([s for s in slept if s >= 1.0]) >= pos.state.stats.rate_limited


async def test_every_call_needs_json_content_type(pos, http: aiohttp.ClientSession) -> None:
    """An API call without Content-Type: application/json is refused (the client always sends it)."""
    client = PosClient(legacy_config(pos.url), http, retry=FAST_RETRY)
    headers = await client.auth.headers()
    async with http.get(f"{pos.url}/merchant/v1/fulfillmentorders/x", headers=headers) as resp:
        assert resp.status == 415


async def test_concurrent_401s_cause_one_refresh(client: PosClient, pos, http) -> None:
    """After a revocation, many concurrent calls that all get 401 share a single token refresh."""
    await client.ping()
    await admin(http, pos, "POST", "tokens/revoke")
    await asyncio.gather(*(client.get_fulfillment_order(f"FO-{n}") for n in range(10)))
    assert pos.state.stats.tokens_issued == 2
