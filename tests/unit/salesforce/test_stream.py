"""FoEventStream against a small fake CometD server: events, replay from the store, and every reopen path."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import structlog

from worker.errors import TransientError
from worker.retry import RetryPolicy
from worker.salesforce.auth import TokenProvider
from worker.salesforce.cometd import is_invalid_replay
from worker.salesforce.stream import FoEventStream, parse_event, probe_subscription
from worker.salesforce.stream_types import StreamEvent

from .conftest import FakeCometd, FakeSalesforce, auth_config, sf_config

CHANNEL = "/event/FOStatusChangedEvent"
FAST = RetryPolicy(attempts=1000, base_delay=0.01, max_delay=0.05)
WAIT = 15.0  # generous bound for "eventually"; never asserted on


class Cursor:
    def __init__(self, value: int | None = None) -> None:
        self.value = value
        self.reads = 0

    async def get_cursor(self, channel: str) -> int | None:
        self.reads += 1
        return self.value


class Running:
    """Drains events() into a queue in the background."""

    def __init__(self, stream: FoEventStream) -> None:
        self.stream = stream
        self.queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        async for event in self.stream.events():
            await self.queue.put(event)

    async def next(self) -> StreamEvent:
        return await asyncio.wait_for(self.queue.get(), WAIT)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def until(check: Any) -> None:
    async with asyncio.timeout(WAIT):
        while not check():
            await asyncio.sleep(0.01)


@pytest.fixture
async def env(fake_cometd: tuple[FakeSalesforce, FakeCometd], session: aiohttp.ClientSession
              ) -> AsyncIterator[tuple[FakeSalesforce, FakeCometd, TokenProvider]]:
    fake_sf, cometd = fake_cometd
    tokens = TokenProvider(sf_config(fake_sf.url), auth_config(), session)
    yield fake_sf, cometd, tokens


def make_stream(fake_sf: FakeSalesforce, tokens: TokenProvider, cursor: Cursor, **kw: Any) -> FoEventStream:
    kw.setdefault("retry", FAST)
    return FoEventStream(sf_config(fake_sf.url), tokens, cursor, **kw)


async def test_receives_events_with_replay_extension(env) -> None:
    """Handshake asks for replay, subscribe carries the store's cursor, and events arrive parsed."""
    fake_sf, cometd, tokens = env
    running = Running(make_stream(fake_sf, tokens, Cursor(None)))
    try:
        await until(lambda: running.stream.status.connected)
        cometd.publish("0a3xx0000000001AAA")
        event = await running.next()
        assert (event.replay_id, event.fulfillment_order_id, event.new_status) == (100, "0a3xx0000000001AAA",
                                                                                    "Allocated")
        assert event.event_uuid == "uuid-100" and event.order_summary_id == "1Osxx0000000001AAA"
        assert event.channel == CHANNEL and event.old_status == "Draft"
        assert cometd.handshakes[0]["ext"]["replay"] is True
        assert cometd.subscribes[0]["ext"]["replay"] == {CHANNEL: -1}
        assert set(cometd.paths) == {"/cometd/62.0"}
        assert cometd.auth_headers[0] == "Bearer 00Dxx!token-1"
        assert running.stream.status.last_message_at is not None
        assert running.stream.status.positioned  # a CometD subscribe is acknowledged: placed once subscribed
    finally:
        await running.stop()
    assert not running.stream.status.connected and not running.stream.status.positioned


async def test_resumes_from_stored_cursor(env) -> None:
    """A stored replay id is sent in subscribe; only events after it are delivered."""
    fake_sf, cometd, tokens = env
    for n in range(3):
        cometd.publish(f"FO{n}")
    running = Running(make_stream(fake_sf, tokens, Cursor(100)))
    try:
        assert [(await running.next()).replay_id for _ in range(2)] == [101, 102]
        assert cometd.subscribes[0]["ext"]["replay"] == {CHANNEL: 100}
    finally:
        await running.stop()


async def test_unknown_client_rehandshakes_and_resubscribes_without_loss(env) -> None:
    """After the server forgets the client (403::Unknown client) the stream re-handshakes, re-subscribes from
    the stored cursor, skips already-yielded replays and delivers what was published meanwhile."""
    fake_sf, cometd, tokens = env
    cursor = Cursor(None)
    running = Running(make_stream(fake_sf, tokens, cursor))
    try:
        await until(lambda: running.stream.status.connected)
        cometd.publish("FO-a")
        assert (await running.next()).replay_id == 100
        cursor.value = 99  # the ingest committed less than was yielded: the replay repeats event 100
        with structlog.testing.capture_logs() as logs:
            cometd.drop_clients()
            cometd.publish("FO-b")  # published while no client exists
            event = await running.next()
        assert event.replay_id == 101 and event.fulfillment_order_id == "FO-b"
        assert len(cometd.handshakes) >= 2 and cometd.subscribes[-1]["ext"]["replay"] == {CHANNEL: 99}
        assert running.stream.status.reconnects >= 1
        assert any(e["event"] == "stream_reopened" and e["reason"] == "unknown_client" for e in logs)
    finally:
        await running.stop()


