"""FulfillmentOrder status events over the gRPC Pub/Sub API (``eventbus.v1.PubSub``), with flow control.

:class:`PubSubStream` is the second transport beside CometD's :class:`~worker.salesforce.stream.FoEventStream`:
the same endless iterator of :class:`StreamEvent` and the same guarantees, plus backpressure.

* Open: wait until every event delivered before is committed (the stored replay id is then exact), read it, check
  the topic once (``GetTopic``), ``Subscribe`` with ``replay_preset`` CUSTOM from the stored replay id, else
  LATEST/EARLIEST per ``initial_replay``. Auth is the metadata ``accesstoken``/``instanceurl``/``tenantid``.
* Flow control (:class:`~worker.salesforce.pubsub_flow.FlowWindow`): events are asked for with ``num_requested``
  only as the ingest's commits (:meth:`committed`) free the window: at most ``num_requested`` events are ever
  held outside the store, whatever the backlog.
* Payloads are Avro; each schema id's schema is fetched once (``GetSchema``) and cached (:mod:`.pubsub_decode`).
* An empty keepalive response's ``latest_replay_id`` is yielded as a cursor-only item, so a quiet channel's
  stored replay id stays inside the retention window.
* Errors (:func:`~worker.salesforce.pubsub_flow.classify`): UNAUTHENTICATED drops the refused token and
  resubscribes with a fresh one (at once the first time, then with backoff); a corrupted/expired replay id
  resubscribes at LATEST, then runs the same reconciliation as CometD's invalid replay id; anything else
  (UNAVAILABLE, a reset stream, silence beyond ``keepalive_seconds`` while events are requested) reopens with
  backoff from the stored replay id.
* Gaps: a subscription at LATEST without a stored replay id cannot say where an earlier one stood, so once it has
  its first answer (or after ``FIRST_ANSWER_WAIT``) it calls ``on_gap(reason)``, as after a refused replay id or a
  switch from CometD: ``reopened_at_latest``, or ``first_subscription`` for the process's first (the app sweeps
  for it only if the start-up sweep, which waits for ``status.positioned``, already ran). A subscription that
  fails before answering reconciles nothing and leaves the gap to the next one.

The stream never writes the cursor; the ingest does, after the inbox commit (its key is ``pubsub:<channel>``:
an opaque replay id never meets CometD's integer one).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc
import structlog

from worker._pubsub_pb import pubsub_api_pb2 as pb
from worker._pubsub_pb import pubsub_api_pb2_grpc as pb_grpc
from worker.config import SalesforceConfig
from worker.config.worker_section import PubSubConfig
from worker.errors import PermanentError
from worker.retry import RetryPolicy
from worker.salesforce.auth import Token, TokenProvider
from worker.salesforce.cometd import describe_error
from worker.salesforce.pubsub_decode import Decoder
from worker.salesforce.pubsub_flow import Action, FlowWindow, classify, replay_text
from worker.salesforce.pubsub_rpc import error_code, metadata, open_channel
from worker.salesforce.stream_types import (
    OPEN_TIMEOUT,
    STORE_RETRY,
    STREAM_RETRY,
    CursorUnavailable,
    SeenIds,
    StreamEvent,
    StreamStatus,
)

__all__ = ["PubSubStream"]

log = structlog.get_logger(__name__)
CursorGetter = Callable[[str], Awaitable[int | bytes | None]]
_LATEST_GAPS = ("first_subscription", "reopened_at_latest")  # gaps a stored replay id closes by itself
FIRST_ANSWER_WAIT = 5.0  # a LATEST subscription with a gap behind it: how long to wait for its first answer


class _Reopen(Exception):
    """The subscription must be reopened for a reason of our own (silence, the server ended the stream)."""


class PubSubStream:
    name = "pubsub"

    def __init__(self, sf: SalesforceConfig, tokens: TokenProvider, cursor: Any, settings: PubSubConfig, *,
                 channel: str = "/event/FOStatusChangedEvent", initial_replay: int = -1,
                 on_gap: Callable[[str], Awaitable[None]] | None = None,
                 retry: RetryPolicy = STREAM_RETRY, store_retry: RetryPolicy = STORE_RETRY) -> None:
        self.channel, self.cursor_key = channel, f"pubsub:{channel}"
        self.keepalive_seconds = settings.keepalive_seconds
        self.window = FlowWindow(settings.num_requested)
        self.status = StreamStatus(transport="pubsub", window=settings.num_requested, requested=0, outstanding=0)
        self._sf, self._settings, self._tokens, self._cursor = sf, settings, tokens, cursor
        self._preset = pb.ReplayPreset.EARLIEST if initial_replay == -2 else pb.ReplayPreset.LATEST
        self._on_gap = on_gap
        self._retry, self._store_retry = retry, store_retry
        self._decoder = Decoder(channel)  # Avro payloads; GetSchema once per schema id
        self._topic_checked = False
        self._switch_checked = False  # looked for CometD's cursor once (see _switched_from_cometd)
        self._used: Token | None = None  # the token of the current subscription (invalidated when refused)
        self._from: bytes | None = None  # the replay id the current subscription resumed from (None: a preset)
        self._reconcile: str | None = None  # why to reconcile once the LATEST subscription stands
        self._stood = False  # a subscription stood before (a LATEST reopen without a stored id is a gap)
        self._reader: asyncio.Future[Any] | None = None  # the pending read of the current subscription
        self._wake = asyncio.Event()  # commits freed the window
        self._last_activity = time.monotonic()

    def __repr__(self) -> str:
        return f"PubSubStream(target={self._settings.target!r}, topic={self.channel!r})"

    # ---- the ingest's commit hook ------------------------------------------------------------------------
    def committed(self, events: Sequence[Any]) -> None:
        """The ingest stored ``events``: free their part of the window (more may be asked for now)."""
        self.window.committed(sum(1 for event in events if not event.keepalive))
        last = events[-1].replay_id if events else None
        if isinstance(last, bytes):
            self.status.last_replay_id = replay_text(last)
        self._show()
        self._wake.set()

    def _show(self) -> None:
        self.status.requested, self.status.outstanding = self.window.requested, self.window.uncommitted

    def _activity(self) -> None:
        self._last_activity = time.monotonic()
        self.status.last_message_at = time.time()

    # ---- the endless iterator ----------------------------------------------------------------------------
    async def events(self) -> AsyncIterator[StreamEvent]:
        """Events (and keepalive cursors) in stream order, forever; reopens as the module docstring says."""
        seen = SeenIds()
        failures = store_failures = 0
        token_refreshed = False
        while True:
            reason, store_down, at_once = "ended", False, False
            try:
                async for item in self._subscription(seen):
                    failures, token_refreshed = 0, False
                    yield item
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except CursorUnavailable as exc:
                reason, store_down = f"store: {exc}", True
            except grpc.aio.AioRpcError as exc:
                code = error_code(exc)
                action = classify(exc.code().name, code)
                reason = f"{exc.code().name} {code or ''} {(exc.details() or '')[:200]}".strip()
                if action is Action.REFRESH_AUTH:  # a refused token is never reused; only the first retry is at once
                    at_once, token_refreshed = not token_refreshed, True
                    if self._used is not None:
                        await self._tokens.invalidate(self._used)
                elif action is Action.INVALID_REPLAY:
                    log.warning("stream_invalid_replay", channel=self.channel, transport="pubsub",
                                replay_id=replay_text(self._from), error=reason)
                    self._preset, self._reconcile, at_once = pb.ReplayPreset.LATEST, "invalid_replay", True
                elif action is Action.REFUSED:
                    log.error("stream_refused", channel=self.channel, error=reason)
            except Exception as exc:
                reason = describe_error(exc)
            finally:
                self.status.connected = self.status.positioned = False
            if store_down:
                store_failures += 1
                delay = self._store_retry.delay_for(store_failures)
            else:
                failures, store_failures = failures + (0 if at_once else 1), 0
                delay = 0.0 if at_once else self._retry.delay_for(failures)
            self.status.reconnects += 1
            log.warning("stream_reopened", channel=self.channel, transport="pubsub", reason=reason,
                        attempt=store_failures if store_down else failures, delay_s=round(delay, 3))
            await asyncio.sleep(delay)

    async def _drained(self) -> None:
        """Wait until every delivered event is committed: the stored replay id is then the one to resume from."""
        while self.window.uncommitted > 0:
            self._wake.clear()
            await self._wake.wait()

    async def _subscription(self, seen: SeenIds) -> AsyncIterator[StreamEvent]:
        await self._drained()
        try:
            stored = await self._cursor.get_cursor(self.cursor_key)
            if stored is None and not self._switch_checked:
                await self._switched_from_cometd()
        except Exception as exc:
            raise CursorUnavailable(describe_error(exc)) from exc
        token = self._used = await self._tokens.token()
        md = metadata(token)
        channel = open_channel(self._settings, self._sf)
        call: Any = None
        try:
            stub = pb_grpc.PubSubStub(channel)
            async with asyncio.timeout(OPEN_TIMEOUT):
                await self._check_topic(stub, md)
            call = stub.Subscribe(metadata=md)
            self.window.resubscribed()
            first = pb.FetchRequest(topic_name=self.channel, num_requested=self.window.next_request())
            self._from = stored if isinstance(stored, bytes) and self._reconcile != "invalid_replay" else None
            if self._from is not None:
                first.replay_preset, first.replay_id = pb.ReplayPreset.CUSTOM, self._from
                if self._reconcile in _LATEST_GAPS:  # a replay id was stored meanwhile (another replica)
                    self._reconcile = None
            else:
                first.replay_preset = self._preset
                if self._preset == pb.ReplayPreset.LATEST and self._reconcile is None:
                    # no replay id names where an earlier subscription stood: what was published since is behind
                    # LATEST; for the process's first one, the start-up sweep covers it unless it already ran
                    self._reconcile = "reopened_at_latest" if self._stood else "first_subscription"
            await call.write(first)
            self.window.asked(first.num_requested)
            self._activity()
            self._show()
            self.status.connected = True
            log.info("stream_subscribed", channel=self.channel, transport="pubsub",
                     replay_preset=pb.ReplayPreset.Name(first.replay_preset),
                     replay_from=replay_text(first.replay_id) if first.replay_id else None)
            if self._reconcile is None or await self._reconcile_after_first_answer(call):
                self._stood = self.status.positioned = True
            while True:
                if self._reader is None:
                    self._reader = asyncio.ensure_future(call.read())
                if not await self._wait(self._reader):
                    await self._ask_more(call)
                    continue
                response, self._reader = self._reader.result(), None
                if response is grpc.aio.EOF:
                    raise _Reopen("the server ended the stream")
                self._activity()
                async for item in self._items(stub, md, response, seen):
                    yield item
        finally:
            reader, self._reader = self._reader, None
            if reader is not None:  # a read still pending (or failed) when the subscription ends: reap it
                reader.cancel()
                with contextlib.suppress(BaseException):
                    await reader
            if call is not None:
                call.cancel()
            with contextlib.suppress(Exception):
                await channel.close(grace=None)

    async def _switched_from_cometd(self) -> None:
        """No Pub/Sub cursor but CometD's (the channel is its key): the deployment switched transports, and what was
        published between CometD's last commit and this subscription is in neither stream. Reconciled as after a
        refused replay id: LATEST, then the sweep (also when the periodic reconciliation is switched off)."""
        switched = await self._cursor.get_cursor(self.channel) is not None  # a failed read is checked again
        self._switch_checked = True
        if switched:
            log.warning("stream_transport_switched", channel=self.channel, transport="pubsub", previous="cometd")
            self._preset, self._reconcile = pb.ReplayPreset.LATEST, "transport_switch"

    async def _reconcile_after_first_answer(self, call: Any) -> bool:
        """A subscription at LATEST with a gap behind it (``_reconcile`` says why): once the server answered (or
        after a short wait, as a subscription has no acknowledgement), reconcile. An FO reaching its status before
        that is in the sweep's query; one after it arrives as an event. The first answer stays in ``_reader`` for
        the loop. A subscription that failed before answering reconciles nothing (False): the gap is still
        there for the next one."""
        self._reader = reader = asyncio.ensure_future(call.read())
        await asyncio.wait({reader}, timeout=min(FIRST_ANSWER_WAIT, self.keepalive_seconds))  # silence: watchdog
        if reader.done() and (reader.cancelled() or reader.exception() is not None or reader.result() is grpc.aio.EOF):
            return False
        if self._on_gap is not None and self._reconcile is not None:
            await self._on_gap(self._reconcile)
        self._last_activity = time.monotonic()  # the watchdog counts from the end of this wait and sweep
        self._reconcile = None
        return True

    async def _ask_more(self, call: Any) -> None:
        n = self.window.next_request()
        if n:
            await call.write(pb.FetchRequest(topic_name=self.channel, num_requested=n))
            self.window.asked(n)
            self._last_activity = time.monotonic()  # the watchdog counts from the request
            self._show()

    async def _wait(self, reader: asyncio.Future[Any]) -> bool:
        """True once ``reader`` is done; False when commits freed enough of the window to ask for more. Silence
        counts only while events are requested (waiting for our own store is backpressure, not silence)."""
        while True:
            if reader.done():
                return True
            if self.window.next_request():
                return False
            self._wake.clear()
            timeout = None
            if self.window.requested > 0:
                timeout = self.keepalive_seconds - (time.monotonic() - self._last_activity)
                if timeout <= 0:
                    log.warning("stream_silent", channel=self.channel, keepalive_s=self.keepalive_seconds)
                    raise _Reopen("silent")
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({reader, waker}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waker.cancel()

    async def _items(self, stub: Any, md: Any, response: Any, seen: SeenIds) -> AsyncIterator[StreamEvent]:
        """One FetchResponse -> events (and, for an empty one, its latest replay id as a cursor-only item)."""
        decoded: list[StreamEvent] = []
        for consumer in response.events:
            replay_id = bytes(consumer.replay_id)
            if replay_id not in seen:
                decoded.append(await self._decoder.event(stub, md, consumer, replay_id))
        # remembered only once the whole response is decoded: a failed GetSchema (the reopen replays the batch)
        # must not leave events marked as delivered
        fresh = [event for event in decoded if seen.add(event.replay_id)]
        # the server counts every event it sent; the window holds those the ingest will commit
        self.window.delivered(len(response.events), kept=sum(1 for event in fresh if not event.keepalive))
        self._show()
        if not response.events and response.latest_replay_id:
            latest = bytes(response.latest_replay_id)
            if seen.add(latest):
                fresh.append(StreamEvent(replay_id=latest, event_uuid=None, fulfillment_order_id=None,
                                         new_status=None, old_status=None, order_summary_id=None, payload={},
                                         channel=self.channel, keepalive=True))
        for item in fresh:
            yield item

    async def _check_topic(self, stub: Any, md: Any) -> None:
        if self._topic_checked:
            return
        info = await stub.GetTopic(pb.TopicRequest(topic_name=self.channel), metadata=md)
        if not info.can_subscribe:
            raise PermanentError("salesforce", f"Pub/Sub topic {self.channel} does not allow subscribing")
        self._topic_checked = True
