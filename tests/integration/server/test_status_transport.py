"""/status and /metrics name the stream's transport, its last committed replay id and (Pub/Sub) the flow window."""

from __future__ import annotations

import json
import time
from typing import Any

from worker.health import Health
from worker.salesforce.stream_types import StreamStatus
from worker.server import STATUS

from .test_status import get


async def test_pubsub_stream_shows_transport_replay_id_and_flow_window(serve: Any) -> None:
    """A Pub/Sub stream: /status (JSON and the HTML page) shows transport, last replay id (base64) and window;
    /metrics has the gauges."""
    served = await serve(health=Health(cache_seconds=0))
    board = served.app[STATUS]
    board.stream = StreamStatus(connected=True, last_message_at=time.time(), transport="pubsub",
                                last_replay_id="AAAAAAAAAAg=", window=100, requested=60, outstanding=40)
    served.metrics.reader = board.reading
    status, _, text = await get(served, "/status")
    stream = json.loads(text)["dependencies"]["stream"]
    assert status == 200 and stream["transport"] == "pubsub" and stream["last_replay_id"] == "AAAAAAAAAAg="
    assert stream["flow_control"] == {"window": 100, "requested": 60, "outstanding": 40}
    _, _, metrics = await get(served, "/metrics", accept="*/*")
    assert 'oms_stream_transport{transport="pubsub"} 1.0' in metrics
    assert "oms_stream_flow_window 100.0" in metrics and "oms_stream_flow_requested 60.0" in metrics
    assert "oms_stream_flow_outstanding 40.0" in metrics
    _, _, page = await get(served, "/status", accept="text/html")
    assert "pubsub; subscribed: yes" in page and "last stored replay id: AAAAAAAAAAg=" in page
    assert "flow control: 60 requested, 40 not yet stored (window 100)" in page


async def test_cometd_stream_has_no_flow_window(serve: Any) -> None:
    """A CometD stream: transport cometd, its int replay id as text, no flow-control section, no flow gauge samples."""
    served = await serve(health=Health(cache_seconds=0))
    board = served.app[STATUS]
    board.stream = StreamStatus(connected=True, last_message_at=time.time(), last_replay_id="1234")
    served.metrics.reader = board.reading
    _, _, text = await get(served, "/status")
    stream = json.loads(text)["dependencies"]["stream"]
    assert stream["transport"] == "cometd" and stream["last_replay_id"] == "1234" and stream["flow_control"] is None
    _, _, metrics = await get(served, "/metrics", accept="*/*")
    assert 'oms_stream_transport{transport="cometd"} 1.0' in metrics
    assert "\noms_stream_flow_window " not in metrics  # HELP/TYPE only, no sample
