"""Fixtures: a real Salesforce emulator on 127.0.0.1:0 with the demo seed, a token and a small REST client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from emulator.salesforce.app import RunningEmulator, SfEmulatorSettings, start_sf_emulator

V = "/services/data/v62.0"


@dataclass
class Client:
    url: str
    http: aiohttp.ClientSession
    token: str
    running: RunningEmulator

    @property
    def emu(self) -> Any:
        return self.running.emulator

    async def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                   params: dict[str, str] | None = None, auth: bool = True) -> tuple[int, Any, Any]:
        all_headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        all_headers.update(headers or {})
        url = path if path.startswith("http") else self.url + path
        async with self.http.request(method, url, json=body, headers=all_headers, params=params) as resp:
            text = await resp.text()
            import json

            return resp.status, (json.loads(text) if text else None), resp.headers

    async def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, data, _ = await self.call(method, f"/__admin/{path}", body, auth=False)
        return status, data

    async def query(self, soql: str) -> dict[str, Any]:
        status, data, _ = await self.call("GET", f"{V}/query", params={"q": soql})
        assert status == 200, data
        return data

    async def orders(self, **spec: Any) -> list[dict[str, Any]]:
        status, data = await self.admin("POST", "scenario/orders", {"seed": 1, **spec})
        assert status == 200, data
        return data["orders"]


async def make_client(settings: SfEmulatorSettings) -> tuple[RunningEmulator, aiohttp.ClientSession, str]:
    running = await start_sf_emulator(settings)
    http = aiohttp.ClientSession()
    async with http.post(running.url + "/services/oauth2/token", data={
            "grant_type": "password", "client_id": "demo-client", "client_secret": "demo-secret",
            "username": "integration@example.com", "password": "demo-password"}) as resp:
        assert resp.status == 200, await resp.text()
        token = (await resp.json())["access_token"]
    return running, http, token


@pytest.fixture
async def sf(request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    overrides = getattr(request, "param", {})
    running, http, token = await make_client(SfEmulatorSettings(seed="demo", **overrides))
    try:
        yield Client(running.url, http, token, running)
    finally:
        await http.close()
        await running.stop()


def fo_events(client: Client) -> list[dict[str, Any]]:
    return [e.payload for e in client.emu.bus.events_after("/event/FOStatusChangedEvent", 0)]
