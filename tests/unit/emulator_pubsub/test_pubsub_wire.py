"""Pure parts of the emulated Pub/Sub API: Avro payloads, schema ids, replay ids, replay refusal, flow credit."""

from __future__ import annotations

import json

import grpc
import pytest
from fastavro import parse_schema
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.salesforce.events import FO_STATUS_CHANNEL, EventBus, schema_id
from emulator.salesforce.pubsub_avro import (
    FO_STATUS_SCHEMA,
    decode_payload,
    encode_payload,
    schema_fingerprint,
    schema_json,
)
from emulator.salesforce.pubsub_wire import (
    Credit,
    PubSubError,
    ReplayPosition,
    decode_replay_id,
    encode_replay_id,
    replay_refusal,
)

NOW = 1_750_000_000.0
DAY = 86_400.0


def test_bus_payload_round_trips_through_avro() -> None:
    """A stored FO status event encodes to Avro and decodes to the same fields, CreatedDate as epoch ms."""
    payload = {"CreatedDate": "2025-05-01T12:00:00.250Z", "CreatedById": "005000000000001AAA",
               "EventUuid": "6ba5db7e-c27b-4a67-a3c5-cf425ffcaf53", "FulfillmentOrderId": "0a3000000000001AAA",
               "OrderSummaryId": None, "OldStatus": "Allocated", "NewStatus": "Fulfilled",
               "OldStatusCategory": "Activated", "NewStatusCategory": "Closed", "NotInSchema": "dropped"}
    record = decode_payload(FO_STATUS_SCHEMA, encode_payload(FO_STATUS_SCHEMA, payload))
    assert record["CreatedDate"] == 1_746_100_800_250
    assert {k: v for k, v in record.items() if k != "CreatedDate"} == {
        k: v for k, v in payload.items() if k not in ("CreatedDate", "NotInSchema")}


def test_fields_missing_from_the_payload_encode_as_null() -> None:
    """An admin-published payload with only some fields still encodes; absent nullable fields read back as None."""
    record = decode_payload(FO_STATUS_SCHEMA, encode_payload(FO_STATUS_SCHEMA, {
        "CreatedDate": 0, "CreatedById": "005000000000001AAA", "NewStatus": 7}))
    assert record["NewStatus"] == "7" and record["FulfillmentOrderId"] is None and record["CreatedDate"] == 0


def test_schema_json_is_a_valid_avro_schema() -> None:
    """The JSON GetSchema returns parses as Avro and names the record FOStatusChangedEvent."""
    parsed = parse_schema(json.loads(schema_json(FO_STATUS_SCHEMA)))
    assert parsed["name"] == "com.sforce.eventbus.FOStatusChangedEvent"


def test_schema_id_is_a_stable_fingerprint_shared_with_cometd() -> None:
    """The schema id is 22 url-safe characters, changes with the schema and equals the CometD data.schema."""
    sid = schema_fingerprint(FO_STATUS_SCHEMA)
    assert len(sid) == 22 and "=" not in sid and sid == schema_id(FO_STATUS_CHANNEL)
    changed = {**FO_STATUS_SCHEMA, "fields": FO_STATUS_SCHEMA["fields"][:-1]}
    assert schema_fingerprint(changed) != sid
    assert EventBus().publish(FO_STATUS_CHANNEL, {"NewStatus": "Fulfilled"}).schema == sid  # type: ignore[union-attr]


@pytest.mark.parametrize(("position", "at"), [(1, NOW), (2**40 + 3, 0.0), (0, NOW + 0.001)])
def test_replay_id_round_trips(position: int, at: float) -> None:
    """A replay id is 16 opaque bytes that decode to the bus position and its time in milliseconds."""
    data = encode_replay_id(position, at)
    assert len(data) == 16 and decode_replay_id(data) == ReplayPosition(position, int(at * 1000))


@pytest.mark.parametrize("data", [b"", b"\x00" * 8, b"\x00" * 17])
def test_bytes_of_the_wrong_size_are_no_replay_id(data: bytes) -> None:
    """Anything but 16 bytes is not a replay id this server issued."""
    assert decode_replay_id(data) is None


