"""Liveness: the stream loop is alive while Salesforce answers it (connect replies) or it keeps reopening, with no
event at all; a loop that shows no progress past its window fails /healthz."""

from __future__ import annotations

import time

from worker.health import Health, stream_pulse
from worker.salesforce.stream_types import StreamStatus


def stale_health(window: float = 150.0) -> tuple[Health, StreamStatus]:
    """Health whose stream beat (start-up, no event since) is far older than the window, fed by a stream pulse."""
    status = StreamStatus(connected=True)
    health = Health(liveness_window=window)
    health.pulses["stream"] = stream_pulse(status)
    health.beats["stream"] = time.monotonic() - 10 * window
    return health, status


def test_a_quiet_stream_answered_by_salesforce_is_alive() -> None:
    """No event for 10x the window, but the server answered a connect just now: alive, stream age ~0."""
    health, status = stale_health()
    status.last_message_at = time.time()
    alive, ages = health.liveness()
    assert alive and ages["stream"] < 150


def test_a_stream_that_keeps_reopening_is_alive() -> None:
    """Salesforce unreachable (no answer for long) but the loop counts a new reopen attempt: alive."""
    health, status = stale_health()
    status.connected, status.last_message_at = False, time.time() - 3000
    health.liveness()
    health.beats["stream"] = time.monotonic() - 1500  # the last progress seen is long ago ...
    status.reconnects += 1  # ... and now the loop tried again
    assert health.liveness()[0]


def test_a_stuck_stream_fails_liveness_within_its_own_window() -> None:
    """No answer and no reopen past the stream's window: /healthz fails; a per-loop window overrides the default."""
    health, status = stale_health(window=60)
    status.last_message_at = time.time() - 100
    health.beats["stream"] = time.monotonic() - 100
    assert not health.liveness()[0]
    health.windows["stream"] = 120
    assert health.liveness()[0]
