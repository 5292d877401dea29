"""What both stream transports share (CometD's :mod:`.stream`, Pub/Sub's :mod:`.pubsub`): the event and status
records the rest of the worker reads, the replay ids already yielded, and the open/retry bounds."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from worker.retry import RetryPolicy

__all__ = ["OPEN_TIMEOUT", "SEEN_WINDOW", "STORE_RETRY", "STREAM_RETRY", "CursorUnavailable", "SeenIds",
           "StreamEvent", "StreamStatus"]

OPEN_TIMEOUT = 30.0
SEEN_WINDOW = 10_000
STREAM_RETRY = RetryPolicy(attempts=1_000_000, base_delay=0.5, max_delay=60.0)
STORE_RETRY = RetryPolicy(attempts=1_000_000, base_delay=0.5, max_delay=5.0)


class CursorUnavailable(Exception):
    """The stored replay id could not be read (the store is unavailable): nothing was opened."""


@dataclass(frozen=True)
class StreamEvent:
    replay_id: int | bytes  # CometD replayId (int) or Pub/Sub replay_id (opaque bytes): the cursor to store
    event_uuid: str | None
    fulfillment_order_id: str | None
    new_status: str | None
    old_status: str | None
    order_summary_id: str | None
    payload: dict[str, Any]
    channel: str
    keepalive: bool = False  # no event: only a replay id to store (Pub/Sub's empty keepalive answers)


@dataclass
class StreamStatus:
    connected: bool = False  # handshaken and subscribed
    positioned: bool = False  # subscribed and placed (Pub/Sub at LATEST: answered, or FIRST_ANSWER_WAIT passed)
    last_message_at: float | None = None  # wall clock of the last server answer (events or connect replies)
    reconnects: int = 0
    transport: str = "cometd"
    last_replay_id: str | None = None  # the last replay id committed to the inbox (Pub/Sub's as base64)
    window: int | None = None  # flow control (Pub/Sub): events asked for per FetchRequest
    requested: int | None = None  # asked for and not delivered yet
    outstanding: int | None = None  # delivered and not yet committed to the inbox


class SeenIds:
    """Bounded memory of replay ids already yielded by one ``events()`` iteration."""

    def __init__(self, size: int = SEEN_WINDOW) -> None:
        self._ids: OrderedDict[int | bytes, None] = OrderedDict()
        self._size = size

    def __contains__(self, replay_id: object) -> bool:
        return replay_id in self._ids

    def add(self, replay_id: int | bytes) -> bool:
        if replay_id in self._ids:
            return False
        self._ids[replay_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True
