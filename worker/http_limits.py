"""Limits on slow, stuck or too many HTTP clients of the worker's server (``worker.http`` in the config).

What aiohttp 3.14 offers and what it does not, and what is built here:

* **Keep-alive**: aiohttp's ``keepalive_timeout`` closes a connection that waits for its next request longer
  than that (armed at connect and after every response). Passed through as ``keepalive_timeout_seconds``
  (aiohttp's default is 3,630 s). Keep it above the idle timeout of any load balancer in front.
* **Header read**: aiohttp has no timeout of its own for a request whose headers trickle in (its keep-alive
  timer covers only the first request of a connection, and at the keep-alive length). Built here: the site
  wraps each connection's protocol (:class:`GuardedProtocol`); the first byte of a request arms a timer of
  ``header_read_timeout_seconds``, and the :func:`track_requests` middleware disarms it when the request
  reaches the application. A connection still without complete headers when it fires is answered 408 (just
  closed if it already served a request, so no stray answer follows a response) and closed.
* **Body read**: aiohttp has no body timeout either (``read_timeout`` does not exist on the server side).
  Handlers read bodies through :func:`read_body`, which runs under ``asyncio.timeout`` of
  ``body_read_timeout_seconds`` (the whole body, not per chunk, so a trickle cannot stretch it) and raises
  ``TimeoutError``; the handlers answer 408 and close the connection. An unread body after a response is
  drained by aiohttp's ``lingering_time``, set to at most the body timeout.
* **Connection cap**: asyncio's ``create_server`` has no accept limit. :class:`GuardedSite` counts open
  connections in its protocol factory; one over ``max_connections`` is answered 503 (``Retry-After: 1``)
  and closed before any request is parsed, independent of middlewares and routes. ``/healthz`` shares the
  cap; the header and keep-alive timeouts are what free slots held by slow clients.
* **Request line**: ``max_request_line_bytes`` is aiohttp's ``max_line_size`` (default 8,190), raised to
  16 KiB so that an over-long ``?api_key=`` still reaches the SPI key check (401) instead of the parser's
  400; header fields keep aiohttp's 8,190-byte and 128-header limits, bodies the app's ``client_max_size``.
* ``handler_cancellation`` stays off: a client that hangs up must not cancel a webhook's store commit halfway.

Without a :class:`GuardedSite` (tests that use a plain ``TCPSite``) the middleware does nothing and bodies
use the default body timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

import structlog
from aiohttp import web

from worker.config import HttpConfig

log = structlog.get_logger(__name__)
_BUSY_BODY = b'{"errorCode":"BUSY","errorMessage":"too many open connections; retry shortly"}'
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY)
HEADER_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
DEFAULT_BODY_TIMEOUT = HttpConfig().body_read_timeout_seconds


def server_options(http: HttpConfig) -> dict[str, Any]:
    """Keyword arguments for ``web.AppRunner`` (passed on to aiohttp's per-connection handler)."""
    return {"keepalive_timeout": http.keepalive_timeout_seconds, "max_line_size": http.max_request_line_bytes,
            "lingering_time": min(10.0, http.body_read_timeout_seconds)}


class ConnectionGuard:
    """Open-connection count and the counters tests and logs read (refused over the cap, header timeouts)."""

    def __init__(self, limits: HttpConfig) -> None:
        self.limits = limits
        self.open = 0
        self.refused = 0
        self.header_timeouts = 0

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: GuardedProtocol(self, inner)


class GuardedProtocol(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection: the cap at connect, the header timer on every request."""

    def __init__(self, guard: ConnectionGuard, make_inner: Callable[[], asyncio.Protocol]) -> None:
        self.guard = guard
        self._make_inner = make_inner
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._busy = False
        self._served = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        if self.guard.open >= self.guard.limits.max_connections:
            self.guard.refused += 1
            if self.guard.refused % 100 == 1:
                log.warning("http_connection_refused", open=self.guard.open, refused=self.guard.refused,
                            max_connections=self.guard.limits.max_connections)
            self._transport.write(BUSY)
            self._transport.close()
            return
        self.guard.open += 1
        self._inner = self._make_inner()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if not self._busy and self._deadline is None:
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_later(self.guard.limits.header_read_timeout_seconds, self._headers_late)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        inner, self._inner = self._inner, None
        if inner is not None:
            self.guard.open -= 1
            inner.connection_lost(exc)

    def request_started(self) -> None:
        self._busy, self._served = True, True
        self._disarm()

    def request_finished(self) -> None:
        self._busy = False

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_late(self) -> None:
        self._deadline = None
        transport = self._transport
        if self._busy or transport is None or transport.is_closing():
            return
        self.guard.header_timeouts += 1
        if not self._served:
            transport.write(HEADER_TIMEOUT)
        transport.close()


class GuardedSite(web.TCPSite):
    """``web.TCPSite`` on ``limits.host``/``limits.port`` whose connections go through a :class:`ConnectionGuard`."""

    def __init__(self, runner: web.BaseRunner, limits: HttpConfig, *, backlog: int = 128) -> None:
        super().__init__(runner, limits.host, limits.port, backlog=backlog)
        self.guard = ConnectionGuard(limits)

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site; TCPSite.start would serve the unguarded factory
        server = self._runner.server
        assert server is not None, "runner.setup() first"
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.guard.factory(server), self._host, self._port, backlog=self._backlog,
            reuse_address=self._reuse_address, reuse_port=self._reuse_port)
        sockets = getattr(self._server, "sockets", None) or ()
        self._bound_port = int(sockets[0].getsockname()[1]) if sockets else self._port


def _guarded(request: web.Request) -> GuardedProtocol | None:
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, GuardedProtocol) else None


@web.middleware
async def track_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Tells the connection's guard a request reached the application (its headers are complete)."""
    guarded = _guarded(request)
    if guarded is None:
        return await handler(request)
    guarded.request_started()
    try:
        return await handler(request)
    finally:
        guarded.request_finished()


def body_read_timeout(request: web.Request) -> float:
    guarded = _guarded(request)
    return guarded.guard.limits.body_read_timeout_seconds if guarded is not None else DEFAULT_BODY_TIMEOUT


async def read_body(request: web.Request, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body within the body-read timeout (``TimeoutError`` past it).

    ``StreamReader.read(n)`` returns what is buffered, not n bytes, hence the loop.
    """
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(body_read_timeout(request)):
        while size < limit:
            chunk = await request.content.read(limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks)
