"""PubSubStream against a scripted eventbus.v1.PubSub gRPC server on 127.0.0.1 (port 0): each server behaviour is
set per test (errors with trailers, silence, keepalives), so the client's reactions are pinned exactly. The
emulator's faithful server is exercised by test_pubsub_emulator.py and the e2e suite."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import fastavro
import grpc
import pytest

from worker._pubsub_pb import pubsub_api_pb2 as pb
from worker._pubsub_pb import pubsub_api_pb2_grpc as pb_grpc
from worker.config import SalesforceConfig
from worker.config.worker_section import PubSubConfig
from worker.retry import RetryPolicy
from worker.salesforce.auth import Token
from worker.salesforce.pubsub import PubSubStream
from worker.salesforce.stream_types import StreamEvent

TOPIC = "/event/FOStatusChangedEvent"
ORG = "00D000000000001AAA"
SCHEMA = {"type": "record", "name": "FOStatusChangedEvent", "fields": [
    {"name": "CreatedDate", "type": "long"},
    {"name": "EventUuid", "type": ["null", "string"], "default": None},
    {"name": "FulfillmentOrderId", "type": ["null", "string"], "default": None},
    {"name": "NewStatus", "type": "string"},
    {"name": "OldStatus", "type": ["null", "string"], "default": None},
    {"name": "OrderSummaryId", "type": ["null", "string"], "default": None},
]}
PARSED = fastavro.parse_schema(SCHEMA)
FAST = RetryPolicy(attempts=1_000, base_delay=0.01, max_delay=0.05)
SLOW = RetryPolicy(attempts=1_000, base_delay=30.0, max_delay=30.0)  # a test that must not wait on backoff


def rid(n: int) -> bytes:
    return b"\x00\x07" + n.to_bytes(6, "big")  # opaque to the client; the server alone reads it


def consumer_event(n: int) -> Any:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, PARSED, {"CreatedDate": 1_746_100_800_000 + n, "EventUuid": f"uuid-{n}",
                                             "FulfillmentOrderId": f"0a3{n:015d}", "NewStatus": "Allocated",
                                             "OldStatus": None, "OrderSummaryId": None})
    return pb.ConsumerEvent(event=pb.ProducerEvent(id=f"e{n}", schema_id="schema-1", payload=out.getvalue()),
                            replay_id=rid(n))


@dataclass
class Scripted(pb_grpc.PubSubServicer):
    """The server: ``backlog`` events 1..N; ``failures`` are raised by the next Subscribe calls, in order."""

    backlog: int = 0
    failures: list[tuple[grpc.StatusCode, str | None]] = field(default_factory=list)
    keepalive: bytes | None = None  # answer each request with only an empty keepalive naming this replay id
    silent: bool = False  # accept requests, never answer
    schema_failures: int = 0  # the next GetSchema calls fail UNAUTHENTICATED (a token revoked mid-decode)
    hangups: int = 0  # the next Subscribe calls answer their first FetchRequest (keepalive b"gone<n>"), then end
    tokens: set[str] = field(default_factory=lambda: {"good"})
    requests: list[Any] = field(default_factory=list)
    subscribes: int = 0
    schema_calls: int = 0
    sent: int = 0

    def _auth(self, context: Any) -> None:
        md = dict(context.invocation_metadata())
        assert md.get("tenantid") == ORG and md.get("instanceurl") == "https://acme.my.salesforce.com"

    async def GetTopic(self, request: Any, context: Any) -> Any:
        self._auth(context)
        return pb.TopicInfo(topic_name=request.topic_name, tenant_guid=ORG, can_subscribe=True, schema_id="schema-1")

    async def GetSchema(self, request: Any, context: Any) -> Any:
        self.schema_calls += 1
        if self.schema_failures:
            self.schema_failures -= 1
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "revoked",
                                trailing_metadata=(("error-code", "sfdc.platform.eventbus.grpc.service.auth.error"),))
        return pb.SchemaInfo(schema_id=request.schema_id, schema_json=json.dumps(SCHEMA))

    async def Subscribe(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:
        self.subscribes += 1
        if dict(context.invocation_metadata()).get("accesstoken") not in self.tokens:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token",
                                trailing_metadata=(("error-code", "sfdc.platform.eventbus.grpc.service.auth.error"),))
        if self.failures:
            status, code = self.failures.pop(0)
            await context.abort(status, "scripted", trailing_metadata=(("error-code", code),) if code else ())
        position = None
        async for request in request_iterator:
            self.requests.append(request)
            if self.hangups:
                self.hangups -= 1
                yield pb.FetchResponse(latest_replay_id=b"gone%d" % self.subscribes)
                unavailable = "sfdc.platform.eventbus.grpc.service.unavailable"
                await context.abort(grpc.StatusCode.UNAVAILABLE, "hung up", trailing_metadata=(("error-code",
                                                                                                 unavailable),))
            if position is None:
                preset = request.replay_preset
                position = (int.from_bytes(request.replay_id[2:], "big") if preset == pb.ReplayPreset.CUSTOM
                            else 0 if preset == pb.ReplayPreset.EARLIEST else self.backlog)
            if self.silent:
                continue
            if self.keepalive is not None:
                yield pb.FetchResponse(latest_replay_id=self.keepalive)
                continue
            wanted = request.num_requested
            while wanted > 0 and position < self.backlog:
                chunk = [consumer_event(n) for n in range(position + 1, min(position + min(wanted, 30),
                                                                            self.backlog) + 1)]
                position += len(chunk)
                wanted -= len(chunk)
                self.sent += len(chunk)
                yield pb.FetchResponse(events=chunk, latest_replay_id=chunk[-1].replay_id,
                                       pending_num_requested=wanted)


class Tokens:
    def __init__(self, *values: str) -> None:
        self.values, self.invalidated = list(values), 0

    async def token(self) -> Token:
        return Token(access_token=self.values[0], instance_url="https://acme.my.salesforce.com", issued_at=0.0,
                     org_id=ORG)

    async def invalidate(self, token: Token) -> None:
        self.invalidated += 1
        if len(self.values) > 1 and token.access_token == self.values[0]:
            self.values.pop(0)


class Cursor:
    """The store's cursors: Pub/Sub's (``value``) and CometD's (``cometd``, key: the channel itself)."""

    def __init__(self, value: bytes | None = None, cometd: int | None = None) -> None:
        self.value, self.cometd = value, cometd

    async def get_cursor(self, key: str) -> bytes | int | None:
        assert key in (f"pubsub:{TOPIC}", TOPIC)
        return self.value if key.startswith("pubsub:") else self.cometd


