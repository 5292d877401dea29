"""EventBus: replay ids, standard payload fields, retention, drop fault, listeners and persistence."""

from __future__ import annotations

import json
import re

from emulator.salesforce.events import FO_STATUS_CHANNEL, EventBus, StoredEvent, format_created_date

OTHER = "/event/OrderSumStatusChangedEvent"


class FakeClock:
    """A settable clock."""

    def __init__(self, now: float = 1_746_100_800.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _publish(bus: EventBus, channel: str = FO_STATUS_CHANNEL, **fields: object) -> StoredEvent:
    event = bus.publish(channel, {"NewStatus": "Fulfilled", **fields})
    assert event is not None
    return event


def test_replay_ids_increase_non_contiguously_per_channel() -> None:
    """Ids grow by 1..3 per publish, independently per channel, and are not all contiguous."""
    bus = EventBus()
    ids = [_publish(bus).replay_id for _ in range(50)]
    steps = [b - a for a, b in zip([0, *ids], ids, strict=False)]
    assert all(1 <= s <= 3 for s in steps)
    assert any(s > 1 for s in steps)
    assert _publish(bus, OTHER).replay_id <= 3
    assert bus.last_replay_id(FO_STATUS_CHANNEL) == ids[-1]


def test_replay_ids_are_seeded_and_reproducible() -> None:
    """Two buses with the same seed assign the same replay ids and EventUuids."""
    first, second = EventBus(seed=7), EventBus(seed=7)
    a = [(_publish(first).replay_id, _publish(first).event_uuid) for _ in range(5)]
    b = [(_publish(second).replay_id, _publish(second).event_uuid) for _ in range(5)]
    assert a == b


def test_payload_gets_created_date_created_by_and_event_uuid() -> None:
    """Published payloads carry CreatedDate (ms, Z), CreatedById and an EventUuid matching the event's."""
    clock = FakeClock(1_746_100_800.5)
    bus = EventBus(clock=clock)
    event = _publish(bus, FulfillmentOrderId="0a3R000000001AAA")
    assert event.payload["CreatedDate"] == "2025-05-01T12:00:00.500Z"
    assert re.fullmatch(r"005\w{15}", event.payload["CreatedById"])
    assert event.payload["EventUuid"] == event.event_uuid
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", event.event_uuid
    )
    assert event.payload["FulfillmentOrderId"] == "0a3R000000001AAA"
    assert len(event.schema) == 22 and event.published_at == clock.now
    assert _publish(bus, EventUuid="fixed-uuid").event_uuid == "fixed-uuid"


def test_format_created_date_pads_milliseconds() -> None:
    """CreatedDate text always has three millisecond digits."""
    assert format_created_date(1_746_100_800.007) == "2025-05-01T12:00:00.007Z"


def test_events_after_selects_by_replay_id() -> None:
    """events_after returns events strictly after the id; -2 returns all retained."""
    bus = EventBus()
    events = [_publish(bus) for _ in range(4)]
    assert bus.events_after(FO_STATUS_CHANNEL, -2) == events
    assert bus.events_after(FO_STATUS_CHANNEL, events[1].replay_id) == events[2:]
    assert bus.events_after(FO_STATUS_CHANNEL, events[-1].replay_id) == []
    assert bus.events_after(OTHER, -2) == []


def test_retention_purges_old_events_but_keeps_last_id() -> None:
    """Events older than the retention window disappear; the channel's last id is remembered."""
    clock = FakeClock()
    bus = EventBus(retention_seconds=100, clock=clock)
    old = _publish(bus)
    clock.now += 60
    young = _publish(bus)
    clock.now += 50
    assert bus.events_after(FO_STATUS_CHANNEL, -2) == [young]
    assert not bus.is_retained(FO_STATUS_CHANNEL, old.replay_id)
    assert bus.is_retained(FO_STATUS_CHANNEL, young.replay_id)
    bus.purge_before(clock.now)
    assert bus.events_after(FO_STATUS_CHANNEL, -2) == []
    assert bus.last_replay_id(FO_STATUS_CHANNEL) == young.replay_id


def test_drop_rate_loses_events_entirely() -> None:
    """With drop_rate 1 publish returns None, stores nothing and tells no listener."""
    bus = EventBus()
    seen: list[StoredEvent] = []
    bus.add_listener(seen.append)
    bus.drop_rate = 1.0
    assert bus.publish(FO_STATUS_CHANNEL, {"NewStatus": "Fulfilled"}) is None
    assert bus.events_after(FO_STATUS_CHANNEL, -2) == [] and seen == []
    bus.drop_rate = 0.0
    assert seen == [_publish(bus)]


def test_listener_failure_does_not_break_publish() -> None:
    """A raising listener is isolated; later listeners still run and the event is stored."""
    bus = EventBus()
    seen: list[StoredEvent] = []

    def broken(_: StoredEvent) -> None:
        raise RuntimeError("boom")

    bus.add_listener(broken)
    bus.add_listener(seen.append)
    event = _publish(bus)
    assert seen == [event]
    bus.remove_listener(seen.append)
    _publish(bus)
    assert seen == [event]


def test_known_channels_always_include_fo_status_and_published_ones() -> None:
    """FOStatusChangedEvent is always known; declared and published channels join it."""
    bus = EventBus()
    assert bus.known_channels() == {FO_STATUS_CHANNEL}
    bus.add_channel("/event/Declared__e")
    _publish(bus, OTHER)
    assert bus.known_channels() == {FO_STATUS_CHANNEL, "/event/Declared__e", OTHER}


def test_state_round_trips_through_json() -> None:
    """to_state is JSON-able; load_state restores events, ids and the id sequence."""
    clock = FakeClock()
    bus = EventBus(clock=clock)
    events = [_publish(bus), _publish(bus, OTHER)]
    state = json.loads(json.dumps(bus.to_state()))
    restored = EventBus(clock=clock, seed=99)
    restored.load_state(state)
    assert restored.events_after(FO_STATUS_CHANNEL, -2) == [events[0]]
    assert restored.events_after(OTHER, -2) == [events[1]]
    assert _publish(restored).replay_id == _publish(bus).replay_id
