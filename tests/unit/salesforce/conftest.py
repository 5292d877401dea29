"""Small purpose-built fakes of the Salesforce token endpoint, REST API and CometD server (reference wire shapes)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from worker.config import AuthConfig, SalesforceConfig
from worker.retry import RetryPolicy

Reply = Callable[[web.Request], Any]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeSalesforce:
    """Token endpoint + REST: scripted replies (FIFO), else a default; records every request."""

    url: str = ""
    token_replies: deque[tuple[int, Any]] = field(default_factory=deque)
    rest_replies: deque[Any] = field(default_factory=deque)  # (status, body[, headers]) or a callable
    token_forms: list[dict[str, str]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    limit_header: str | None = "api-usage=10/15000"

    def reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.rest_replies.append((status, body, headers or {}))

    async def token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_forms.append({k: str(v) for k, v in form.items()})
        if self.token_replies:
            status, body = self.token_replies.popleft()
            if status == 0:
                request.transport.close()  # type: ignore[union-attr]
                return web.Response()
            return web.json_response(body, status=status)
        n = next(self.counter)
        return web.json_response({
            "access_token": f"00Dxx!token-{n}", "instance_url": self.url, "token_type": "Bearer",
            "id": f"{self.url}/id/00Dxx0000000001/005xx0000000001", "issued_at": "1700000000123",
            "signature": "c2ln"})

    async def rest(self, request: web.Request) -> web.StreamResponse:
        text = await request.text()
        self.requests.append(Recorded(request.method, request.path, dict(request.query),
                                      dict(request.headers), json.loads(text) if text else None))
        headers = {"Sforce-Limit-Info": self.limit_header} if self.limit_header else {}
        if not self.rest_replies:
            return web.json_response({"totalSize": 0, "done": True, "records": []}, headers=headers)
        reply = self.rest_replies.popleft()
        if callable(reply):
            return await reply(request)
        status, body, extra = reply
        if status == 0:  # drop the connection after the request arrived: the answer is lost
            request.transport.close()  # type: ignore[union-attr]
            return web.Response()
        headers.update(extra)
        if status == 204 or body is None:
            return web.Response(status=status, headers=headers)
        if isinstance(body, str):
            return web.Response(status=status, text=body, headers=headers)
        return web.json_response(body, status=status, headers=headers)


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def sf_config(url: str, **extra: Any) -> SalesforceConfig:
    values: dict[str, Any] = {
        "UrlBase": url, "allow_insecure_local": True, "Username": "integration@example.com",
        "Password": "pw-secret-123", "QueryApiVersion": "v61.0", "request_timeout_seconds": 5,
        "OMSCustomField": [{"omsFieldName": "Store_Id__c", "posField": "ORDER_STORE_ID", "applyTo": "LOCATION"}],
    }
    values.update(extra)
    return SalesforceConfig.model_validate(values)


def auth_config(**extra: Any) -> AuthConfig:
    values: dict[str, Any] = {"flow": "client_credentials", "client_id": "client-id-1",
                              "client_secret": "client-secret-xyz"}
    values.update(extra)
    return AuthConfig.model_validate(values)


FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.005)


@pytest.fixture
async def fake_sf() -> AsyncIterator[FakeSalesforce]:
    fake = FakeSalesforce()
    app = web.Application()
    app.router.add_post("/services/oauth2/token", fake.token)
    app.router.add_route("*", "/services/data/{tail:.*}", fake.rest)
    runner, fake.url = await start(app)
    yield fake
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


# ---- a small CometD (Bayeux long-polling) server with Salesforce's shapes -----------------------------------


@dataclass
class CometdClientState:
    subscribed: bool = False
    replay_from: int | None = None
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


@dataclass
class FakeCometd:
    """Handshake/connect/subscribe/disconnect; events have ``data.event.replayId``; scriptable failures."""

    channel: str = "/event/FOStatusChangedEvent"
    hold_seconds: float = 0.5
    events: list[dict[str, Any]] = field(default_factory=list)
    clients: dict[str, CometdClientState] = field(default_factory=dict)
    handshakes: list[dict[str, Any]] = field(default_factory=list)
    subscribes: list[dict[str, Any]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    invalid_replays: set[int] = field(default_factory=set)
    silent_clients: set[str] = field(default_factory=set)  # their connects are never answered (dead link)
    fail_connects: int = 0  # answer this many connects with a bare HTTP 500
    paths: list[str] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # ends held silent connects at teardown

    def publish(self, fo_id: str, status: str = "Allocated") -> int:
        replay_id = 100 + len(self.events)
        message = {"channel": self.channel, "data": {
            "schema": "s1", "event": {"replayId": replay_id, "EventUuid": f"uuid-{replay_id}"},
            "payload": {"FulfillmentOrderId": fo_id, "NewStatus": status, "OldStatus": "Draft",
                        "OrderSummaryId": "1Osxx0000000001AAA", "CreatedDate": "2025-05-01T12:00:00.000Z",
                        "EventUuid": f"uuid-{replay_id}"}}}
        self.events.append(message)
        for client in self.clients.values():
            if client.subscribed:
                client.queue.put_nowait(message)
        return replay_id

    def drop_clients(self) -> None:
        self.clients.clear()

    def silence(self) -> None:
        """Stop answering the connects of every current client (new clients are served)."""
        self.silent_clients |= set(self.clients)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path)
        self.auth_headers.append(request.headers.get("Authorization", ""))
        replies: list[dict[str, Any]] = []
        messages = await request.json()
        if self.fail_connects and messages[0]["channel"] == "/meta/connect":
            self.fail_connects -= 1
            return web.Response(status=500, text="boom")
        for msg in messages:
            replies.extend(await self._one(msg))
        return web.json_response(replies)

    async def _one(self, msg: dict[str, Any]) -> list[dict[str, Any]]:
        channel, base = msg["channel"], {"channel": msg["channel"], "id": msg.get("id")}
        if channel == "/meta/handshake":
            self.handshakes.append(msg)
            client_id = f"client{next(self.ids)}"
            self.clients[client_id] = CometdClientState()
            return [{**base, "successful": True, "clientId": client_id, "version": "1.0",
                     "supportedConnectionTypes": ["long-polling"], "ext": {"replay": True}}]
        client = self.clients.get(msg.get("clientId", ""))
        if client is None:
            return [{**base, "successful": False, "error": "403::Unknown client",
                     "advice": {"reconnect": "handshake", "interval": 0}}]
        if channel == "/meta/subscribe":
            self.subscribes.append(msg)
            replay = ((msg.get("ext") or {}).get("replay") or {}).get(msg["subscription"])
            if replay in self.invalid_replays:
                return [{**base, "successful": False, "subscription": msg["subscription"],
                         "error": f"400::The replayId {{{replay}}} you provided was invalid.  Please provide a "
                                  "valid ID, -2 to replay all events, or -1 to replay only new events."}]
            client.subscribed, client.replay_from = True, replay
            if isinstance(replay, int) and replay >= 0:
                for event in self.events:
                    if event["data"]["event"]["replayId"] > replay:
                        client.queue.put_nowait(event)
            elif replay == -2:
                for event in self.events:
                    client.queue.put_nowait(event)
            return [{**base, "successful": True, "subscription": msg["subscription"]}]
        if channel == "/meta/connect":
            if msg.get("clientId") in self.silent_clients:
                await self.wake.wait()
                return []
            out: list[dict[str, Any]] = []
            try:
                out.append(await asyncio.wait_for(client.queue.get(), self.hold_seconds))
                while not client.queue.empty():
                    out.append(client.queue.get_nowait())
            except TimeoutError:
                pass
            if msg.get("clientId") not in self.clients:
                return [{**base, "successful": False, "error": "403::Unknown client",
                         "advice": {"reconnect": "handshake", "interval": 0}}]
            return [*out, {**base, "successful": True, "clientId": msg["clientId"],
                           "advice": {"reconnect": "retry", "interval": 0, "timeout": 110000}}]
        if channel == "/meta/disconnect":
            self.clients.pop(msg.get("clientId", ""), None)
            return [{**base, "successful": True}]
        return [{**base, "successful": False, "error": "400::unsupported"}]


@pytest.fixture
async def fake_cometd(fake_sf: FakeSalesforce) -> AsyncIterator[tuple[FakeSalesforce, FakeCometd]]:
    """Token endpoint and CometD on one server (UrlBase), like a My Domain host."""
    cometd = FakeCometd()
    app = web.Application()
    app.router.add_post("/services/oauth2/token", fake_sf.token)
    app.router.add_post("/cometd/{version}", cometd.handle)
    runner, url = await start(app)
    fake_sf.url = url
    yield fake_sf, cometd
    cometd.wake.set()
    await runner.cleanup()
