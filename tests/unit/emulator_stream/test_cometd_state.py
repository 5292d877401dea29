"""CometD pure parts: client registry expiry, delivery positions, version and message parsing, error texts."""

from __future__ import annotations

import pytest

from emulator.salesforce.cometd_messages import (
    MessageError,
    channel_missing,
    event_message,
    invalid_replay_id,
    parse_messages,
    parse_version,
)
from emulator.salesforce.cometd_session import ClientRegistry, Subscription
from emulator.salesforce.events import FO_STATUS_CHANNEL, EventBus


class FakeClock:
    """A settable clock."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_registry_expires_idle_clients_but_not_holding_ones() -> None:
    """Clients idle past the window are forgotten; a client holding a poll never expires."""
    clock = FakeClock()
    registry = ClientRegistry(40.0, clock)
    idle, holding = registry.create("u"), registry.create("u")
    holding.holding = 1
    clock.now = 40.0
    assert registry.count() == 2
    clock.now = 40.5
    assert registry.get(idle.client_id) is None and idle.gone and idle.wake.is_set()
    assert registry.get(holding.client_id) is holding


def test_remove_all_marks_clients_gone() -> None:
    """remove_all forgets every client and flags each as gone."""
    registry = ClientRegistry(40.0, FakeClock())
    clients = [registry.create("u") for _ in range(3)]
    assert registry.remove_all() == 3
    assert registry.count() == 0 and all(c.gone for c in clients)


def test_take_pending_advances_positions_without_repeats() -> None:
    """Pending events come once, in order, honouring the per-delivery limit across subscriptions."""
    bus = EventBus()
    registry = ClientRegistry(40.0, FakeClock())
    client = registry.create("u")
    other = "/event/Other__e"
    bus.add_channel(other)
    client.subscriptions = {
        FO_STATUS_CHANNEL: Subscription(FO_STATUS_CHANNEL, -2),
        other: Subscription(other, 0),
    }
    fo = [bus.publish(FO_STATUS_CHANNEL, {"n": i}) for i in range(3)]
    ot = bus.publish(other, {"n": 9})
    assert client.take_pending(bus, 2) == fo[:2]
    assert client.take_pending(bus, 10) == [fo[2], ot]
    assert client.take_pending(bus, 10) == []


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("62.0", True),
        ("37.0", True),
        ("36.0", False),
        ("", False),
        (None, False),
        ("v62.0", False),
        ("62", False),
    ],
)
def test_parse_version(version: str | None, ok: bool) -> None:
    """Only NN.N versions at or above 37.0 are accepted."""
    assert (parse_version(version) is None) is ok


def test_parse_messages_accepts_array_object_and_form_field() -> None:
    """Bodies may be a JSON array, one JSON object, or a urlencoded ``message`` field; junk is refused."""
    msg = b'{"channel": "/meta/handshake"}'
    assert parse_messages(b"[" + msg + b"]", "application/json") == [{"channel": "/meta/handshake"}]
    assert parse_messages(msg, "application/json") == [{"channel": "/meta/handshake"}]
    form = b"message=%5B%7B%22channel%22%3A%22%2Fmeta%2Fconnect%22%7D%5D"
    assert parse_messages(form, "application/x-www-form-urlencoded") == [{"channel": "/meta/connect"}]
    for junk in (b"nope", b"[]", b"[1]", b'[{"id": "1"}]'):
        with pytest.raises(MessageError):
            parse_messages(junk, "application/json")


def test_error_texts_match_the_reference() -> None:
    """Replay and channel errors use the Salesforce wording (double space after 'invalid.')."""
    assert invalid_replay_id(12) == (
        "400::The replayId {12} you provided was invalid.  Please provide a valid ID, "
        "-2 to replay all events, or -1 to replay only new events."
    )
    assert channel_missing("/event/X__e") == (
        "400::The channel you requested to subscribe to doesn't exist {/event/X__e}"
    )


def test_event_message_puts_replay_id_in_data_event() -> None:
    """The delivery shape keeps replayId and EventUuid in data.event and the payload untouched."""
    bus = EventBus()
    event = bus.publish(FO_STATUS_CHANNEL, {"NewStatus": "Fulfilled"})
    assert event is not None
    message = event_message(event)
    assert message["channel"] == FO_STATUS_CHANNEL
    assert message["data"]["event"] == {"EventUuid": event.event_uuid, "replayId": event.replay_id}
    assert message["data"]["payload"] is event.payload and message["data"]["schema"] == event.schema
    assert "replayId" not in message["data"]["payload"]
