"""Refusals of the emulator's Pub/Sub API: gRPC status and the ``error-code`` trailer, as Salesforce sends them."""

from __future__ import annotations

import grpc
import pytest

from emulator.salesforce.pubsub_wire import encode_replay_id
from worker._pubsub_pb import pubsub_api_pb2 as pb

from .conftest import FO_TOPIC, PubSubOrg, error_code, read_events, stream_error

PREFIX = "sfdc.platform.eventbus.grpc."


async def test_unknown_token_is_unauthenticated_with_auth_error_code(org: PubSubOrg) -> None:
    """A token the org never issued: UNAUTHENTICATED, error-code service.auth.error, rpcId in the details."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await org.stub.GetTopic(pb.TopicRequest(topic_name=FO_TOPIC), metadata=org.metadata("00D!not-a-token"))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_code(info.value) == PREFIX + "service.auth.error"
    assert "rpcId: " in (info.value.details() or "")


@pytest.mark.parametrize("header", ["accesstoken", "instanceurl", "tenantid"])
async def test_blank_auth_header_is_unauthenticated_with_headers_invalid(org: PubSubOrg, header: str) -> None:
    """Each of accesstoken / instanceurl / tenantid blank: UNAUTHENTICATED, error-code service.auth.headers.invalid."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await org.stub.GetTopic(pb.TopicRequest(topic_name=FO_TOPIC), metadata=org.metadata(**{header: " "}))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_code(info.value) == PREFIX + "service.auth.headers.invalid"


async def test_tenant_of_another_org_is_unauthenticated(org: PubSubOrg) -> None:
    """A live token presented with another org's tenant id is refused like a bad token."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await org.stub.GetTopic(pb.TopicRequest(topic_name=FO_TOPIC),
                                metadata=org.metadata(tenantid="00D0000000000XYZ"))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_code(info.value) == PREFIX + "service.auth.error"


async def test_subscribe_with_bad_token_ends_unauthenticated(org: PubSubOrg) -> None:
    """Subscribe with a bad token ends before any response with UNAUTHENTICATED / service.auth.error."""
    call = await org.subscribe(metadata=org.metadata("bad"), num_requested=1)
    error = await stream_error(call)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and error_code(error) == PREFIX + "service.auth.error"


async def test_revoked_token_ends_an_open_stream(org: PubSubOrg) -> None:
    """Revoking the session (admin tokens/revoke) ends an idle stream with UNAUTHENTICATED within seconds."""
    call = await org.subscribe(replay_preset=pb.LATEST, num_requested=1)
    await org.streams(1)
    await org.admin("POST", "tokens/revoke")
    error = await stream_error(call)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and error_code(error) == PREFIX + "service.auth.error"


async def test_unknown_topic_is_not_found_on_get_topic_and_subscribe(org: PubSubOrg) -> None:
    """A topic the org does not define: NOT_FOUND with error-code topic.not.found on GetTopic and on Subscribe."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await org.stub.GetTopic(pb.TopicRequest(topic_name="/event/Nope__e"), metadata=org.metadata())
    assert info.value.code() == grpc.StatusCode.NOT_FOUND and error_code(info.value) == PREFIX + "topic.not.found"
    error = await stream_error(await org.subscribe(topic_name="/event/Nope__e", num_requested=1))
    assert error.code() == grpc.StatusCode.NOT_FOUND and error_code(error) == PREFIX + "topic.not.found"


async def test_unknown_schema_id_is_refused(org: PubSubOrg) -> None:
    """GetSchema of an id no topic has: NOT_FOUND; a blank id: INVALID_ARGUMENT schema.validation.failed."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await org.stub.GetSchema(pb.SchemaRequest(schema_id="AAAAAAAAAAAAAAAAAAAAAA"), metadata=org.metadata())
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as blank:
        await org.stub.GetSchema(pb.SchemaRequest(schema_id=""), metadata=org.metadata())
    assert blank.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(blank.value) == PREFIX + "schema.validation.failed"


@pytest.mark.parametrize("replay_id", [b"\x00\x01", b"x" * 20, encode_replay_id(10_000_000, 0)])
async def test_corrupted_replay_id_is_invalid_argument(org: PubSubOrg, replay_id: bytes) -> None:
    """CUSTOM with bytes that are no replay id of this topic: INVALID_ARGUMENT, error-code replayid.corrupted."""
    org.publish()
    error = await stream_error(await org.subscribe(replay_preset=pb.CUSTOM, replay_id=replay_id, num_requested=1))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(error) == PREFIX + "subscription.fetch.replayid.corrupted"


async def test_custom_without_replay_id_fails_validation(org: PubSubOrg) -> None:
    """CUSTOM with no replay id: INVALID_ARGUMENT, error-code replayid.validation.failed."""
    error = await stream_error(await org.subscribe(replay_preset=pb.CUSTOM, num_requested=1))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(error) == PREFIX + "subscription.fetch.replayid.validation.failed"


async def test_replay_id_from_before_a_purge_is_refused(org: PubSubOrg) -> None:
    """A stored replay id older than the retention window (admin purge) is refused as corrupted."""
    org.publish()
    (event,) = await read_events(await org.subscribe(replay_preset=pb.EARLIEST, num_requested=1), 1)
    await org.admin("POST", "events/purge", {"older_than_seconds": 0})
    error = await stream_error(await org.subscribe(replay_preset=pb.CUSTOM, replay_id=event.replay_id,
                                                   num_requested=1))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(error) == PREFIX + "subscription.fetch.replayid.corrupted"


async def test_non_positive_num_requested_is_refused(org: PubSubOrg) -> None:
    """num_requested 0 in a FetchRequest: INVALID_ARGUMENT, error-code requested.events.invalid."""
    error = await stream_error(await org.subscribe(num_requested=0))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(error) == PREFIX + "subscription.fetch.requested.events.invalid"


async def test_later_fetch_request_for_another_topic_is_refused(org: PubSubOrg) -> None:
    """A later FetchRequest naming a different topic ends the stream: INVALID_ARGUMENT topic.mismatch."""
    call = await org.subscribe(num_requested=1)
    await org.streams(1)
    await call.write(pb.FetchRequest(topic_name="/event/Other__e", num_requested=1))
    error = await stream_error(call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(error) == PREFIX + "subscription.fetch.topic.mismatch"


async def test_publish_is_not_emulated(org: PubSubOrg) -> None:
    """Publish answers UNIMPLEMENTED (events enter through the org or the admin API, never silently dropped)."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await org.stub.Publish(pb.PublishRequest(topic_name=FO_TOPIC), metadata=org.metadata())
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
