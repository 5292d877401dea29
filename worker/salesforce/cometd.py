"""Glue between aiosfstream-ng / aiocometd-ng and the worker: auth, replay cursor, observation, client.

* :class:`TokenAuthenticator` takes the token from our :class:`~worker.salesforce.auth.TokenProvider` (shared
  with REST) and invalidates it only when the server said ``401::...`` (not on ``403::Unknown client``).
* :class:`CursorReplay` puts the *stored* replay id (our store, written by the ingest flow after the inbox
  commit) into every ``/meta/subscribe``; it never writes anything itself.
* :class:`StreamObserver` marks server activity for the silence watchdog, reports ``403::Unknown client`` and
  failed re-subscribes, and adds ``ext.replay: true`` to the handshake.
* :class:`StreamClient` uses our CometD URL (``<UrlBase>/cometd/<62.0>``), long-polling only, our TLS context,
  and a cookie jar that keeps cookies from IP hosts too (the server requires its cookies echoed).
"""

from __future__ import annotations

import asyncio
import re
import ssl as ssl_module
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
from aiocometd_ng.client import Client as CometdClient
from aiocometd_ng.constants import ConnectionType
from aiocometd_ng.extensions import Extension
from aiocometd_ng.typing import Headers, JsonObject, Payload
from aiosfstream_ng.auth import AuthenticatorBase
from aiosfstream_ng.client import Client, ReplayMarkerStoragePolicy
from aiosfstream_ng.replay import ReplayMarker, ReplayMarkerStorage

from worker.salesforce.auth import Token, TokenProvider

INVALID_REPLAY = re.compile(r"The replayId \{?(-?\d+)\}? you provided was invalid\.\s{1,2}Please", re.I)
UNKNOWN_CLIENT = "403::Unknown client"


class CursorSource(Protocol):
    """Where the stream reads the replay id to resume from (the worker's store)."""

    async def get_cursor(self, channel: str) -> int | bytes | None: ...


def is_invalid_replay(error: str | None) -> bool:
    """``400::The replayId {12} you provided was invalid. Please ...`` (one or two spaces after it)."""
    return bool(error) and str(error).startswith("400") and INVALID_REPLAY.search(str(error)) is not None


def _auth_failure(message: JsonObject) -> bool:
    reason = ((message.get("ext") or {}).get("sfdc") or {}).get("failureReason") or ""
    return str(message.get("error") or "").startswith("401") or str(reason).startswith("401")


class TokenAuthenticator(AuthenticatorBase):
    """An aiosfstream authenticator backed by the shared TokenProvider."""

    def __init__(self, tokens: TokenProvider) -> None:
        super().__init__()
        self._tokens = tokens
        self._used: Token | None = None
        self._refused = False

    def __repr__(self) -> str:
        return f"TokenAuthenticator(flow={self._tokens.flow!r})"

    async def _authenticate(self) -> tuple[int, JsonObject]:  # pragma: no cover - overridden
        raise NotImplementedError

    async def authenticate(self) -> None:
        """Called before the handshake and after an auth-looking error (401 or 403)."""
        if self._refused and self._used is not None:
            await self._tokens.invalidate(self._used)
        self._refused = False
        token = await self._tokens.token()
        self._used = token
        self.instance_url = token.instance_url
        self.token_type = "Bearer"

    async def outgoing(self, payload: Payload, headers: Headers) -> None:
        token = await self._tokens.token()
        self._used = token
        headers["Authorization"] = f"Bearer {token.access_token}"

    async def incoming(self, payload: Payload, headers: Headers | None = None) -> None:
        if any(_auth_failure(message) for message in payload):
            self._refused = True


class CursorReplay(ReplayMarkerStorage):
    """Replay ids come from the store's cursor; ``initial`` when there is none (-1 new, -2 all retained)."""

    def __init__(self, cursor: CursorSource, initial: int) -> None:
        super().__init__()
        self._cursor = cursor
        self.initial = initial
        self.last_requested: int | None = None

    def __repr__(self) -> str:
        return f"CursorReplay(initial={self.initial})"

    async def get_replay_id(self, subscription: str) -> int | None:
        stored = await self._cursor.get_cursor(subscription)
        # a CometD replayId is an int; anything else under this key is not one of ours: start as if none were stored
        self.last_requested = stored if isinstance(stored, int) else self.initial
        return self.last_requested

    async def insert_replay_id(self, message: JsonObject) -> None:
        if self.replay_fallback is not None:
            self.last_requested = int(self.replay_fallback)
        await super().insert_replay_id(message)

    async def get_replay_marker(self, subscription: str) -> ReplayMarker | None:
        return None

    async def set_replay_marker(self, subscription: str, replay_marker: ReplayMarker) -> None:
        """Never stores: the ingest flow advances the cursor only after the inbox commit."""


