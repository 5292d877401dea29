"""worker.stream: the transport choice (CometD default, Pub/Sub) and the Pub/Sub settings, with clear refusals."""

from __future__ import annotations

from typing import Any

import pytest

from worker.config_load import parse_config

from .test_config import BASE, problems_of, with_change


def test_cometd_is_the_default_transport_and_its_watchdog_is_keepalive_seconds() -> None:
    """Without a transport key the worker runs CometD; the watchdog is stream.keepalive_seconds."""
    stream = parse_config(BASE, {}).worker.stream
    assert stream.transport == "cometd" and stream.watchdog_seconds == 150.0
    assert stream.pubsub.target == "api.pubsub.salesforce.com:7443" and stream.pubsub.tls is True
    assert stream.pubsub.num_requested == 100


def test_pubsub_settings_parse_and_its_watchdog_is_its_own() -> None:
    """transport: pubsub with its section: target, window and the Pub/Sub keepalive watchdog (quiet topic: ~270 s)."""
    data = with_change("worker.stream", {"transport": "pubsub", "pubsub": {
        "target": "api.pubsub.salesforce.com:7443", "num_requested": 50, "keepalive_seconds": 400}})
    stream = parse_config(data, {}).worker.stream
    assert (stream.transport, stream.pubsub.num_requested, stream.watchdog_seconds) == ("pubsub", 50, 400.0)


@pytest.mark.parametrize(("stream", "expected"), [
    ({"transport": "websocket"}, "worker.stream.transport"),
    ({"pubsub": {"num_requested": 101}}, "worker.stream.pubsub.num_requested"),
    ({"pubsub": {"num_requested": 0}}, "worker.stream.pubsub.num_requested"),
    ({"pubsub": {"target": "https://api.pubsub.salesforce.com"}}, "expected host:port"),
    ({"pubsub": {"target": "api.pubsub.salesforce.com"}}, "expected host:port"),
    ({"pubsub": {"target": "host:99999"}}, "expected host:port"),
    ({"pubsub": {"tls": False}}, "needs salesforce.allow_insecure_local"),
    ({"pubsub": {"window": 5}}, "worker.stream.pubsub.window"),
])
def test_bad_stream_settings_name_the_key_and_why(stream: dict[str, Any], expected: str) -> None:
    """Each bad transport setting is refused with a message naming the key (or the rule)."""
    problems = problems_of(with_change("worker.stream", stream))
    assert any(expected in problem for problem in problems), problems


def test_plaintext_pubsub_is_allowed_for_the_local_emulator() -> None:
    """tls: false passes once salesforce.allow_insecure_local is on (the emulator serves plaintext HTTP/2)."""
    data = with_change("worker.stream", {"transport": "pubsub", "pubsub": {"target": "127.0.0.1:4001", "tls": False}})
    data["salesforce"] = {**data["salesforce"], "UrlBase": "http://127.0.0.1:4000", "allow_insecure_local": True}
    assert parse_config(data, {}).worker.stream.pubsub.tls is False
