"""The RPC handlers of the emulator's Pub/Sub API (``eventbus.v1.PubSub``): thin, every rule lives on
:class:`~emulator.salesforce.pubsub.PubSubServer` and in :mod:`~emulator.salesforce.pubsub_wire` (split from
:mod:`emulator.salesforce.pubsub` to keep modules small). Refusals end the call with the status, ``rpcId:`` in the
details and the ``error-code`` / ``rpc-id`` trailers (emulator/REFERENCE-pubsub.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

from emulator.salesforce import pubsub_wire as w
from emulator.salesforce.pubsub_avro import TOPIC_SCHEMAS, schema_fingerprint, schema_json
from worker._pubsub_pb import pubsub_api_pb2 as pb
from worker._pubsub_pb import pubsub_api_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from emulator.salesforce.pubsub import PubSubServer, _Stream

_LOG = logging.getLogger("emulator.salesforce.pubsub")
_AUTH_RECHECK_SECONDS = 1.0  # an idle stream notices a revoked or expired token this soon
_Context = grpc.aio.ServicerContext[Any, Any]


async def _abort(context: _Context, error: w.PubSubError, rpc_id: str) -> None:
    trailers: tuple[tuple[str, str], ...] = (("rpc-id", rpc_id),)
    if error.code:
        trailers = (("error-code", error.error_code), *trailers)
    await context.abort(error.status, f"{error.message} rpcId: {rpc_id}", trailing_metadata=trailers)


class Servicer(pb_grpc.PubSubServicer):
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