@pytest.mark.parametrize(("start", "purged_before", "refused"), [
    (ReplayPosition(5, int((NOW - DAY) * 1000)), 0.0, False),            # a day old, inside 72 h
    (ReplayPosition(9, int(NOW * 1000)), 0.0, False),                    # the newest position
    (ReplayPosition(10, int(NOW * 1000)), 0.0, True),                    # a position never reached
    (ReplayPosition(5, int((NOW - 4 * DAY) * 1000)), 0.0, True),         # older than retention
    (ReplayPosition(5, int((NOW - 10) * 1000)), NOW - 5, True),          # older than an operator purge
    (ReplayPosition(5, int((NOW - 1) * 1000)), NOW - 5, False),          # after the purge
    (ReplayPosition(5, int((NOW + 3600) * 1000)), 0.0, True),            # from the future
    (None, 0.0, True),                                                   # not a replay id at all
])
def test_replay_refusal(start: ReplayPosition | None, purged_before: float, refused: bool) -> None:
    """CUSTOM starts are refused as replayid.corrupted exactly when events after them may be gone or never were."""
    error = replay_refusal(start, last_position=9, now=NOW, retention_seconds=3 * DAY, purged_before=purged_before)
    assert (error is not None) == refused
    if error is not None:
        assert error.status == grpc.StatusCode.INVALID_ARGUMENT
        assert error.error_code == "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"


@pytest.mark.parametrize(("grants", "takes", "sent", "owed"), [
    ([2], [(5, 100)], [2], 0),                 # never more than requested
    ([5], [(3, 100), (10, 100)], [3, 2], 0),   # what is owed carries over until delivered
    ([2, 3], [(10, 100)], [5], 0),             # requests add up
    ([500], [(1000, 100)], [100], 0),          # one request adds at most the cap
    ([100, 100], [(1000, 30)], [30], 170),     # a response holds at most the batch cap
    ([4], [(0, 100)], [0], 4),                 # nothing available: nothing spent
])
def test_credit_accounting(grants: list[int], takes: list[tuple[int, int]], sent: list[int], owed: int) -> None:
    """Flow control: the server sends min(owed, available, batch cap) and keeps owing the rest."""
    credit = Credit(per_request_cap=100)
    for n in grants:
        credit.grant(n)
    assert [credit.take(available, cap) for available, cap in takes] == sent
    assert credit.owed == owed


@pytest.mark.parametrize("n", [0, -1])
def test_non_positive_num_requested_is_refused(n: int) -> None:
    """num_requested <= 0 is INVALID_ARGUMENT requested.events.invalid and grants nothing."""
    credit = Credit()
    with pytest.raises(PubSubError) as info:
        credit.grant(n)
    assert info.value.code == "subscription.fetch.requested.events.invalid" and credit.owed == 0


def test_bus_pages_after_a_position_and_remembers_purges() -> None:
    """page_after returns a bounded page after a position; a purge cut-off survives a state round trip."""
    clock = iter(float(t) for t in range(100, 200))
    bus = EventBus(clock=lambda: next(clock))
    ids = [bus.publish(FO_STATUS_CHANNEL, {"NewStatus": str(i)}).replay_id for i in range(5)]  # type: ignore[union-attr]
    assert [e.replay_id for e in bus.page_after(FO_STATUS_CHANNEL, ids[1], 2)] == ids[2:4]
    assert bus.page_after(FO_STATUS_CHANNEL, ids[-1], 10) == []
    bus.purge_before(103.0)
    restored = EventBus()
    restored.load_state(json.loads(json.dumps(bus.to_state())))
    assert restored.purged_before == 103.0


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=40), last=st.integers(min_value=0, max_value=2**40))
def test_any_bytes_as_custom_replay_id_are_accepted_or_refused_as_corrupted(data: bytes, last: int) -> None:
    """Whatever bytes a client sends as a CUSTOM replay id, the server accepts them or refuses replayid.corrupted."""
    error = replay_refusal(decode_replay_id(data), last_position=last, now=NOW, retention_seconds=3 * DAY,
                           purged_before=0.0)
    assert error is None or error.code == "subscription.fetch.replayid.corrupted"
    if error is None:
        decoded = decode_replay_id(data)
        assert decoded is not None and decoded.position <= last
