"""Pub/Sub API (gRPC, service ``eventbus.v1.PubSub``) of the emulated org: GetTopic, GetSchema, Subscribe.

It reads the same :class:`EventBus` as the CometD endpoint, so an event published once (admin API, a
FulfillmentOrder status change) reaches subscribers of both transports in the same replay order. Subscribe is
pull-based: the server sends no more events than the FetchRequests have asked for (``Credit``), answers a quiet
stream with an empty FetchResponse carrying the latest replay id every ``keepalive_seconds``, and ends the
stream with the documented status and ``error-code`` trailer on bad auth, unknown topics and bad replay ids.
Every RPC is authenticated from its ``accesstoken`` / ``instanceurl`` / ``tenantid`` metadata against the
tokens the emulator's OAuth endpoint issued; a stream also ends when its token is revoked or expires.

Fault injection (admin API): end every open stream (``reset_streams``) and refuse RPCs with UNAVAILABLE for a
while (``set_unavailable``). Wire facts and their sources: emulator/REFERENCE-pubsub.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from emulator.salesforce import pubsub_wire as w
from emulator.salesforce.events import EventBus, StoredEvent
from emulator.salesforce.oauth import TokenStore
from emulator.salesforce.pubsub_avro import TOPIC_SCHEMAS, encode_payload
from emulator.salesforce.pubsub_service import Servicer
from worker._pubsub_pb import pubsub_api_pb2 as pb
from worker._pubsub_pb import pubsub_api_pb2_grpc as pb_grpc

__all__ = ["PubSubServer", "PubSubSettings"]

RESET_CODES = {"UNAVAILABLE": grpc.StatusCode.UNAVAILABLE, "INTERNAL": grpc.StatusCode.INTERNAL,
               "CANCELLED": grpc.StatusCode.CANCELLED, "ABORTED": grpc.StatusCode.ABORTED}


@dataclass
class PubSubSettings:
    """Where the gRPC server listens and how Subscribe paces itself (Salesforce values by default)."""

    enabled: bool = True
    port: int = 0                      # 0: any free port (the bound one is RunningEmulator.pubsub_target)
    keepalive_seconds: float = 270.0   # an empty FetchResponse after this long without one (guide: within 270 s)
    max_num_requested: int = 100       # credit one FetchRequest can add
    max_batch: int = 100               # events in one FetchResponse


@dataclass(eq=False)  # identity: kept in a set of open streams
class _Stream:
    """One open Subscribe call."""

    topic: str
    token: str
    rpc_id: str
    cursor: int                 # bus position of the last event sent (or the start position)
    cursor_at: float            # when that position was current (epoch s): the time inside its replay id
    credit: w.Credit
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    error: w.PubSubError | None = None

    def fail(self, error: w.PubSubError) -> None:
        if self.error is None:
            self.error = error
        self.wake.set()


class PubSubServer:
    """The Pub/Sub API over an event bus and a token store; ``start``/``stop`` run the grpc.aio server."""

    def __init__(self, bus: EventBus, tokens: TokenStore, settings: PubSubSettings,
                 count: Callable[[str, int], None] | None = None) -> None:
        self.bus = bus
        self.tokens = tokens
        self.settings = settings
        self.count: Callable[[str, int], None] = count or (lambda kind, n: None)  # admin counters, kind pubsub_*
        self.target: str | None = None
        self._server: grpc.aio.Server | None = None
        self._streams: set[_Stream] = set()
        self._unavailable_until = 0.0

    # -- lifecycle --------------------------------------------------------------------------------------------

    async def start(self, host: str, port: int, tls: tuple[bytes, bytes] | None = None) -> str:
        """Listen on ``host:port`` (0: any free port); ``tls`` = (key PEM, certificate PEM). Returns host:port."""
        server = grpc.aio.server()
        pb_grpc.add_PubSubServicer_to_server(Servicer(self), server)
        address = f"{host}:{port}"
        if tls is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, grpc.ssl_server_credentials([tls]))
        await server.start()
        self._server = server
        self.bus.add_listener(self._on_publish)
        self.target = f"{host}:{bound}"
        return self.target

    async def stop(self, grace: float = 1.0) -> None:
        """End open streams (UNAVAILABLE, as a server going away) and stop listening."""
        self.bus.remove_listener(self._on_publish)
        self.reset_streams(grpc.StatusCode.UNAVAILABLE)
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    # -- operator controls ------------------------------------------------------------------------------------

    def reset_streams(self, status: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> int:
        """End every open Subscribe stream with ``status`` (no Salesforce error code: a transport-level end)."""
        for stream in self._streams:
            stream.fail(w.PubSubError(status, "", "The stream was reset."))
        return len(self._streams)

    def set_unavailable(self, seconds: float) -> int:
        """Refuse RPCs with UNAVAILABLE for ``seconds`` (0 clears); ends open streams the same way."""
        self._unavailable_until = time.monotonic() + seconds if seconds > 0 else 0.0
        if seconds <= 0:
            return 0
        for stream in self._streams:
            stream.fail(w.service_unavailable())
        return len(self._streams)

    def unavailable(self) -> bool:
        return time.monotonic() < self._unavailable_until

    def describe(self) -> dict[str, Any]:
        """What the admin API reports: target, unavailable window, open streams and what each is owed."""
        return {
            "target": self.target,
            "unavailable": self.unavailable(),
            "streams": [{"topic": s.topic, "rpc_id": s.rpc_id, "owed": s.credit.owed, "position": s.cursor}
                        for s in self._streams],
        }

    # -- checks shared by the RPCs ----------------------------------------------------------------------------

    def authenticate(self, metadata: Any) -> str:
        """The access token of a call whose metadata authenticates it; raises PubSubError otherwise."""
        if self.unavailable():
            raise w.service_unavailable()
        headers = {str(key).lower(): str(value) for key, value in (metadata or ())}
        for name in ("accesstoken", "instanceurl", "tenantid"):
            if not headers.get(name, "").strip():
                raise w.auth_headers_invalid(name)
        token = headers["accesstoken"].strip()
        org_id = self.tokens.settings.org_id
        tenant = headers["tenantid"].strip()
        if self.tokens.validate(f"Bearer {token}") is None or tenant not in (org_id, org_id[:15]):
            raise w.auth_error()
        return token

    def token_valid(self, token: str) -> bool:
        return self.tokens.validate(f"Bearer {token}") is not None

    def topic_schema(self, topic: str) -> dict[str, Any]:
        if not topic.strip():
            raise w.topic_empty()
        schema = TOPIC_SCHEMAS.get(topic)
        if schema is None:
            raise w.topic_not_found(self.tokens.settings.org_id, topic)
        return schema

    # -- Subscribe --------------------------------------------------------------------------------------------

    def open_stream(self, first: pb.FetchRequest, token: str, rpc_id: str) -> _Stream:
        """Validate the first FetchRequest and place the stream at its replay start."""
        self.topic_schema(first.topic_name)
        now = self.bus.now()
        last = self.bus.last_replay_id(first.topic_name)
        if first.replay_preset == pb.CUSTOM:
            if not first.replay_id:
                raise w.replay_error("missing")
            start = w.decode_replay_id(first.replay_id)
            refusal = w.replay_refusal(start, last_position=last, now=now,
                                       retention_seconds=self.bus.retention_seconds,
                                       purged_before=self.bus.purged_before)
            if refusal is not None or start is None:
                raise refusal or w.replay_error("corrupted")
            cursor, cursor_at = start.position, start.at_ms / 1000
        elif first.replay_preset == pb.EARLIEST:
            oldest = self.bus.page_after(first.topic_name, -1, 1)
            cursor, cursor_at = 0, (oldest[0].published_at if oldest else now)
        else:
            cursor, cursor_at = last, now
        credit = w.Credit(self.settings.max_num_requested)
        credit.grant(first.num_requested)
        stream = _Stream(first.topic_name, token, rpc_id, cursor, cursor_at, credit)
        self._streams.add(stream)
        return stream

    def close_stream(self, stream: _Stream) -> None:
        self._streams.discard(stream)

    def next_response(self, stream: _Stream, keepalive_due: bool) -> pb.FetchResponse | None:
        """The response to send now: owed events, else a keepalive when due, else None (wait)."""
        limit = min(stream.credit.owed, self.settings.max_batch)
        pending = self.bus.page_after(stream.topic, stream.cursor, max(limit, 1))
        count = stream.credit.take(len(pending), self.settings.max_batch)
        if count:
            batch = pending[:count]
            schema = TOPIC_SCHEMAS[stream.topic]
            stream.cursor, stream.cursor_at = batch[-1].replay_id, batch[-1].published_at
            self.count("pubsub_events_delivered", count)
            return pb.FetchResponse(events=[_consumer_event(e, schema) for e in batch],
                                    latest_replay_id=w.encode_replay_id(stream.cursor, stream.cursor_at),
                                    rpc_id=stream.rpc_id, pending_num_requested=stream.credit.owed)
        if not keepalive_due:
            return None
        if not pending:  # caught up: the newest position of the topic is current now
            stream.cursor = max(stream.cursor, self.bus.last_replay_id(stream.topic))
            stream.cursor_at = self.bus.now()
        return pb.FetchResponse(latest_replay_id=w.encode_replay_id(stream.cursor, stream.cursor_at),
                                rpc_id=stream.rpc_id, pending_num_requested=stream.credit.owed)

    def _on_publish(self, event: StoredEvent) -> None:
        for stream in self._streams:
            if stream.topic == event.channel:
                stream.wake.set()


def _consumer_event(event: StoredEvent, schema: dict[str, Any]) -> pb.ConsumerEvent:
    return pb.ConsumerEvent(
        event=pb.ProducerEvent(id=event.event_uuid, schema_id=event.schema,
                               payload=encode_payload(schema, event.payload)),
        replay_id=w.encode_replay_id(event.replay_id, event.published_at))