class StreamObserver(Extension):
    """Watches raw traffic: activity for the watchdog, and trouble the library would not surface."""

    def __init__(self, channel: str, on_activity: Callable[[], None],
                 on_trouble: Callable[[str], None]) -> None:
        self._channel = channel
        self._on_activity = on_activity
        self._on_trouble = on_trouble

    async def outgoing(self, payload: Payload, headers: Headers) -> None:
        for message in payload:
            if message.get("channel") == "/meta/handshake":
                ext = message.setdefault("ext", {})
                ext["replay"] = True

    async def incoming(self, payload: Payload, headers: Headers | None = None) -> None:
        self._on_activity()
        for message in payload:
            if message.get("successful", True):
                continue
            error = str(message.get("error") or "")
            channel = message.get("channel")
            if channel == "/meta/connect" and error.startswith(UNKNOWN_CLIENT):
                self._on_trouble("unknown_client")
            elif channel == "/meta/subscribe" and message.get("subscription") == self._channel:
                self._on_trouble("invalid_replay" if is_invalid_replay(error) else "subscribe_failed")


class StreamClient(Client):
    """aiosfstream Client with our endpoint, TLS, cookie jar, replay storage and observer."""

    def __init__(self, authenticator: TokenAuthenticator, *, cometd_url: str, replay: CursorReplay,
                 observer: StreamObserver, ssl: ssl_module.SSLContext | None,
                 connection_timeout: float = 10.0) -> None:
        super().__init__(authenticator, replay=replay, replay_storage_policy=ReplayMarkerStoragePolicy.MANUAL,
                         connection_timeout=connection_timeout)
        self._cometd_url = cometd_url
        self.ssl = ssl
        self.extensions = [replay, observer]
        # Salesforce speaks long-polling only; do not offer websocket in the handshake.
        self._connection_types = [ConnectionType.LONG_POLLING]
        self.http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"StreamClient(url={self._cometd_url!r})"

    async def open(self) -> None:
        """Authenticate through our provider, then handshake + first connect on our URL."""
        assert isinstance(self.auth, TokenAuthenticator)
        await self.auth.authenticate()
        self.url = self._cometd_url
        await CometdClient.open(self)

    async def _get_http_session(self) -> aiohttp.ClientSession:
        if self.http is None or self.http.closed:
            # unsafe=True keeps cookies from IP-literal hosts (loopback); the server needs them echoed
            self.http = aiohttp.ClientSession(json_serialize=self._json_dumps,
                                              cookie_jar=aiohttp.CookieJar(unsafe=True))
            self._http_session = self.http
        return self.http

    async def force_close(self) -> None:
        """Release the HTTP session without talking to the server (used when a polite close hangs)."""
        self._closed = True
        if self.http is not None and not self.http.closed:
            await self.http.close()


def describe_error(exc: BaseException) -> str:
    """A short reason for logs, without secrets (aiocometd errors carry the server's error string)."""
    error = getattr(exc, "error", None)
    if isinstance(error, str) and error:
        return f"{type(exc).__name__}: {error}"
    args: tuple[Any, ...] = getattr(exc, "args", ())
    first = str(args[0]) if args else ""
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


def quiet_cancelled_connect(loop: asyncio.AbstractEventLoop) -> None:
    """Install a loop exception handler that drops aiocometd's cancelled-connect callback error.

    aiocometd's ``TransportBase._connect_done`` calls ``future.result()`` on its connect task; when a close
    cancels that task the callback raises ``CancelledError`` and asyncio logs "Exception in callback" at
    error level on every clean shutdown. Everything else goes to the previous (or default) handler.
    """
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), asyncio.CancelledError) and "_connect_done" in repr(
                context.get("handle")):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