@pytest.fixture
async def server() -> AsyncIterator[tuple[Scripted, str]]:
    servicer = Scripted()
    grpc_server = grpc.aio.server()
    pb_grpc.add_PubSubServicer_to_server(servicer, grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        await grpc_server.stop(grace=None)


def make(target: str, tokens: Tokens, cursor: Cursor, *, window: int = 100, keepalive: float = 30.0,
         initial: int = -1, retry: RetryPolicy = FAST, **kwargs: Any) -> PubSubStream:
    sf = SalesforceConfig(UrlBase="https://acme.my.salesforce.com", OMSCustomField=(
        {"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID", "applyTo": "LOCATION"},))
    settings = PubSubConfig(target=target, tls=False, num_requested=window, keepalive_seconds=keepalive)
    return PubSubStream(sf, tokens, cursor, settings, channel=TOPIC, initial_replay=initial, retry=retry,
                        store_retry=FAST, **kwargs)  # type: ignore[arg-type]


async def take(stream: PubSubStream, count: int, *, commit: bool = True, timeout: float = 20) -> list[StreamEvent]:
    items: list[StreamEvent] = []
    iterator = stream.events()
    try:
        async with asyncio.timeout(timeout):
            async for item in iterator:
                items.append(item)
                if commit:
                    stream.committed([item])
                if len(items) >= count:
                    break
    finally:
        await iterator.aclose()
    return items


@asynccontextmanager
async def running(stream: PubSubStream) -> AsyncIterator[None]:
    """The stream waiting for its first item in the background (a silent server never gives one)."""
    iterator = stream.events()
    task = asyncio.ensure_future(iterator.__anext__())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await iterator.aclose()


async def test_flow_control_never_lets_more_than_the_window_out_of_the_store(server: tuple[Scripted, str]) -> None:
    """A 250-event backlog with a window of 40: events beyond the committed ones never exceed 40; all arrive in
    order, decoded, and the schema is fetched once."""
    servicer, target = server
    servicer.backlog = 250
    stream = make(target, Tokens("good"), Cursor(), window=40, initial=-2)
    got: list[StreamEvent] = []
    committed = 0
    iterator = stream.events()
    async with asyncio.timeout(30):
        async for item in iterator:
            got.append(item)
            assert servicer.sent - committed <= 40, "the server sent beyond the window"
            if len(got) % 7 == 0 or len(got) == 250:  # commit in batches, as the ingest does
                await asyncio.sleep(0.01)
                stream.committed(got[committed:])
                committed = len(got)
            if len(got) == 250:
                break
    await iterator.aclose()
    assert [e.replay_id for e in got] == [rid(n) for n in range(1, 251)]
    assert got[0].fulfillment_order_id == f"0a3{1:015d}" and got[0].new_status == "Allocated"
    assert got[0].payload["CreatedDate"] == "2025-05-01T12:00:00.001Z" and got[0].event_uuid == "uuid-1"
    first = servicer.requests[0]
    assert first.replay_preset == pb.ReplayPreset.EARLIEST and first.num_requested == 40
    assert all(0 < r.num_requested <= 40 for r in servicer.requests)
    assert servicer.schema_calls == 1 and servicer.subscribes == 1
    assert stream.status.last_replay_id is not None and stream.status.outstanding == 0


async def test_uncommitted_events_hold_back_further_requests(server: tuple[Scripted, str]) -> None:
    """Without commits the stream asks for one window only: the server sends exactly that many, then waits."""
    servicer, target = server
    servicer.backlog = 100
    stream = make(target, Tokens("good"), Cursor(), window=20, initial=-2)
    got = await take(stream, 20, commit=False)
    await asyncio.sleep(0.3)
    assert len(got) == 20 and servicer.sent == 20 and [r.num_requested for r in servicer.requests] == [20]


async def test_stored_replay_id_resumes_with_custom_preset(server: tuple[Scripted, str]) -> None:
    """A stored replay id is sent back unchanged with replay_preset CUSTOM; delivery resumes after it."""
    servicer, target = server
    servicer.backlog = 12
    got = await take(make(target, Tokens("good"), Cursor(rid(9))), 3)
    assert servicer.requests[0].replay_preset == pb.ReplayPreset.CUSTOM
    assert servicer.requests[0].replay_id == rid(9)
    assert [e.replay_id for e in got] == [rid(10), rid(11), rid(12)]


@pytest.mark.parametrize(("initial", "preset"), [(-1, pb.ReplayPreset.LATEST), (-2, pb.ReplayPreset.EARLIEST)])
async def test_without_a_stored_replay_id_initial_replay_picks_the_preset(server: tuple[Scripted, str], initial: int,
                                                                          preset: int) -> None:
    """No stored cursor: initial_replay -1 subscribes at LATEST, -2 at EARLIEST."""
    servicer, target = server
    servicer.keepalive = b"tip"
    await take(make(target, Tokens("good"), Cursor(), initial=initial), 1)
    assert servicer.requests[0].replay_preset == preset


async def test_keepalive_latest_replay_id_becomes_a_cursor_only_item(server: tuple[Scripted, str]) -> None:
    """An empty keepalive response yields its latest_replay_id as a keepalive item (no event, nothing to import)."""
    servicer, target = server
    servicer.keepalive = rid(77)
    (item,) = await take(make(target, Tokens("good"), Cursor()), 1)
    assert item.keepalive and item.replay_id == rid(77) and item.fulfillment_order_id is None


async def test_unauthenticated_refreshes_the_token_once_and_resubscribes_at_once(
        server: tuple[Scripted, str]) -> None:
    """A revoked token: the UNAUTHENTICATED call invalidates it once and resubscribes without backoff."""
    servicer, target = server
    servicer.backlog, servicer.tokens = 3, {"fresh"}
    tokens = Tokens("revoked", "fresh")
    stream = make(target, tokens, Cursor(), initial=-2, retry=SLOW)
    got = await take(stream, 3, timeout=10)
    assert len(got) == 3 and tokens.invalidated == 1 and servicer.subscribes == 2


async def test_a_refreshed_token_refused_again_is_refreshed_again_after_backoff(
        server: tuple[Scripted, str]) -> None:
    """Two refused tokens in a row: the first refusal resubscribes at once, the second backs off, and each refused
    token is invalidated (was: the second was kept and retried forever, the stream never recovered)."""
    servicer, target = server
    servicer.backlog, servicer.tokens = 3, {"fresh"}
    tokens = Tokens("revoked", "revoked-too", "fresh")
    got = await take(make(target, tokens, Cursor(), initial=-2), 3, timeout=10)
    assert len(got) == 3 and tokens.invalidated == 2 and servicer.subscribes == 3


@pytest.mark.parametrize("code", ["sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"])
async def test_invalid_replay_resubscribes_at_latest_then_reconciles(server: tuple[Scripted, str], code: str) -> None:
    """A refused replay id: resubscribe at LATEST (not from the stored id), then the reconciliation runs once."""
    servicer, target = server
    servicer.failures = [(grpc.StatusCode.INVALID_ARGUMENT, code)]
    servicer.keepalive = b"tip"
    order: list[str] = []

    async def reconcile(reason: str) -> None:
        order.append(f"{reason} reconciled after {len(servicer.requests)} request(s)")

    stream = make(target, Tokens("good"), Cursor(rid(5)), retry=SLOW, on_gap=reconcile)
    (item,) = await take(stream, 1, timeout=15)
    assert servicer.subscribes == 2 and servicer.requests[0].replay_preset == pb.ReplayPreset.LATEST
    assert order == ["invalid_replay reconciled after 1 request(s)"] and item.replay_id == b"tip"


@pytest.mark.parametrize(("cometd", "reconciled"), [(4711, 1), (None, 0)])
async def test_a_switch_from_cometd_reconciles_once_after_the_latest_subscription(
        server: tuple[Scripted, str], cometd: int | None, reconciled: int) -> None:
    """No Pub/Sub cursor but a CometD one (the deployment switched transports): subscribe at LATEST, then run the
    reconciliation once, as after a refused replay id; a first start (no cursor at all) does not reconcile."""
    servicer, target = server
    servicer.keepalive = b"tip"
    runs: list[tuple[str, int]] = []

    async def reconcile(reason: str) -> None:
        runs.append((reason, len(servicer.requests)))

    stream = make(target, Tokens("good"), Cursor(cometd=cometd), initial=-2, retry=SLOW, on_gap=reconcile)
    (item,) = await take(stream, 1, timeout=15)
    expected = pb.ReplayPreset.LATEST if reconciled else pb.ReplayPreset.EARLIEST
    assert servicer.requests[0].replay_preset == expected and item.replay_id == b"tip"
    assert runs == [("transport_switch", 1)] * reconciled


@pytest.mark.parametrize(("initial", "stored", "presets", "reconciled"), [
    (-1, None, [pb.ReplayPreset.LATEST] * 2, [("first_subscription", 1), ("reopened_at_latest", 2)]),
    (-2, None, [pb.ReplayPreset.EARLIEST] * 2, []),
    (-1, rid(3), [pb.ReplayPreset.CUSTOM] * 2, []),
])
async def test_a_reopen_at_latest_before_any_replay_id_was_stored_reconciles_the_gap(
        server: tuple[Scripted, str], initial: int, stored: bytes | None, presets: list[int],
        reconciled: list[tuple[str, int]]) -> None:
    """A LATEST subscription that answered ends before any replay id was stored: the reopen cannot say where the
    last one stood, so it subscribes at LATEST and reconciles once it answers (was: what was published in between
    was left to the periodic sweep); from EARLIEST or a stored replay id nothing is missed or reconciled."""
    servicer, target = server
    servicer.hangups, servicer.keepalive = 1, b"tip"
    runs: list[tuple[str, int]] = []

    async def reconcile(reason: str) -> None:
        runs.append((reason, len(servicer.requests)))

    stream = make(target, Tokens("good"), Cursor(stored), initial=initial, on_gap=reconcile)
    items = await take(stream, 2, timeout=15)
    assert [r.replay_preset for r in servicer.requests] == presets
    assert [i.replay_id for i in items] == [b"gone1", b"tip"] and runs == reconciled


async def test_subscriptions_that_fail_before_answering_leave_the_gap_to_the_first_that_answers(
        server: tuple[Scripted, str]) -> None:
    """Three LATEST subscriptions refused at once reconcile nothing (no sweep per dead stream in an outage); the
    one that answers reconciles once, for them all."""
    servicer, target = server
    servicer.failures = [(grpc.StatusCode.UNAVAILABLE, None)] * 3
    servicer.keepalive = b"tip"
    runs: list[tuple[str, int]] = []

    async def reconcile(reason: str) -> None:
        runs.append((reason, servicer.subscribes))

    (item,) = await take(make(target, Tokens("good"), Cursor(), on_gap=reconcile), 1, timeout=15)
    assert item.replay_id == b"tip" and runs == [("first_subscription", 4)]


async def test_unavailable_reopens_with_backoff_from_the_stored_replay_id(server: tuple[Scripted, str]) -> None:
    """UNAVAILABLE twice: the stream reopens (counted) and resumes from the stored replay id."""
    servicer, target = server
    servicer.backlog = 6
    servicer.failures = [(grpc.StatusCode.UNAVAILABLE, "sfdc.platform.eventbus.grpc.service.unavailable"),
                         (grpc.StatusCode.UNAVAILABLE, None)]
    stream = make(target, Tokens("good"), Cursor(rid(4)))
    got = await take(stream, 2)
    assert [e.replay_id for e in got] == [rid(5), rid(6)] and stream.status.reconnects == 2
    assert servicer.requests[0].replay_preset == pb.ReplayPreset.CUSTOM and servicer.requests[0].replay_id == rid(4)


async def test_a_silent_subscription_is_reopened_by_the_watchdog(server: tuple[Scripted, str]) -> None:
    """Nothing (not even a keepalive) within keepalive_seconds while events are requested: reopened."""
    servicer, target = server
    servicer.silent = True
    stream = make(target, Tokens("good"), Cursor(), keepalive=0.3)
    async with running(stream):
        async with asyncio.timeout(10):
            while servicer.subscribes < 3:
                await asyncio.sleep(0.05)
    assert stream.status.reconnects >= 2


async def test_a_schema_fetch_failing_mid_batch_loses_no_event_of_that_batch(server: tuple[Scripted, str]) -> None:
    """GetSchema refused while a batch is being decoded: the stream reopens from the stored replay id and every
    event of that batch still arrives (none is remembered as delivered before it was)."""
    servicer, target = server
    servicer.backlog, servicer.schema_failures = 5, 1
    tokens = Tokens("good")
    got = await take(make(target, tokens, Cursor(), initial=-2), 5)
    assert [e.replay_id for e in got] == [rid(n) for n in range(1, 6)]
    assert servicer.schema_calls == 2 and servicer.subscribes == 2 and tokens.invalidated == 1


async def test_the_watchdog_counts_from_the_end_of_a_gap_sweep_not_from_the_subscribe(
        server: tuple[Scripted, str]) -> None:
    """A gap sweep longer than keepalive_seconds on a quiet subscription does not make the watchdog reopen the
    stream as soon as the sweep returns (was: "silent" at once, and the reopen at LATEST swept again)."""
    servicer, target = server
    servicer.silent = True
    swept = asyncio.Event()

    async def slow_sweep(reason: str) -> None:
        await asyncio.sleep(2.5)
        swept.set()

    stream = make(target, Tokens("good"), Cursor(), keepalive=2.0, on_gap=slow_sweep)
    async with running(stream):
        async with asyncio.timeout(15):
            await swept.wait()
        await asyncio.sleep(0.5)  # a quarter of the keepalive after the sweep: still the same subscription
        assert servicer.subscribes == 1 and stream.status.reconnects == 0


async def test_a_latest_subscription_is_positioned_only_once_it_answered_or_the_wait_passed(
        server: tuple[Scripted, str]) -> None:
    """status.positioned (what the start-up sweep waits for) follows the server's first answer, or the short wait
    on a quiet one, not the unacknowledged Subscribe; it falls with the stream."""
    servicer, target = server
    servicer.silent = True
    stream = make(target, Tokens("good"), Cursor(), keepalive=3.0)
    async with running(stream):
        async with asyncio.timeout(10):
            while not stream.status.connected:
                await asyncio.sleep(0.01)
        assert not stream.status.positioned
        async with asyncio.timeout(10):
            while not stream.status.positioned:
                await asyncio.sleep(0.05)
    assert not stream.status.connected and not stream.status.positioned


class FlakyCursor(Cursor):
    """The store fails the first read of CometD's cursor."""

    def __init__(self, cometd: int) -> None:
        super().__init__(cometd=cometd)
        self.failures = 1

    async def get_cursor(self, key: str) -> bytes | int | None:
        if key == TOPIC and self.failures:
            self.failures -= 1
            raise ConnectionError("store unavailable")
        return await super().get_cursor(key)


@pytest.mark.parametrize("cursor", [Cursor(cometd=4711), FlakyCursor(cometd=4711)], ids=["read", "read-failed-once"])
async def test_a_transport_switch_is_reconciled_once_even_past_dead_subscriptions_and_a_failed_read(
        server: tuple[Scripted, str], cursor: Cursor) -> None:
    """Two subscriptions refused before answering keep the transport_switch reason for the one that answers, and a
    store failing the CometD-cursor read is asked again (was: the switch was forgotten, and with periodic sweeps
    off the gap between the transports was never swept)."""
    servicer, target = server
    servicer.failures = [(grpc.StatusCode.UNAVAILABLE, None)] * 2
    servicer.keepalive = b"tip"
    runs: list[str] = []

    async def reconcile(reason: str) -> None:
        runs.append(reason)

    (item,) = await take(make(target, Tokens("good"), cursor, on_gap=reconcile), 1, timeout=15)
    assert item.replay_id == b"tip" and runs == ["transport_switch"]
