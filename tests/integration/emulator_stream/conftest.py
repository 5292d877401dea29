"""A minimal emulated org for stream tests: token + CometD endpoints on 127.0.0.1, OS-chosen port."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from emulator.salesforce.cometd import CometdServer, CometdSettings, add_cometd_routes
from emulator.salesforce.events import EventBus
from emulator.salesforce.oauth import OAuthSettings, TokenStore, add_oauth_routes

USER = "worker@example.com"
PASSWORD = "pw-and-security-token"
CLIENT_ID = "3MVG9-test-client"
CLIENT_SECRET = "client-secret-1"
FO_CHANNEL = "/event/FOStatusChangedEvent"


@dataclass
class Org:
    """A running emulated org and handles on its parts."""

    base: str  # instance URL the token endpoint hands out ("localhost": default cookie jars keep cookies)
    ip_base: str  # the same server addressed by IP
    bus: EventBus
    tokens: TokenStore
    server: CometdServer
    settings: CometdSettings
    cleanups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def cometd(self, version: str = "62.0") -> str:
        """The CometD URL for an API version."""
        return f"{self.ip_base}/cometd/{version}"

    def bearer(self) -> dict[str, str]:
        """An Authorization header with a freshly issued token."""
        return {"Authorization": f"Bearer {self.tokens.issue(USER, CLIENT_ID).token}"}

    def publish(self, status: str = "Fulfilled") -> int:
        """Publish one FOStatusChangedEvent and return its replay id."""
        event = self.bus.publish(FO_CHANNEL, {"FulfillmentOrderId": "0a3R000000001AAA", "NewStatus": status})
        assert event is not None
        return event.replay_id


OrgFactory = Callable[..., Awaitable[Org]]


@pytest.fixture
async def make_org() -> AsyncIterator[OrgFactory]:
    """Factory: start an org with the given CometdSettings overrides; everything is stopped at teardown."""
    runners: list[web.AppRunner] = []

    async def start(clock: Callable[[], float] = time.monotonic, **cometd: Any) -> Org:
        bus = EventBus()
        tokens = TokenStore(OAuthSettings(users={USER: PASSWORD}, clients={CLIENT_ID: CLIENT_SECRET}))
        settings = CometdSettings(**{"connect_hold_seconds": 5.0, **cometd})
        app = web.Application()
        bases: dict[str, str] = {}
        add_oauth_routes(app, tokens, lambda _request: bases["base"])
        server = add_cometd_routes(app, bus, tokens, settings, clock=clock)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        bases["base"] = f"http://localhost:{port}"
        return Org(bases["base"], f"http://127.0.0.1:{port}", bus, tokens, server, settings)

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session whose cookie jar keeps cookies from IP-addressed hosts (as a browser would)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session