async def test_reopens_when_library_iterator_fails(env) -> None:
    """A transport failure (HTTP 500 on connect) ends the library's receive; the stream reopens and goes on."""
    fake_sf, cometd, tokens = env
    running = Running(make_stream(fake_sf, tokens, Cursor(None)))
    try:
        await until(lambda: running.stream.status.connected)
        cometd.fail_connects = 1
        await until(lambda: running.stream.status.reconnects >= 1 and running.stream.status.connected)
        cometd.publish("FO-after")
        assert (await running.next()).fulfillment_order_id == "FO-after"
    finally:
        await running.stop()


async def test_watchdog_reopens_silent_stream(env) -> None:
    """When the server stops answering for longer than keepalive_seconds the stream logs stream_silent,
    reopens on a new client and still delivers events."""
    fake_sf, cometd, tokens = env
    running = Running(make_stream(fake_sf, tokens, Cursor(None), keepalive_seconds=0.3))
    cometd.hold_seconds = 0.05
    try:
        await until(lambda: running.stream.status.connected)
        with structlog.testing.capture_logs() as logs:
            cometd.silence()
            await until(lambda: running.stream.status.reconnects >= 1 and running.stream.status.connected)
        assert any(e["event"] == "stream_silent" for e in logs)
        cometd.publish("FO-after-silence")
        assert (await running.next()).fulfillment_order_id == "FO-after-silence"
    finally:
        await running.stop()


async def test_invalid_replay_calls_callback_then_resumes_at_new_events(env) -> None:
    """400 invalid replayId -> on_gap("invalid_replay") runs once, then the stream subscribes at -1 and streams."""
    fake_sf, cometd, tokens = env
    cometd.invalid_replays.add(42)
    cursor = Cursor(42)
    calls: list[int] = []

    async def on_invalid(reason: str) -> None:
        calls.append(1)
        assert reason == "invalid_replay"
        cursor.value = None  # the app resets the cursor after reconciling

    running = Running(make_stream(fake_sf, tokens, cursor, initial_replay=-2, on_gap=on_invalid))
    try:
        with structlog.testing.capture_logs() as logs:
            await until(lambda: running.stream.status.connected)
        assert calls == [1]
        assert [s["ext"]["replay"][CHANNEL] for s in cometd.subscribes] == [42, -1]
        assert any(e["event"] == "stream_invalid_replay" for e in logs)
        cometd.publish("FO-new")
        assert (await running.next()).fulfillment_order_id == "FO-new"
    finally:
        await running.stop()


@pytest.mark.parametrize(("stored", "initial", "replays", "reconciled"), [
    (None, -1, [-1, -1], ["first_subscription", "reopened_at_latest"]),
    (None, -2, [-2, -2], []),
    (99, -1, [99, 99], []),
])
async def test_a_reopen_at_new_events_before_any_cursor_was_stored_reconciles_the_gap(
        env, stored: int | None, initial: int, replays: list[int], reconciled: list[str]) -> None:
    """A subscription at -1 is lost before any replay id was stored: the reopen subscribes at -1 again and then
    reconciles once, as what was published in between is in neither subscription (was: left to the periodic
    sweep); the first reports first_subscription (the app's start-up sweep covers it unless it already ran), and
    from -2 or a stored cursor nothing needs reconciling."""
    fake_sf, cometd, tokens = env
    reasons: list[str] = []

    async def on_gap(reason: str) -> None:
        reasons.append(reason)

    running = Running(make_stream(fake_sf, tokens, Cursor(stored), initial_replay=initial, on_gap=on_gap))
    try:
        await until(lambda: running.stream.status.connected)
        assert reasons == reconciled[:1]
        cometd.drop_clients()
        await until(lambda: len(cometd.subscribes) >= 2 and running.stream.status.connected)
        assert [s["ext"]["replay"][CHANNEL] for s in cometd.subscribes] == replays and reasons == reconciled
    finally:
        await running.stop()


