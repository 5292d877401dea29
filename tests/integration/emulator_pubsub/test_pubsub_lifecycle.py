"""The Pub/Sub server's lifecycle with the emulator: TLS, stop, and replay ids that survive a persisted restart."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from emulator.salesforce.app import SfEmulatorSettings, start_sf_emulator
from emulator.salesforce.pubsub import PubSubSettings
from emulator.salesforce.pubsub_wire import decode_replay_id
from emulator.salesforce.tls import generate_self_signed, key_pair
from worker._pubsub_pb import pubsub_api_pb2 as pb
from worker._pubsub_pb import pubsub_api_pb2_grpc as pb_grpc

from .conftest import FO_TOPIC, ORG_ID, read_events

TOPIC = pb.TopicRequest(topic_name=FO_TOPIC)


def auth(running: object, token: str) -> tuple[tuple[str, str], ...]:
    """Auth metadata for ``token`` on a running emulator."""
    return (("accesstoken", token), ("instanceurl", running.url), ("tenantid", ORG_ID))  # type: ignore[attr-defined]


async def test_tls_server_answers_a_client_that_trusts_its_certificate(tmp_path: object) -> None:
    """With pubsub_tls the gRPC port speaks TLS: a client trusting the emulator's certificate gets GetTopic."""
    cert_file, key_file = generate_self_signed(str(tmp_path))
    running = await start_sf_emulator(SfEmulatorSettings(), pubsub_tls=key_pair(cert_file, key_file))
    try:
        token = running.emulator.tokens.issue("integration@example.com", "demo-client").token
        credentials = grpc.ssl_channel_credentials(root_certificates=key_pair(cert_file, key_file)[1])
        assert running.pubsub_target is not None
        async with grpc.aio.secure_channel(running.pubsub_target, credentials) as channel:
            info = await pb_grpc.PubSubStub(channel).GetTopic(TOPIC, metadata=auth(running, token))
        assert info.topic_name == FO_TOPIC
    finally:
        await running.stop()


async def test_pubsub_can_be_switched_off() -> None:
    """With PubSubSettings(enabled=False) no gRPC port is opened and pubsub_target is None."""
    running = await start_sf_emulator(SfEmulatorSettings(pubsub=PubSubSettings(enabled=False)))
    try:
        assert running.pubsub_target is None
    finally:
        await running.stop()


async def test_stopping_the_emulator_ends_open_streams_unavailable() -> None:
    """Stopping the emulator ends a subscriber's stream with UNAVAILABLE (a server going away), not a hang."""
    running = await start_sf_emulator(SfEmulatorSettings())
    token = running.emulator.tokens.issue("integration@example.com", "demo-client").token
    assert running.pubsub_target is not None
    async with grpc.aio.insecure_channel(running.pubsub_target) as channel:
        call = pb_grpc.PubSubStub(channel).Subscribe(metadata=auth(running, token))
        await call.write(pb.FetchRequest(topic_name=FO_TOPIC, num_requested=1))
        while not running.emulator.pubsub.describe()["streams"]:
            await asyncio.sleep(0.02)
        await running.stop()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call.read()
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_replay_id_survives_a_persisted_restart(tmp_path: object) -> None:
    """A replay id issued before a restart from the state file resumes after it, with the events published since."""
    state = f"{tmp_path}/org.json"
    first = await start_sf_emulator(SfEmulatorSettings(state_file=state))
    token = first.emulator.tokens.issue("integration@example.com", "demo-client").token
    first.emulator.bus.publish(FO_TOPIC, {"NewStatus": "Allocated"})
    assert first.pubsub_target is not None
    async with grpc.aio.insecure_channel(first.pubsub_target) as channel:
        call = pb_grpc.PubSubStub(channel).Subscribe(metadata=auth(first, token))
        await call.write(pb.FetchRequest(topic_name=FO_TOPIC, replay_preset=pb.EARLIEST, num_requested=1))
        (seen,) = await read_events(call, 1)
        call.cancel()
    await first.stop()
    second = await start_sf_emulator(SfEmulatorSettings(state_file=state))
    try:
        later = second.emulator.bus.publish(FO_TOPIC, {"NewStatus": "Fulfilled"})
        token = second.emulator.tokens.issue("integration@example.com", "demo-client").token
        assert second.pubsub_target is not None and later is not None
        async with grpc.aio.insecure_channel(second.pubsub_target) as channel:
            call = pb_grpc.PubSubStub(channel).Subscribe(metadata=auth(second, token))
            await call.write(pb.FetchRequest(topic_name=FO_TOPIC, replay_preset=pb.CUSTOM, replay_id=seen.replay_id,
                                             num_requested=5))
            (resumed,) = await read_events(call, 1)
            call.cancel()
        decoded = decode_replay_id(resumed.replay_id)
        assert decoded is not None and decoded.position == later.replay_id
    finally:
        await second.stop()
