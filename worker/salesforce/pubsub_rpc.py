"""The Pub/Sub API's call plumbing: auth metadata, the ``error-code`` trailer, the channel, and the live probe.

Shared by :class:`~worker.salesforce.pubsub.PubSubStream` and ``check-config --live`` (:func:`probe_topic`).
"""

from __future__ import annotations

import grpc

from worker._pubsub_pb import pubsub_api_pb2 as pb
from worker._pubsub_pb import pubsub_api_pb2_grpc as pb_grpc
from worker.config import SalesforceConfig
from worker.config.worker_section import PubSubConfig
from worker.errors import PermanentError, TransientError
from worker.salesforce.auth import Token, TokenProvider
from worker.salesforce.pubsub_flow import ERROR_CODE_TRAILER, Action, classify

__all__ = ["error_code", "metadata", "open_channel", "probe_topic"]
RPC_TIMEOUT = 30.0


def metadata(token: Token) -> tuple[tuple[str, str], ...]:
    if not token.org_id:
        raise PermanentError("salesforce", "the token answer has no identity URL (id) naming the org: no tenantid")
    return (("accesstoken", token.access_token), ("instanceurl", token.instance_url), ("tenantid", token.org_id))


def error_code(exc: grpc.aio.AioRpcError) -> str | None:
    """The Pub/Sub ``error-code`` trailer of a failed call."""
    for key, value in exc.trailing_metadata() or ():
        if key == ERROR_CODE_TRAILER:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def open_channel(settings: PubSubConfig, sf: SalesforceConfig) -> grpc.aio.Channel:
    options = [("grpc.keepalive_time_ms", 60_000), ("grpc.max_receive_message_length", 32 * 1024 * 1024)]
    if not settings.tls:
        return grpc.aio.insecure_channel(settings.target, options=options)
    roots = sf.ca_file.read_bytes() if sf.ca_file is not None else None
    return grpc.aio.secure_channel(settings.target, grpc.ssl_channel_credentials(roots), options=options)


async def probe_topic(sf: SalesforceConfig, tokens: TokenProvider, settings: PubSubConfig, channel: str) -> str:
    """``GetTopic`` and its schema (check-config --live); a clear error when refused or unreachable."""
    grpc_channel = open_channel(settings, sf)
    try:
        md = metadata(await tokens.token())
        stub = pb_grpc.PubSubStub(grpc_channel)
        info = await stub.GetTopic(pb.TopicRequest(topic_name=channel), metadata=md, timeout=RPC_TIMEOUT)
        if not info.can_subscribe:
            raise PermanentError("salesforce", f"Pub/Sub topic {channel} does not allow subscribing")
        await stub.GetSchema(pb.SchemaRequest(schema_id=info.schema_id), metadata=md, timeout=RPC_TIMEOUT)
        return f"Pub/Sub topic {channel} at {settings.target} (schema {info.schema_id})"
    except grpc.aio.AioRpcError as exc:
        code = error_code(exc)
        what = f"{exc.code().name}{' ' + code if code else ''}: {(exc.details() or '')[:200]}"
        if classify(exc.code().name, code) is Action.REOPEN:
            raise TransientError("salesforce", f"Pub/Sub API unreachable ({what})") from None
        raise PermanentError("salesforce", f"Pub/Sub API refused ({what})") from None
    finally:
        await grpc_channel.close(grace=None)