async def test_a_client_forgotten_while_the_gap_sweep_runs_reopens_and_sweeps_again(env) -> None:
    """403::Unknown client during the reopened_at_latest sweep is not dropped with the open's own trouble: the
    stream reopens and sweeps again (was: it kept the library's own re-subscription at -1, and what was published
    while the client was forgotten was in no subscription and no sweep)."""
    fake_sf, cometd, tokens = env
    reasons: list[str] = []

    async def on_gap(reason: str) -> None:
        reasons.append(reason)
        if reasons == ["first_subscription", "reopened_at_latest"]:  # mid-sweep: the server forgets the client,
            # and the library re-subscribes by itself
            cometd.drop_clients()
            await until(lambda: len(cometd.subscribes) >= 3)

    running = Running(make_stream(fake_sf, tokens, Cursor(None), on_gap=on_gap))
    try:
        await until(lambda: running.stream.status.connected)
        cometd.drop_clients()
        async with asyncio.timeout(5):
            while not (len(reasons) >= 3 and running.stream.status.connected):
                await asyncio.sleep(0.01)
        assert reasons == ["first_subscription"] + ["reopened_at_latest"] * 2
        cometd.publish("FO-after")
        assert (await running.next()).fulfillment_order_id == "FO-after"
    finally:
        await running.stop()


async def test_probe_subscription_succeeds_and_disconnects(env) -> None:
    """probe_subscription handshakes, subscribes at -1 and disconnects (the live config check)."""
    fake_sf, cometd, tokens = env
    await probe_subscription(sf_config(fake_sf.url), tokens, CHANNEL)
    assert cometd.subscribes[0]["ext"]["replay"] == {CHANNEL: -1} and cometd.clients == {}


@pytest.mark.parametrize(
    ("error", "expected"),
    [("400::The replayId {12} you provided was invalid. Please provide a valid ID, -2 to replay all events, "
      "or -1 to replay only new events.", True),
     ("400::The replayId {12} you provided was invalid.  Please provide a valid ID.", True),
     ("400::The channel you requested to subscribe to doesn't exist {/event/X}", False),
     ("403::Unknown client", False), (None, False)],
)
def test_invalid_replay_detection_tolerates_one_or_two_spaces(error: str | None, expected: bool) -> None:
    """The invalid-replay error is recognised with one or two spaces after "invalid." and nothing else is."""
    assert is_invalid_replay(error) is expected


def test_parse_event_reads_replay_id_from_data_event() -> None:
    """replayId comes from data.event (not the payload); messages without one are not events."""
    payload = {"FulfillmentOrderId": "FO", "NewStatus": "Allocated"}
    event = parse_event({"channel": CHANNEL, "data": {"event": {"replayId": 7, "EventUuid": "u"}, "payload": payload}})
    assert event is not None and event.replay_id == 7 and event.event_uuid == "u" and event.old_status is None
    assert parse_event({"channel": CHANNEL, "data": {"payload": {"replayId": 1}}}) is None


class FailingCursor(Cursor):
    """The store is down for the first ``failures`` reads (what the guarded store raises), then answers."""

    def __init__(self, failures: int) -> None:
        super().__init__(None)
        self.failures = failures

    async def get_cursor(self, channel: str) -> int | None:
        self.reads += 1
        if self.failures > 0:
            self.failures -= 1
            raise TransientError("store", "get_cursor failed, the store is unavailable (ConnectionRefusedError)")
        return self.value


async def test_store_outage_waits_for_the_cursor_without_handshakes_or_salesforce_backoff(env) -> None:
    """Cursor unreadable (store down): no handshake spent, retries on the short store backoff, then subscribes."""
    fake_sf, cometd, tokens = env
    cursor = FailingCursor(failures=4)
    slow_salesforce_backoff = RetryPolicy(attempts=1000, base_delay=30.0, max_delay=60.0)
    stream = make_stream(fake_sf, tokens, cursor, retry=slow_salesforce_backoff, store_retry=FAST)
    running = Running(stream)
    try:
        await until(lambda: running.stream.status.connected)
        assert len(cometd.handshakes) == 1, "a handshake was spent while the store could not be read"
        assert cursor.failures == 0 and running.stream.status.reconnects == 4
        cometd.publish("FO-after-outage")
        assert (await running.next()).fulfillment_order_id == "FO-after-outage"
    finally:
        await running.stop()


async def test_committed_shows_the_greatest_stored_replay_id_and_a_foreign_cursor_counts_as_none(env) -> None:
    """CometD's commit hook puts the batch's greatest replayId in the status; a bytes cursor under its key (not a
    CometD one) is ignored: the subscription starts at the initial replay (-1)."""
    fake_sf, _cometd, tokens = env
    stream = make_stream(fake_sf, tokens, Cursor(b"\x01"))  # type: ignore[arg-type]
    stream.committed([parse_event({"channel": CHANNEL, "data": {"event": {"replayId": n}, "payload": {}}})
                      for n in (7, 12, 9)])
    assert stream.status.last_replay_id == "12" and stream.status.transport == "cometd"
    assert stream.status.window is None
    running = Running(stream)
    try:
        await until(lambda: stream.status.connected)
        assert stream._replay.last_requested == -1
    finally:
        await running.stop()
