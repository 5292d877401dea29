"""Webhook delivery of the emulated POS (reference ``pos-api.md`` §5).

* One URL per endpoint name (ORDER, ORDER_UPDATE, RETURN, BOPIS_EXPORT, BOFIS_EXPORT, STORE_FULFILLMENT),
  static headers from the connector's "JSON Headers", ``Content-Type: application/json``.
* Failure = transport error, HTTP 4xx/5xx, or a 2xx whose JSON body carries ``errorCode``/``errorMessage``.
* No automatic retry (as the real POS): a failed event is kept for a manual repost.
* Fault injection: duplicate delivery (seeded probability), out-of-order delivery (adjacent events swapped),
  a delay before each delivery.
* Deliveries run in ``parallelism`` lanes (a store chain's many registers, default 1): an event goes to the lane
  of its order id (crc32 modulo the lanes; while the order has events queued, the lane they are in, even after the
  lanes changed), so one order's events keep their order while different orders go out side by side; each lane
  delivers one at a time in a background task owned by the app. ``await drain()`` waits for all of them (tests),
  ``stop()`` drains with a bound and then cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import random
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import aiohttp

MAX_PARALLELISM = 256
ENDPOINTS = ("ORDER", "ORDER_UPDATE", "RETURN", "BOPIS_EXPORT", "BOFIS_EXPORT", "STORE_FULFILLMENT")


@dataclass
class WebhookOptions:
    urls: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    duplicate_rate: float = 0.0
    reorder: bool = False
    reorder_window_ms: int = 200  # a held (to be swapped) event goes out alone after this long
    delay_ms: int = 0
    seed: int = 1
    parallelism: int = 1  # delivery lanes (registers); one order's events always share a lane

    @classmethod
    def parse(cls, body: dict[str, Any]) -> WebhookOptions:
        urls = body.get("urls") or {}
        if not isinstance(urls, dict) or any(
            k not in ENDPOINTS or not isinstance(v, str) for k, v in urls.items()
        ):
            raise ValueError(f"urls: expected a mapping of {', '.join(ENDPOINTS)} to URLs")
        headers = body.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ValueError("headers: expected a mapping of header names to strings")
        rate = float(body.get("duplicate_rate", 0) or 0)
        if not 0 <= rate <= 1:
            raise ValueError("duplicate_rate: expected a number between 0 and 1")
        return cls(
            urls=dict(urls),
            headers=dict(headers),
            duplicate_rate=rate,
            reorder=bool(body.get("reorder")),
            reorder_window_ms=int(body.get("reorder_window_ms", 200)),
            delay_ms=int(body.get("delay_ms", 0) or 0),
            seed=int(body.get("seed", 1)),
            parallelism=_parallelism(body.get("parallelism", 1)),
        )


def _parallelism(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARALLELISM:
        raise ValueError(f"parallelism: expected a whole number from 1 to {MAX_PARALLELISM}")
    return value


@dataclass
class Event:
    id: str
    endpoint: str
    order_id: str
    body: dict[str, Any]
    event_type: str | None = None
    repost: bool = False


def failure_of(status: int, text: str) -> str | None:
    """Why an answer counts as failed (§5), or None for a success."""
    if status >= 300:
        return f"HTTP {status}"
    try:
        body = json.loads(text) if text else None
    except ValueError:
        return None
    if isinstance(body, dict) and (body.get("errorCode") or body.get("errorMessage")):
        return f"HTTP {status} with errorCode {body.get('errorCode')!r}"
    return None


class WebhookSender:
    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self.options = WebhookOptions()
        self.log: list[dict[str, Any]] = []
        self.failed: dict[str, Event] = {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._ids = itertools.count(1)
        self._rng = random.Random(1)
        self._lanes: list[asyncio.Queue[Event]] = [asyncio.Queue()]
        self._held: Event | None = None
        self._held_timer: asyncio.TimerHandle | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._busy: dict[str, tuple[int, int]] = {}  # order id -> (its lane, events queued or in flight there)

    def configure(self, options: WebhookOptions) -> None:
        self.options = options
        self._rng = random.Random(options.seed)
        while len(self._lanes) < options.parallelism:  # lanes only grow: queued events stay where they are
            self._lanes.append(asyncio.Queue())
        if self._session is not None:
            self._start_lanes()

    def _start_lanes(self) -> None:
        for index in range(len(self._tasks), len(self._lanes)):
            self._tasks.append(asyncio.create_task(self._run(self._lanes[index]), name=f"pos-webhook-lane-{index}"))

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._start_lanes()

    async def stop(self, grace_seconds: float = 5.0) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), grace_seconds)
        if self._held_timer is not None:
            self._held_timer.cancel()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()

    async def drain(self) -> None:
        """Wait until every emitted event (including a held, to-be-reordered one) has been delivered."""
        self._release_held()
        for lane in self._lanes:
            await lane.join()

    # ------------------------------------------------------------------ emitting

    def emit(
        self, endpoint: str, body: dict[str, Any], order_id: str, event_type: str | None = None
    ) -> Event:
        event = Event(f"evt-{next(self._ids):06d}", endpoint, order_id, copy.deepcopy(body), event_type)
        self._enqueue(event)
        return event

    def repost(self, event_ids: list[str] | None = None) -> list[Event]:
        """Re-send failed events (all, or the given ids); they leave the failed list until they fail again."""
        chosen = [e for i, e in list(self.failed.items()) if event_ids is None or i in event_ids]
        for event in chosen:
            del self.failed[event.id]
            event.repost = True
            self._enqueue(event)
        return chosen

    def _put(self, event: Event) -> None:
        """The order's lane: the one it already has events in (even after the lanes changed), else by its id."""
        lanes = min(self.options.parallelism, len(self._lanes))
        index, waiting = self._busy.get(event.order_id, (zlib.crc32(event.order_id.encode()) % lanes, 0))
        self._busy[event.order_id] = (index, waiting + 1)
        self._lanes[index].put_nowait(event)

    def _done(self, event: Event) -> None:
        index, waiting = self._busy[event.order_id]
        if waiting > 1:
            self._busy[event.order_id] = (index, waiting - 1)
        else:
            del self._busy[event.order_id]

    def _enqueue(self, event: Event) -> None:
        if not self.options.reorder:
            self._put(event)
            return
        if self._held is None:  # hold it until the next event arrives, then send the newer one first
            self._held = event
            loop = asyncio.get_running_loop()
            self._held_timer = loop.call_later(self.options.reorder_window_ms / 1000, self._release_held)
            return
        held, self._held = self._held, None
        if self._held_timer is not None:
            self._held_timer.cancel()
        self._put(event)
        self._put(held)

    def _release_held(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._put(held)
        if self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None

    # ------------------------------------------------------------------ delivering

    async def _run(self, lane: asyncio.Queue[Event]) -> None:
        while True:
            event = await lane.get()
            try:
                if self.options.delay_ms:
                    await asyncio.sleep(self.options.delay_ms / 1000)
                await self._deliver(event, duplicate=False)
                if self.options.duplicate_rate and self._rng.random() < self.options.duplicate_rate:
                    await self._deliver(event, duplicate=True)
            finally:
                self._done(event)
                lane.task_done()

    async def _deliver(self, event: Event, *, duplicate: bool) -> None:
        url = self.options.urls.get(event.endpoint)
        entry: dict[str, Any] = {
            "id": event.id,
            "endpoint": event.endpoint,
            "orderId": event.order_id,
            "eventType": event.event_type,
            "url": url,
            "status": None,
            "duplicate": duplicate,
            "repost": event.repost,
            "at": int(time.time() * 1000),
        }
        if url is None:
            self.log.append({**entry, "outcome": "skipped", "error": "no URL configured for this endpoint"})
            return
        assert self._session is not None, "sender not started"
        headers = {**self.options.headers, "Content-Type": "application/json"}
        error: str | None
        try:
            async with self._session.post(url, data=json.dumps(event.body), headers=headers) as resp:
                entry["status"] = resp.status
                error = failure_of(resp.status, await resp.text())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"transport error: {type(exc).__name__}"
        self.log.append({**entry, "outcome": "delivered" if error is None else "failed", "error": error})
        if duplicate:
            return  # an injected extra copy does not change whether the event counts as failed
        if error is None:
            self.failed.pop(event.id, None)
        else:
            self.failed[event.id] = event

    def failed_view(self) -> list[dict[str, Any]]:
        return [
            {
                "id": e.id,
                "endpoint": e.endpoint,
                "orderId": e.order_id,
                "eventType": e.event_type,
                "body": e.body,
            }
            for e in self.failed.values()
        ]
