"""The FulfillmentOrder status event stream (CometD ``/event/FOStatusChangedEvent``) that never gives up.

:meth:`FoEventStream.events` is an endless async iterator of :class:`StreamEvent`. Underneath, an
aiosfstream-ng client is opened (handshake, connect, subscribe from the *stored* replay id) and reopened when:

* the library's iterator raises or ends (the aiocometd-ng wheel ends it at once on a transient disconnect);
* the server answers ``403::Unknown client`` (full re-handshake **and** re-subscribe);
* the server says nothing for ``keepalive_seconds`` (a healthy long-poll answers at least every 110 s);
* a re-subscribe fails.

Reopens back off by a RetryPolicy and always resume from the store's cursor, so nothing is lost (replays of
already-stored events are harmless: the inbox's unique keys drop them; this iterator also skips replay ids it
has already yielded). An invalid replay id (``400::The replayId {N} you provided was invalid.``) resubscribes at
-1 and then calls ``on_gap("invalid_replay")`` (the app reconciles and resets the cursor): in that order, every FO
that reached a status to process is either in the sweep's query or delivered as a new event. A reopen at -1 after an
earlier subscription (no replay id stored yet) cannot resume where that one stood either: once subscribed it calls
``on_gap("reopened_at_latest")`` (``"first_subscription"`` for the process's first: the app sweeps for it only if
the start-up sweep, which waits for the subscription, already ran).

The stream never writes the cursor: the ingest flow advances it only after the inbox commit. It reads it, from the
store, before each open: while the store is unavailable no handshake is spent, and the retries follow the store's
short backoff (``store_retry``), not Salesforce's, so the stream is back within seconds of the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import structlog
from aiocometd_ng.exceptions import ServerError as CometdServerError
from aiosfstream_ng.replay import ReplayOption

from worker.config import SalesforceConfig
from worker.errors import PermanentError, ServiceError, TransientError
from worker.retry import RetryPolicy
from worker.salesforce.auth import TokenProvider, make_ssl_context
from worker.salesforce.cometd import (
    CursorReplay,
    CursorSource,
    StreamClient,
    StreamObserver,
    TokenAuthenticator,
    describe_error,
    is_invalid_replay,
)
from worker.salesforce.stream_types import (
    OPEN_TIMEOUT,
    STORE_RETRY,
    STREAM_RETRY,
    CursorUnavailable,
    SeenIds,
    StreamEvent,
    StreamStatus,
)

__all__ = ["CursorSource", "FoEventStream", "parse_event", "probe_subscription"]

log = structlog.get_logger(__name__)
CLOSE_TIMEOUT = 5.0


def _opt(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def parse_event(message: dict[str, Any]) -> StreamEvent | None:
    """A platform-event message -> StreamEvent; None if it carries no replay id (not an event)."""
    data = message.get("data")
    if not isinstance(data, dict):
        return None
    raw_event, raw_payload = data.get("event"), data.get("payload")
    event: dict[str, Any] = raw_event if isinstance(raw_event, dict) else {}
    payload: dict[str, Any] = raw_payload if isinstance(raw_payload, dict) else {}
    try:
        replay_id = int(event["replayId"])
    except (KeyError, TypeError, ValueError):
        return None
    return StreamEvent(
        replay_id=replay_id,
        event_uuid=_opt(event.get("EventUuid") or payload.get("EventUuid")),
        fulfillment_order_id=_opt(payload.get("FulfillmentOrderId")),
        new_status=_opt(payload.get("NewStatus")),
        old_status=_opt(payload.get("OldStatus")),
        order_summary_id=_opt(payload.get("OrderSummaryId")),
        payload=dict(payload),
        channel=str(message.get("channel") or ""),
    )


class FoEventStream:
    """The CometD transport (see the module docstring); its cursor key is the channel itself."""

    name = "cometd"

    def __init__(
        self,
        sf: SalesforceConfig,
        tokens: TokenProvider,
        cursor: CursorSource,
        *,
        channel: str = "/event/FOStatusChangedEvent",
        keepalive_seconds: float = 150.0,
        initial_replay: int = -1,
        ssl: Any = None,
        on_gap: Callable[[str], Awaitable[None]] | None = None,
        retry: RetryPolicy = STREAM_RETRY,
        store_retry: RetryPolicy = STORE_RETRY,
        connection_timeout: float = 10.0,
    ) -> None:
        self.channel = channel
        self.cursor_key = channel
        self.keepalive_seconds = keepalive_seconds
        self.status = StreamStatus()
        self._tokens = tokens
        self._cursor = cursor
        self._url = f"{sf.base_url}/cometd/{sf.api_number}"
        self._ssl = ssl if ssl is not None else make_ssl_context(sf)
        self._initial = initial_replay
        self._on_gap = on_gap
        self._retry, self._store_retry = retry, store_retry
        self._connection_timeout = connection_timeout
        self._replay = CursorReplay(cursor, initial_replay)
        self._stood = False  # a subscription was made before (a reopen at -1 without a stored id is a gap)
        self._trouble: str | None = None
        self._trouble_event = asyncio.Event()
        self._last_activity = time.monotonic()

    def __repr__(self) -> str:
        return f"FoEventStream(url={self._url!r}, channel={self.channel!r})"

    def committed(self, events: Sequence[Any]) -> None:
        """The ingest stored ``events``: CometD has no flow control, only the status learns the replay id."""
        ids = [e.replay_id for e in events if isinstance(e.replay_id, int)]
        if ids:
            self.status.last_replay_id = str(max(ids))

    # ---- wiring for the library's hooks ----------------------------------------------------------------
    def _activity(self) -> None:
        self._last_activity = time.monotonic()
        self.status.last_message_at = time.time()

    def _report(self, reason: str) -> None:
        if self._trouble is None:
            self._trouble = reason
        self._trouble_event.set()

    def _client(self) -> StreamClient:
        observer = StreamObserver(self.channel, self._activity, self._report)
        return StreamClient(TokenAuthenticator(self._tokens), cometd_url=self._url, replay=self._replay,
                            observer=observer, ssl=self._ssl, connection_timeout=self._connection_timeout)

    # ---- open / subscribe / close ----------------------------------------------------------------------
    async def _open(self) -> StreamClient:
        try:  # the replay id comes from the store: make sure it can be read before Salesforce is asked
            await self._cursor.get_cursor(self.channel)
        except Exception as exc:
            raise CursorUnavailable(describe_error(exc)) from exc
        client = self._client()
        bound = max(self.keepalive_seconds, OPEN_TIMEOUT)  # a silent handshake/connect must not hang
        try:
            async with asyncio.timeout(bound):
                await client.open()
                refused = await self._subscribe(client)
            if refused is not None:
                log.warning("stream_invalid_replay", channel=self.channel,
                            replay_id=self._replay.last_requested, error=refused)
                self._replay.initial = -1  # resume at -1, also on later reopens until a cursor is stored
                self._replay.replay_fallback = ReplayOption.NEW_EVENTS
                async with asyncio.timeout(bound):
                    await client.subscribe(self.channel)
            # subscribed: forget the refusal reported above, but not trouble reported while the sweep below runs
            # (a client the server forgot meanwhile is re-subscribed by the library itself, at -1)
            self._trouble = None
            self._trouble_event.clear()
            if refused is not None:
                # Reconcile only once subscribed: an FO reaching a status before the subscribe is in the sweep's
                # query, one after it arrives as an event. Sweeping first would lose those allocated in between.
                if self._on_gap is not None:
                    await self._on_gap("invalid_replay")  # reconciliation: no time bound here
            elif self._replay.last_requested == -1 and self._on_gap is not None:
                # no replay id names where an earlier subscription stood: what was published since is behind -1;
                # for the process's first one, the start-up sweep covers it unless it already ran
                await self._on_gap("reopened_at_latest" if self._stood else "first_subscription")
            self._stood = True
        except BaseException:
            await _close(client)
            raise
        self._last_activity = time.monotonic()
        self.status.connected = self.status.positioned = True
        log.info("stream_subscribed", channel=self.channel, replay_from=self._replay.last_requested)
        return client

    async def _subscribe(self, client: StreamClient) -> str | None:
        """Subscribe; returns the server's error string if it refused the replay id as invalid."""
        try:
            await client.subscribe(self.channel)
        except CometdServerError as exc:
            if not is_invalid_replay(exc.error):
                raise
            return str(exc.error)
        return None

    # ---- the endless iterator --------------------------------------------------------------------------
    async def events(self) -> AsyncIterator[StreamEvent]:
        """Events in arrival order, forever; reopens transparently (see the module docstring)."""
        seen = SeenIds()
        failures = store_failures = 0
        while True:
            client: StreamClient | None = None
            receiver: asyncio.Future[Any] | None = None
            reason, store_down = "ended", False
            try:
                client = await self._open()
                while True:
                    if receiver is None:
                        receiver = asyncio.ensure_future(client.receive())
                    trouble = await self._wait(receiver)
                    if trouble is not None:
                        reason = trouble
                        break
                    message, receiver = receiver.result(), None
                    self._activity()
                    event = parse_event(message)
                    if event is None:
                        log.warning("stream_message_skipped", channel=str(message.get("channel")))
                    elif seen.add(event.replay_id):
                        failures = 0
                        yield event
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except CursorUnavailable as exc:
                reason, store_down = f"store: {exc}", True
            except Exception as exc:
                reason = describe_error(exc)
            finally:
                self.status.connected = self.status.positioned = False
                if receiver is not None and not receiver.done():
                    receiver.cancel()
                    with contextlib.suppress(BaseException):
                        await receiver
                if client is not None:
                    await _close(client)
            if store_down:
                store_failures += 1
                delay = self._store_retry.delay_for(store_failures)
            else:
                failures, store_failures = failures + 1, 0
                delay = self._retry.delay_for(failures)
            self.status.reconnects += 1
            log.warning("stream_reopened", channel=self.channel, reason=reason,
                        attempt=store_failures if store_down else failures, delay_s=round(delay, 3))
            await asyncio.sleep(delay)

    async def _wait(self, receiver: asyncio.Future[Any]) -> str | None:
        """None when ``receiver`` is done; else why the connection must be reopened (trouble or silence)."""
        while True:
            if receiver.done():
                return None
            if self._trouble is not None:
                return self._trouble
            remaining = self.keepalive_seconds - (time.monotonic() - self._last_activity)
            if remaining <= 0:
                log.warning("stream_silent", channel=self.channel, keepalive_s=self.keepalive_seconds)
                return "silent"
            trouble = asyncio.ensure_future(self._trouble_event.wait())
            try:
                await asyncio.wait({receiver, trouble}, timeout=remaining,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                trouble.cancel()


async def _close(client: StreamClient) -> None:
    """Polite close (``/meta/disconnect``) with a bound; a dead server must not hold the reopen."""
    try:
        await asyncio.wait_for(client.close(), CLOSE_TIMEOUT)
    except Exception:
        pass
    finally:
        await client.force_close()


async def probe_subscription(sf: SalesforceConfig, tokens: TokenProvider, channel: str, *,
                             ssl: Any = None) -> None:
    """Handshake, subscribe to ``channel`` (new events only), disconnect; raises a clear error on failure."""

    class _NoCursor:
        async def get_cursor(self, channel: str) -> int | None:
            return None

    url = f"{sf.base_url}/cometd/{sf.api_number}"
    client = StreamClient(TokenAuthenticator(tokens), cometd_url=url, replay=CursorReplay(_NoCursor(), -1),
                          observer=StreamObserver(channel, lambda: None, lambda _reason: None),
                          ssl=ssl if ssl is not None else make_ssl_context(sf))
    try:
        await client.open()
        await client.subscribe(channel)
    except CometdServerError as exc:
        raise PermanentError("salesforce", f"CometD refused: {exc.error or exc.message}") from None
    except ServiceError:
        raise
    except Exception as exc:
        raise TransientError("salesforce", f"CometD unreachable ({describe_error(exc)})") from None
    finally:
        await _close(client)
