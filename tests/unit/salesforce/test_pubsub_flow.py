"""The Pub/Sub transport's pure parts: replay id text, the flow-control window, error classification, records."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.salesforce.pubsub_flow import Action, FlowWindow, classify, record_payload, replay_bytes, replay_text


@given(st.binary(max_size=64))
def test_replay_id_text_round_trips_any_bytes(raw: bytes) -> None:
    """Any opaque replay id survives base64 text and back unchanged (NULs and high bytes included)."""
    assert replay_bytes(replay_text(raw) or "") == raw


@pytest.mark.parametrize("text", ["not base64!", "abc", "é"])
def test_replay_id_text_refuses_what_is_not_base64(text: str) -> None:
    """Text that is not base64 raises ValueError naming the expected form."""
    with pytest.raises(ValueError, match="base64"):
        replay_bytes(text)


def test_replay_text_of_none_is_none() -> None:
    """No replay id shows as None, not as empty text."""
    assert replay_text(None) is None


def test_window_asks_the_whole_window_first_then_only_what_commits_free() -> None:
    """A fresh window asks for all of it; nothing more until half is committed; then exactly the free part."""
    window = FlowWindow(100)
    assert window.next_request() == 100
    window.asked(100)
    assert window.next_request() == 0
    window.delivered(100, kept=100)
    assert (window.requested, window.uncommitted, window.next_request()) == (0, 100, 0)
    window.committed(40)
    assert window.next_request() == 0  # 40 free: less than half
    window.committed(20)
    assert window.next_request() == 60
    window.asked(60)
    assert window.requested + window.uncommitted == 100


@pytest.mark.parametrize(("steps", "requested", "uncommitted"), [
    ([("asked", 10), ("delivered", 3, 3)], 7, 3),
    ([("asked", 10), ("delivered", 5, 2)], 5, 2),  # 3 were repeats already held: not counted twice
    ([("asked", 4), ("delivered", 9, 9)], 0, 9),  # more than asked (never below zero)
    ([("asked", 10), ("delivered", 10, 10), ("committed", 15)], 0, 0),
    ([("asked", 10), ("resubscribed",)], 0, 0),
    ([("asked", 10), ("delivered", 4, 4), ("resubscribed",)], 0, 4),  # delivered events outlive the call
])
def test_window_accounting(steps: list[tuple[object, ...]], requested: int, uncommitted: int) -> None:
    """asked / delivered / committed / resubscribed move requested and uncommitted as the table says."""
    window = FlowWindow(10)
    for name, *args in steps:
        getattr(window, str(name))(*args)
    assert (window.requested, window.uncommitted) == (requested, uncommitted)


@given(st.lists(st.tuples(st.sampled_from(["ask", "deliver", "commit", "resubscribe"]), st.integers(0, 20)),
                max_size=60), st.integers(1, 100))
def test_window_never_holds_more_than_its_size(ops: list[tuple[str, int]], size: int) -> None:
    """Asking only what next_request allows keeps requested + uncommitted within the window, whatever happens."""
    window = FlowWindow(size)
    for op, n in ops:
        if op == "ask":
            window.asked(window.next_request())
        elif op == "deliver":
            received = min(n, window.requested)
            window.delivered(received, kept=received)
        elif op == "commit":
            window.committed(min(n, window.uncommitted))
        else:
            window.resubscribed()
        assert 0 <= window.requested + window.uncommitted <= size


@pytest.mark.parametrize(("status", "code", "action"), [
    ("UNAUTHENTICATED", None, Action.REFRESH_AUTH),
    ("UNAUTHENTICATED", "sfdc.platform.eventbus.grpc.service.auth.error", Action.REFRESH_AUTH),
    ("PERMISSION_DENIED", "sfdc.platform.eventbus.grpc.service.auth.error", Action.REFRESH_AUTH),
    ("INVALID_ARGUMENT", "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted", Action.INVALID_REPLAY),
    ("INVALID_ARGUMENT", "SFDC.platform.eventbus.grpc.subscription.fetch.replayid.invalid", Action.INVALID_REPLAY),
    ("INVALID_ARGUMENT", "sfdc.platform.eventbus.grpc.topic.not.found", Action.REOPEN),
    ("NOT_FOUND", "sfdc.platform.eventbus.grpc.topic.not.found", Action.REFUSED),
    ("PERMISSION_DENIED", None, Action.REFUSED),
    ("UNAVAILABLE", "sfdc.platform.eventbus.grpc.service.unavailable", Action.REOPEN),
    ("UNAVAILABLE", None, Action.REOPEN),  # RST_STREAM closed stream
    ("INTERNAL", None, Action.REOPEN),
    ("RESOURCE_EXHAUSTED", "sfdc.platform.eventbus.grpc.concurrent.client.limit.exceeded", Action.REOPEN),
    ("CANCELLED", None, Action.REOPEN),
    ("DEADLINE_EXCEEDED", None, Action.REOPEN),
])
def test_error_classification(status: str, code: str | None, action: Action) -> None:
    """gRPC status + error-code trailer -> refresh auth, invalid replay, refused (config) or reopen."""
    assert classify(status, code) is action


@pytest.mark.parametrize(("created", "shown"), [
    (1_746_100_800_123, "2025-05-01T12:00:00.123Z"),
    (0, "1970-01-01T00:00:00.000Z"),
    ("2025-05-01T12:00:00.000Z", "2025-05-01T12:00:00.000Z"),
    (None, None),
])
def test_record_payload_shows_created_date_as_cometd_does(created: object, shown: object) -> None:
    """Avro CreatedDate (epoch ms) becomes ISO text; other fields pass through unchanged."""
    payload = record_payload({"CreatedDate": created, "NewStatus": "Allocated", "Extra__c": 1})
    assert payload == {"CreatedDate": shown, "NewStatus": "Allocated", "Extra__c": 1}
