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
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from emulator.salesforce import pubsub_wire as w
from emulator.salesforce.events import EventBus, StoredEvent
from emulator.salesforce.oauth import TokenStore
from emulator.salesforce.pubsub_avro import TOPIC_SCHEMAS, encode_payload, schema_fingerprint, schema_json
from worker._pubsub_pb import pubsub_api_pb2 as pb
from worker._pubsub_pb import pubsub_api_pb2_grpc as pb_grpc

__all__ = ["PubSubServer", "PubSubSettings"]

_LOG = logging.getLogger(__name__)
_AUTH_RECHECK_SECONDS = 1.0  # an idle stream notices a revoked or expired token this soon
_Context = grpc.aio.ServicerContext[Any, Any]
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
        pb_grpc.add_PubSubServicer_to_server(_Servicer(self), server)
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


async def _abort(context: _Context, error: w.PubSubError, rpc_id: str) -> None:
    trailers: tuple[tuple[str, str], ...] = (("rpc-id", rpc_id),)
    if error.code:
        trailers = (("error-code", error.error_code), *trailers)
    await context.abort(error.status, f"{error.message} rpcId: {rpc_id}", trailing_metadata=trailers)


class _Servicer(pb_grpc.PubSubServicer):
    """The RPC handlers: thin, all rules live on PubSubServer and in pubsub_wire."""

    def __init__(self, server: PubSubServer) -> None:
        self.server = server

    async def GetTopic(self, request: pb.TopicRequest, context: _Context) -> pb.TopicInfo:
        rpc_id = str(uuid.uuid4())
        self.server.count("pubsub_get_topic", 1)
        try:
            self.server.authenticate(context.invocation_metadata())
            schema = self.server.topic_schema(request.topic_name)
        except w.PubSubError as error:
            await _abort(context, error, rpc_id)
            raise  # not reached: abort raises
        return pb.TopicInfo(topic_name=request.topic_name, tenant_guid=self.server.tokens.settings.org_id,
                            can_publish=False, can_subscribe=True, schema_id=schema_fingerprint(schema),
                            rpc_id=rpc_id)

    async def GetSchema(self, request: pb.SchemaRequest, context: _Context) -> pb.SchemaInfo:
        rpc_id = str(uuid.uuid4())
        self.server.count("pubsub_get_schema", 1)
        try:
            self.server.authenticate(context.invocation_metadata())
            if not request.schema_id.strip():
                raise w.schema_empty()
            found = [s for s in TOPIC_SCHEMAS.values() if schema_fingerprint(s) == request.schema_id]
            if not found:
                raise w.schema_not_found(request.schema_id)
        except w.PubSubError as error:
            await _abort(context, error, rpc_id)
            raise
        return pb.SchemaInfo(schema_json=schema_json(found[0]), schema_id=request.schema_id, rpc_id=rpc_id)

    async def Publish(self, request: pb.PublishRequest, context: _Context) -> pb.PublishResponse:
        """Not emulated (the worker only subscribes; events come from the org or the admin API)."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Publish is not emulated; use POST /__admin/events/publish")
        raise AssertionError("abort raises")

    # The read/write form of a grpc.aio stream handler (context.read / context.write), not an async generator.
    async def Subscribe(self, request_iterator: Any, context: _Context) -> None:  # type: ignore[override]
        rpc_id = str(uuid.uuid4())
        self.server.count("pubsub_subscribe", 1)
        try:
            token = self.server.authenticate(context.invocation_metadata())
            first = await context.read()
            if first is grpc.aio.EOF:
                return
            self.server.count("pubsub_fetch_request", 1)
            stream = self.server.open_stream(first, token, rpc_id)
        except w.PubSubError as error:
            await _abort(context, error, rpc_id)
            return
        try:
            async with asyncio.TaskGroup() as group:
                reader = group.create_task(_read_requests(context, stream, self.server.count))
                ending = await self._serve(context, stream)
                reader.cancel()
        finally:
            self.server.close_stream(stream)
        _LOG.info("pubsub stream %s on %s ended: %s %s", rpc_id, stream.topic, ending.status.name, ending.code)
        await _abort(context, ending, rpc_id)

    async def _serve(self, context: _Context, stream: _Stream) -> w.PubSubError:
        keepalive = self.server.settings.keepalive_seconds
        last_sent = time.monotonic()
        while True:
            stream.wake.clear()
            if stream.error is None and not self.server.token_valid(stream.token):
                stream.fail(w.auth_error())
            if stream.error is not None:
                return stream.error
            due = time.monotonic() - last_sent >= keepalive
            response = self.server.next_response(stream, due)
            if response is not None:
                await context.write(response)
                last_sent = time.monotonic()
                continue
            until_keepalive = keepalive - (time.monotonic() - last_sent)
            with contextlib.suppress(TimeoutError):  # wake at the keepalive, or to re-check the token
                await asyncio.wait_for(stream.wake.wait(), max(0.0, min(until_keepalive, _AUTH_RECHECK_SECONDS)))


async def _read_requests(context: _Context, stream: _Stream, count: Callable[[str, int], None]) -> None:
    """Add each later FetchRequest's credit; a bad one ends the stream through ``stream.fail``."""
    while True:
        request = await context.read()
        if request is grpc.aio.EOF:
            return
        count("pubsub_fetch_request", 1)
        if request.topic_name and request.topic_name != stream.topic:
            stream.fail(w.topic_mismatch(stream.topic, request.topic_name))
            return
        try:
            stream.credit.grant(request.num_requested)
        except w.PubSubError as error:
            stream.fail(error)
            return
        stream.wake.set()
