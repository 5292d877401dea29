"""The fulfillment stream's transport, as the rest of the worker sees it: CometD or the gRPC Pub/Sub API.

Both implement :class:`EventTransport`: ``events()`` is an endless iterator of :class:`StreamEvent` (their
``replay_id`` is the cursor to store: an int for CometD, opaque bytes for Pub/Sub), ``committed()`` is called by the
ingest after each inbox commit (Pub/Sub's flow control asks for more only then), ``cursor_key`` names the store's
cursor and ``status`` is what /status, /metrics and the liveness pulse read. Only :func:`open_transport` knows
which one runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol

from worker.config import Config
from worker.salesforce.auth import TokenProvider
from worker.salesforce.stream import FoEventStream
from worker.salesforce.stream_types import StreamEvent, StreamStatus


class EventTransport(Protocol):
    @property
    def name(self) -> str: ...  # cometd | pubsub

    @property
    def cursor_key(self) -> str: ...  # the store's cursor of this transport

    @property
    def status(self) -> StreamStatus: ...

    def events(self) -> AsyncIterator[StreamEvent]: ...

    def committed(self, events: Sequence[Any]) -> None: ...


def open_transport(config: Config, tokens: TokenProvider, cursor: Any, *,
                   on_gap: Callable[[str], Awaitable[None]]) -> EventTransport:
    """The configured transport (``worker.stream.transport``); the Pub/Sub client is imported only when used."""
    stream = config.worker.stream
    if stream.transport == "pubsub":
        from worker.salesforce.pubsub import PubSubStream

        return PubSubStream(config.salesforce, tokens, cursor, stream.pubsub, channel=stream.channel,
                            initial_replay=stream.initial_replay, on_gap=on_gap)
    return FoEventStream(config.salesforce, tokens, cursor, channel=stream.channel,
                         keepalive_seconds=stream.keepalive_seconds, initial_replay=stream.initial_replay,
                         on_gap=on_gap)
