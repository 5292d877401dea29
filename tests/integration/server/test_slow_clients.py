"""Slow and surplus clients against the worker's server (``worker.http`` limits, :mod:`worker.http_limits`).

Hundreds of connections that trickle their headers or body, or say nothing at all, are closed after the
configured timeouts while ``/healthz`` keeps answering; past ``max_connections`` new connections get a 503.
Timings are asserted only against generous bounds (the point is "closed", not "closed at exactly 1.0 s").
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp

KEY = "whk-S3CRET-7f31c2d9"  # the webhook key the server fixture configures
FAST = {"header_read_timeout_seconds": 1.0, "body_read_timeout_seconds": 1.0, "keepalive_timeout_seconds": 1.0}
GENEROUS = 20.0  # seconds: every slow connection must be closed well within this


async def _trickle(url: str, head: bytes, drip: bytes, every: float = 0.2) -> tuple[float, bytes]:
    """Send ``head`` then one byte of ``drip`` (repeated) every ``every`` seconds until the server closes.

    Returns (seconds until the server closed, what it answered).
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    started = time.monotonic()
    answer = asyncio.ensure_future(reader.read())
    try:
        if head:
            writer.write(head)
        i = 0
        while not answer.done() and time.monotonic() - started < GENEROUS + 5:
            if drip:
                try:
                    writer.write(drip[i % len(drip):i % len(drip) + 1])
                    await writer.drain()
                except (ConnectionError, OSError):
                    break
                i += 1
            await asyncio.wait({answer}, timeout=every)
        try:
            data = await asyncio.wait_for(answer, timeout=5)
        except (ConnectionError, OSError):
            data = b""
        return time.monotonic() - started, data
    finally:
        answer.cancel()
        writer.close()


async def _healthz_while(served: Any, busy: asyncio.Future[Any]) -> list[float]:
    """GET /healthz on a fresh connection every 0.25 s until ``busy`` is done; each answer's latency."""
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        while not busy.done():
            started = time.monotonic()
            async with http.get(f"{served.url}/healthz", timeout=aiohttp.ClientTimeout(total=GENEROUS)) as resp:
                assert resp.status == 200
                await resp.read()
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.25)
    return latencies


async def test_trickling_headers_are_cut_off_while_healthz_stays_fast(serve: Any) -> None:
    """200 connections dripping header bytes are answered 408 and closed after header_read_timeout; /healthz answers."""
    served = await serve(http={**FAST, "keepalive_timeout_seconds": 60.0})
    head = f"POST /webhooks/pos/ORDER HTTP/1.1\r\nHost: {urlsplit(served.url).netloc}\r\n".encode()
    slow = asyncio.gather(*(_trickle(served.url, head, b"X-Slow: aaaa\r\n") for _ in range(200)))
    await asyncio.sleep(0.3)
    latencies = await _healthz_while(served, slow)
    results = await slow
    assert len(results) == 200
    assert all(seconds < GENEROUS for seconds, _ in results), max(s for s, _ in results)
    # each got the 408, or a reset: a byte it dripped after the close makes the kernel drop the unread answer
    assert all(data.startswith(b"HTTP/1.1 408") or data == b"" for _, data in results), {d[:20] for _, d in results}
    assert any(data for _, data in results)
    assert min(seconds for seconds, _ in results) >= 0.9  # not before the configured second
    assert served.site.guard.header_timeouts == 200
    assert latencies and max(latencies) < 5.0, latencies
    assert await served.counts() == {}


async def test_trickling_body_is_cut_off_with_408(serve: Any, sale_body: Any) -> None:
    """50 authenticated webhooks whose body drips in are answered 408 after body_read_timeout and closed."""
    served = await serve(http=FAST)
    body = json.dumps(sale_body()).encode()
    head = (f"POST /webhooks/pos/ORDER HTTP/1.1\r\nHost: {urlsplit(served.url).netloc}\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    results = await asyncio.gather(*(_trickle(served.url, head, body) for _ in range(50)))
    assert all(seconds < GENEROUS for seconds, _ in results)
    answered = [data for _, data in results if data]  # the others were reset (see the test above)
    assert answered and all(data.startswith(b"HTTP/1.1 408") and b"REQUEST_TIMEOUT" in data for data in answered)
    timeouts = served.metrics.registry.get_sample_value("oms_webhooks_total", {"endpoint": "ORDER",
                                                                               "outcome": "timeout"})
    assert timeouts == 50
    assert await served.counts() == {}


async def test_trickling_cancel_body_on_the_spi_is_cut_off(serve: Any) -> None:
    """A cancel SPI body dripping in is answered 408 after body_read_timeout; nothing is submitted."""
    served = await serve(http=FAST)
    head = (f"POST /spi/1.0/orders/00001001/cancel?api_key=spi-S3CRET-41d2aa HTTP/1.1\r\n"
            f"Host: {urlsplit(served.url).netloc}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
            ).encode()
    seconds, data = await _trickle(served.url, head, b'{"reason": "slow"   ')
    assert seconds < GENEROUS and (data.startswith(b"HTTP/1.1 408") or data == b""), data[:60]  # or reset
    assert served.org.actions == []


async def test_silent_connections_are_closed_after_keepalive(serve: Any) -> None:
    """100 connections that never send a byte are closed after keepalive_timeout (no answer needed)."""
    served = await serve(http=FAST)
    results = await asyncio.gather(*(_trickle(served.url, b"", b"") for _ in range(100)))
    assert all(seconds < GENEROUS for seconds, _ in results)
    assert served.site.guard.open == 0


async def test_idle_keepalive_connection_is_closed_after_a_request(serve: Any) -> None:
    """After a complete request and answer, an idle keep-alive connection is closed after keepalive_timeout."""
    served = await serve(http=FAST)
    host = urlsplit(served.url).netloc
    parts = urlsplit(served.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        started = time.monotonic()
        data = await asyncio.wait_for(reader.read(), timeout=GENEROUS)  # the answer, then EOF when closed
    finally:
        writer.close()
    assert data.startswith(b"HTTP/1.1 200") and b"408" not in data.split(b"\r\n\r\n", 1)[1]
    assert time.monotonic() - started < GENEROUS


async def test_connections_over_the_cap_get_503_until_slots_free_up(serve: Any) -> None:
    """With max_connections 20, a 21st connection is answered 503 BUSY; once idle ones time out it is served."""
    served = await serve(http={**FAST, "keepalive_timeout_seconds": 2.0, "max_connections": 20})
    parts = urlsplit(served.url)
    idle = [await asyncio.open_connection(parts.hostname, parts.port) for _ in range(20)]
    try:
        await asyncio.sleep(0.2)
        assert served.site.guard.open == 20
        _, data = await _trickle(served.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"")
        assert data.startswith(b"HTTP/1.1 503") and b'"errorCode":"BUSY"' in data and b"Retry-After: 1" in data
        assert served.site.guard.refused >= 1

        async def healthy() -> bool:
            try:
                async with served.http.get(f"{served.url}/healthz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        deadline = time.monotonic() + GENEROUS
        while not await healthy():
            assert time.monotonic() < deadline, "slots never freed"
            await asyncio.sleep(0.2)
    finally:
        for _, writer in idle:
            writer.close()
