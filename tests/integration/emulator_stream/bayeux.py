"""Raw Bayeux helpers for protocol tests: plain aiohttp POSTs, no CometD library in between."""

from __future__ import annotations

from typing import Any

import aiohttp

from .conftest import FO_CHANNEL, Org

Message = dict[str, Any]


async def post(
    http: aiohttp.ClientSession,
    org: Org,
    messages: list[Message] | Message,
    headers: dict[str, str] | None = None,
    version: str = "62.0",
) -> tuple[int, list[Message]]:
    """POST messages to the CometD endpoint; returns the HTTP status and the decoded JSON array."""
    async with http.post(org.cometd(version), json=messages, headers=headers) as resp:
        return resp.status, await resp.json()


def only(replies: list[Message], channel: str) -> Message:
    """The single reply on ``channel``."""
    found = [r for r in replies if r.get("channel") == channel]
    assert len(found) == 1, replies
    return found[0]


def events(replies: list[Message]) -> list[Message]:
    """The event messages of a response (everything not on a meta channel)."""
    return [r for r in replies if not str(r.get("channel", "")).startswith("/meta/")]


def replay_ids(replies: list[Message]) -> list[int]:
    """Replay ids of the events in a response, in order."""
    return [e["data"]["event"]["replayId"] for e in events(replies)]


async def handshake(http: aiohttp.ClientSession, org: Org, headers: dict[str, str]) -> str:
    """Handshake and return the client id."""
    status, replies = await post(
        http,
        org,
        [{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}],
        headers,
    )
    assert status == 200 and replies[0]["successful"] is True, replies
    return str(replies[0]["clientId"])


async def connect(
    http: aiohttp.ClientSession, org: Org, headers: dict[str, str], client_id: str
) -> list[Message]:
    """One /meta/connect; returns the whole response array."""
    message = {"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling", "id": "c"}
    status, replies = await post(http, org, [message], headers)
    assert status == 200
    return replies


async def subscribe(
    http: aiohttp.ClientSession,
    org: Org,
    headers: dict[str, str],
    client_id: str,
    replay: int | None = None,
    channel: str = FO_CHANNEL,
) -> Message:
    """One /meta/subscribe (with ``ext.replay`` when ``replay`` is given); returns its reply."""
    message: Message = {
        "channel": "/meta/subscribe",
        "clientId": client_id,
        "subscription": channel,
        "id": "s",
    }
    if replay is not None:
        message["ext"] = {"replay": {channel: replay}}
    _, replies = await post(http, org, [message], headers)
    return only(replies, "/meta/subscribe")


async def session(http: aiohttp.ClientSession, org: Org) -> tuple[dict[str, str], str]:
    """Headers and a client id past its first (immediate) connect, ready to hold."""
    headers = org.bearer()
    client_id = await handshake(http, org, headers)
    first = await connect(http, org, headers, client_id)
    assert only(first, "/meta/connect")["successful"] is True
    return headers, client_id
