"""Streaming API endpoint (``POST /cometd/<version>``): Bayeux long-polling with replay extension.

Handshake, connect (held up to ``connect_hold_seconds``; events ride on the connect answer), subscribe with
``ext.replay``, unsubscribe and disconnect. Every request is authenticated from its ``Authorization`` header.
Within one request the non-connect messages are handled first and ``/meta/connect`` last, so a re-handshaken
client that re-subscribes in its connect batch gets its replayed events on that connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulator.salesforce import cometd_messages as m
from emulator.salesforce.cometd_session import ClientRegistry, ClientState, Subscription
from emulator.salesforce.events import EventBus, StoredEvent
from emulator.salesforce.oauth import TokenStore

__all__ = ["CometdServer", "CometdSettings", "add_cometd_routes"]

_LOG = logging.getLogger(__name__)
_CLOSE_GRACE_SECONDS = 5.0


@dataclass
class CometdSettings:
    """Timing and size limits of the Streaming API endpoint (Salesforce values by default)."""

    connect_hold_seconds: float = 110.0
    reconnect_window_seconds: float = 40.0
    max_body_bytes: int = 32768
    require_cookie: bool = True
    max_events_per_connect: int = 1000


class CometdServer:
    """Bayeux long-polling server over an :class:`EventBus`, authenticating with a :class:`TokenStore`."""

    def __init__(
        self,
        bus: EventBus,
        tokens: TokenStore,
        settings: CometdSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.tokens = tokens
        self.settings = settings
        self.clients = ClientRegistry(settings.reconnect_window_seconds, clock)
        self._closing = False
        self._held = 0
        self._idle = asyncio.Event()
        self._idle.set()
        bus.add_listener(self._on_publish)

    # -- operator controls --------------------------------------------------------------------------

    def drop_all_clients(self) -> int:
        """Forget every client (as on a Salesforce server move); next connect gets ``403::Unknown client``."""
        return self.clients.remove_all()

    def client_count(self) -> int:
        """Number of live (handshaken, not expired) clients."""
        return self.clients.count()

    async def close(self) -> None:
        """Answer every held poll now and stop holding new ones (call before the HTTP server stops)."""
        self._closing = True
        self.bus.remove_listener(self._on_publish)
        for client in self.clients.all():
            client.wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), _CLOSE_GRACE_SECONDS)

    def _on_publish(self, event: StoredEvent) -> None:
        for client in self.clients.subscribed_to(event.channel):
            client.wake.set()

    # -- HTTP ------------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One Bayeux POST: a JSON array of messages in, a JSON array of replies (and events) out."""
        body = await _read_limited(request, self.settings.max_body_bytes)
        if body is None:
            return web.Response(status=413, reason=m.TOO_LARGE, text=m.TOO_LARGE)
        try:
            messages = m.parse_messages(body, request.content_type)
        except (m.MessageError, UnicodeDecodeError):
            return web.json_response([{"successful": False, "error": "400::Invalid message"}], status=400)
        version_error = m.parse_version(request.match_info.get("version"))
        if version_error is not None:
            return web.json_response([m.failure(msg, version_error) for msg in messages], status=400)

        header = request.headers.get("Authorization")
        session = self.tokens.validate(header)
        auth_error = None if session else (m.AUTH_INVALID if header else m.AUTH_REQUIRED)
        has_cookie = m.COOKIE_NAME in request.cookies
        replies: list[dict[str, Any]] = []
        handshaken = False
        connects: list[tuple[int, dict[str, Any]]] = []
        for msg in messages:
            if msg["channel"] == "/meta/connect":
                connects.append((len(replies), msg))
                replies.append({})
                continue
            out = self._dispatch(msg, session.username if session else "", auth_error, has_cookie)
            handshaken = handshaken or (msg["channel"] == "/meta/handshake" and out.get("successful") is True)
            replies.append(out)
        events: list[dict[str, Any]] = []
        for index, msg in connects:
            replies[index], delivered = await self._connect(msg, auth_error, has_cookie)
            events.extend(m.event_message(e) for e in delivered)
        response = web.json_response([*events, *replies])
        if handshaken and not has_cookie:
            response.set_cookie(m.COOKIE_NAME, secrets.token_hex(16), path="/", httponly=True)
        return response

    # -- meta channels ---------------------------------------------------------------------------------

    def _dispatch(
        self, msg: dict[str, Any], username: str, auth_error: str | None, has_cookie: bool
    ) -> dict[str, Any]:
        channel = msg["channel"]
        if channel == "/meta/handshake":
            return self._handshake(msg, username, auth_error)
        if auth_error is not None:
            return m.failure(msg, auth_error)
        client = self.clients.get(msg.get("clientId"))
        if client is None:
            return m.failure(msg, m.UNKNOWN_CLIENT, {"reconnect": "handshake", "interval": 0})
        if self.settings.require_cookie and not has_cookie:
            return m.failure(msg, m.missing_cookie(client.client_id))
        if channel == "/meta/subscribe":
            return self._subscribe(msg, client)
        if channel == "/meta/unsubscribe":
            client.subscriptions.pop(str(msg.get("subscription")), None)
            return m.reply(msg, successful=True)
        if channel == "/meta/disconnect":
            self.clients.remove(client.client_id)
            return m.reply(msg, successful=True)
        if channel.startswith("/meta/"):
            return m.failure(msg, f"400::Unknown meta channel {channel}")
        return m.failure(msg, m.RESTRICTED_CHANNEL)

    def _handshake(self, msg: dict[str, Any], username: str, auth_error: str | None) -> dict[str, Any]:
        if auth_error is not None:
            denied = m.failure(msg, m.HANDSHAKE_DENIED, {"reconnect": "none"})
            return {"ext": {"sfdc": {"failureReason": auth_error}}, **denied}
        offered = msg.get("supportedConnectionTypes")
        if isinstance(offered, list) and "long-polling" not in offered:
            return m.failure(
                msg, m.invalid_connection_type(",".join(map(str, offered))), {"reconnect": "none"}
            )
        client = self.clients.create(username)
        ext: dict[str, Any] = {}
        request_ext = msg.get("ext")
        if isinstance(request_ext, dict) and "replay" in request_ext:
            ext["replay"] = request_ext["replay"]
        ext["payload.format"] = True
        out = {"ext": ext, "minimumVersion": "1.0", **m.reply(msg)}
        out.update(clientId=client.client_id, supportedConnectionTypes=["long-polling"], version="1.0")
        out.update(successful=True, reestablish=False)
        return out

    def _subscribe(self, msg: dict[str, Any], client: ClientState) -> dict[str, Any]:
        channel = msg.get("subscription")
        if not isinstance(channel, str) or not channel.startswith("/"):
            return m.failure(msg, m.LEADING_SLASH)
        if channel not in self.bus.known_channels():
            return m.failure(msg, m.channel_missing(channel))
        ext = msg.get("ext")
        replay_map = ext.get("replay") if isinstance(ext, dict) else None
        requested = replay_map.get(channel, -1) if isinstance(replay_map, dict) else -1
        replay_id = _as_int(requested)
        if replay_id == -1:
            position = self.bus.last_replay_id(channel)
        elif replay_id == -2:
            position = -2
        elif replay_id is not None and replay_id > 0 and self.bus.is_retained(channel, replay_id):
            position = replay_id
        else:
            return m.failure(msg, m.invalid_replay_id(requested))
        client.subscriptions[channel] = Subscription(channel, position)
        client.wake.set()
        return m.reply(msg, successful=True)

    async def _connect(
        self, msg: dict[str, Any], auth_error: str | None, has_cookie: bool
    ) -> tuple[dict[str, Any], list[StoredEvent]]:
        if auth_error is not None:
            return m.failure(msg, auth_error, {"reconnect": "none", "interval": 0}), []
        client = self.clients.get(msg.get("clientId"))
        if client is None:
            return m.failure(msg, m.UNKNOWN_CLIENT, {"reconnect": "handshake", "interval": 0}), []
        if self.settings.require_cookie and not has_cookie:
            return m.failure(
                msg, m.missing_cookie(client.client_id), {"reconnect": "none", "interval": 0}
            ), []
        connection_type = msg.get("connectionType", "long-polling")
        if connection_type != "long-polling":
            return m.failure(msg, m.invalid_connection_type(connection_type), {"reconnect": "none"}), []
        client.generation += 1
        client.wake.set()  # answers a poll this one supersedes
        client.holding += 1
        self._held += 1
        self._idle.clear()
        try:
            delivered = await self._hold(client, client.generation)
        finally:
            client.holding -= 1
            client.last_active = self.clients.now()
            self._held -= 1
            if not self._held:
                self._idle.set()
        if delivered is None:
            return m.failure(msg, m.UNKNOWN_CLIENT, {"reconnect": "handshake", "interval": 0}), []
        advice = {
            "interval": 0,
            "reconnect": "retry",
            "timeout": int(self.settings.connect_hold_seconds * 1000),
        }
        return m.reply(msg, successful=True, advice=advice), delivered

    async def _hold(self, client: ClientState, generation: int) -> list[StoredEvent] | None:
        """The client's events as soon as there are any, [] at the hold deadline, None once it is gone."""
        immediate = not client.connected_once
        client.connected_once = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.connect_hold_seconds
        while True:
            client.wake.clear()
            if client.gone:
                return None
            if self._closing or client.generation != generation:
                return []  # superseded or shutting down: leave events for the poll that will deliver them
            events = client.take_pending(self.bus, self.settings.max_events_per_connect)
            if events or immediate:
                return events
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.wake.wait(), remaining)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    return None


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` bytes.

    ``request.read()`` (not the raw stream) so a middleware that already read the body does not leave us an empty
    one; aiohttp caches the bytes and caps them at the app's ``client_max_size``.
    """
    if request.content_length is not None and request.content_length > limit:
        return None
    body = await request.read()
    return None if len(body) > limit else body


def add_cometd_routes(
    app: web.Application,
    bus: EventBus,
    tokens: TokenStore,
    settings: CometdSettings,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> CometdServer:
    """Mount ``POST /cometd/{version}`` (version-less forms answer the mandatory-version error).

    Also registers ``server.close()`` on ``app.on_shutdown`` so held polls never delay a shutdown.
    """
    server = CometdServer(bus, tokens, settings, clock)
    app.router.add_post("/cometd/{version}", server.handle)
    app.router.add_post("/cometd", server.handle)
    app.router.add_post("/cometd/", server.handle)

    async def _on_shutdown(_: web.Application) -> None:
        await server.close()

    app.on_shutdown.append(_on_shutdown)
    return server
