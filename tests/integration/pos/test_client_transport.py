"""PosClient transport rules against a scripted loopback server: retries, OutcomeUnknown, logging, answers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web

from worker.errors import OutcomeUnknown, PermanentError, TransientError
from worker.pos.client import PosClient

from .conftest import FAST_RETRY, fo_payload, legacy_config


@dataclass
class Stub:
    url: str = ""
    script: list[Any] = field(default_factory=list)  # per API request: (status, body) or "drop"
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    state = Stub()

    async def token(_: web.Request) -> web.Response:
        return web.json_response({"access_token": "tok-123456", "token_type": "Bearer", "expired_in": 3600})

    async def api(request: web.Request) -> web.StreamResponse:
        await request.read()
        state.seen.append((request.method, request.raw_path, dict(request.headers)))
        step = state.script.pop(0) if state.script else (200, {})
        if step == "drop":
            assert request.transport is not None
            request.transport.close()  # the request arrived; the answer never leaves
            return web.Response()
        status, body = step
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/oauth2/token", token)
    app.router.add_route("*", "/merchant/{tail:.*}", api)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield state
    await runner.cleanup()


def make(stub: Stub, http: aiohttp.ClientSession) -> PosClient:
    return PosClient(legacy_config(stub.url), http, retry=FAST_RETRY)


async def test_lost_answer_on_cancel_is_outcome_unknown_and_not_resent(stub: Stub, http) -> None:
    """A cancel POST whose answer is lost raises OutcomeUnknown after exactly one send."""
    stub.script = ["drop", (200, {"orderId": "FO-1"})]
    with pytest.raises(OutcomeUnknown):
        await make(stub, http).cancel_fulfillment_order("FO-1", None, "x")
    assert len(stub.seen) == 1


async def test_lost_answer_on_import_is_retried(stub: Stub, http) -> None:
    """The import POST is idempotent on externalOrderId, so a lost answer is simply sent again."""
    payload = fo_payload(1, lines=1)
    line = payload["orderProductList"][0]["orderItemId"]
    stored = {"orderId": "FO-000001", "orderProductList": [{"orderItemId": "P1", "externalLineId": line}]}
    stub.script = ["drop", (200, {**stored, "duplicate": True})]
    result = await make(stub, http).import_fulfillment_order(payload)
    assert len(stub.seen) == 2 and result.line_ids == {line: "P1"} and result.created is False
    assert "duplicate" not in result.order


async def test_connection_refused_is_transient_even_for_post(stub: Stub, http) -> None:
    """A POST that could not connect was never sent: TransientError (retried), not OutcomeUnknown."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
        config = legacy_config(
            f"http://127.0.0.1:{sock.getsockname()[1]}", token_url=f"{stub.url}/oauth2/token"
        )
        with structlog.testing.capture_logs() as logs:
            with pytest.raises(TransientError) as caught:
                await PosClient(config, http, retry=FAST_RETRY).repost(["S-1"])
    assert not isinstance(caught.value, OutcomeUnknown)
    attempts = [e["attempt"] for e in logs if e["event"] == "pos_request"]
    assert attempts == [1, 2, 3, 4]  # every attempt of the policy was used


async def test_5xx_retried_then_success(stub: Stub, http) -> None:
    """A 503 is transient and retried; the next answer is used."""
    stub.script = [(503, {"errorCode": "UNAVAILABLE", "errorMessage": "busy"}), (200, {"orderId": "S-1"})]
    assert await make(stub, http).get_sale("S-1") == {"orderId": "S-1"}
    assert len(stub.seen) == 2


async def test_400_is_permanent_and_not_retried(stub: Stub, http) -> None:
    """A 400 with errorCode becomes a PermanentError carrying the POS code, after one attempt."""
    stub.script = [(400, {"errorCode": "INVALID_FIELD", "errorMessage": "storeId: required"})]
    with pytest.raises(PermanentError) as caught:
        await make(stub, http).search_sales({"storeId": None})
    assert caught.value.code == "INVALID_FIELD" and len(stub.seen) == 1


async def test_import_answer_missing_a_line_is_permanent(stub: Stub, http) -> None:
    """An import answer that lacks one of the sent lines is refused instead of recording a partial map."""
    stub.script = [(201, {"orderId": "FO-000001", "orderProductList": []})]
    with pytest.raises(PermanentError, match="lacks lines"):
        await make(stub, http).import_fulfillment_order(fo_payload(1, lines=1))


async def test_headers_sent_and_log_has_no_secrets(stub: Stub, http) -> None:
    """Every request carries the three legacy headers and JSON content type; pos_request logs no secret."""
    with structlog.testing.capture_logs() as logs:
        await make(stub, http).get_fulfillment_order("FO 1/2")
    method, path, headers = stub.seen[0]
    assert (method, path) == ("GET", "/merchant/v1/fulfillmentorders/FO%201%2F2")  # the id is one segment
    assert headers["PredictSpring-Token"] == "tok-123456"
    assert (
        headers["PredictSpring-Secret"] == "demo-pos-secret-header"
        and headers["X-api-key"] == "demo-pos-api-key"
    )
    assert headers["Content-Type"] == "application/json"
    events = [e for e in logs if e["event"] == "pos_request"]
    assert events and events[0]["path"] == "/merchant/{version}/fulfillmentorders/{order_id}"
    assert events[0]["status"] == 200 and events[0]["attempt"] == 1
    text = repr(logs)
    for secret in ("tok-123456", "demo-pos-secret-header", "demo-pos-api-key", "demo-pos-secret"):
        assert secret not in text


async def test_reprs_hold_no_secrets(stub: Stub, http) -> None:
    """Neither the client nor its auth shows a secret or token in its repr."""
    client = make(stub, http)
    await client.ping()
    text = repr(client) + repr(client.auth) + repr(client.auth._cache._token)
    for secret in ("tok-123456", "demo-pos-secret-header", "demo-pos-api-key", "demo-pos-secret"):
        assert secret not in text


async def test_paging_loop_guard(stub: Stub, http) -> None:
    """A server that repeats the same nextPageToken makes the search fail instead of looping forever."""
    stub.script = [(200, {"orders": [], "nextPageToken": "t"}), (200, {"orders": [], "nextPageToken": "t"})]
    with pytest.raises(PermanentError, match="same nextPageToken"):
        await make(stub, http).search_fulfillment_orders(store_id="256")
