"""One event bus behind both transports, fault injection on the Pub/Sub API, and the emulator's start-up line."""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp
import grpc
import pytest

from emulator.salesforce.pubsub_avro import FO_STATUS_SCHEMA, decode_payload
from emulator.salesforce.pubsub_wire import decode_replay_id
from worker._pubsub_pb import pubsub_api_pb2 as pb

from .conftest import FO_TOPIC, PubSubOrg, error_code, read_events, stream_error


async def cometd_events(org: PubSubOrg, count: int) -> list[dict[str, object]]:
    """Handshake, subscribe from replay -2 and connect on the emulator's CometD endpoint until ``count`` events."""
    url = f"{org.running.url}/cometd/62.0"
    headers = {"Authorization": f"Bearer {org.token}"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async def post(message: dict[str, object]) -> list[dict[str, object]]:
            async with http.post(url, json=[message], headers=headers) as resp:
                assert resp.status == 200
                return list(await resp.json())

        (shake,) = await post({"channel": "/meta/handshake", "version": "1.0",
                               "supportedConnectionTypes": ["long-polling"]})
        client = shake["clientId"]
        await post({"channel": "/meta/subscribe", "clientId": client, "subscription": FO_TOPIC,
                    "ext": {"replay": {FO_TOPIC: -2}}})
        got: list[dict[str, object]] = []
        while len(got) < count:
            replies = await post({"channel": "/meta/connect", "clientId": client, "connectionType": "long-polling"})
            got.extend(r for r in replies if r.get("channel") == FO_TOPIC)
        return got


async def test_an_event_published_once_is_seen_on_cometd_and_pubsub_in_the_same_order(org: PubSubOrg) -> None:
    """A FulfillmentOrder status change and an admin publish reach both transports with the same ids and schema."""
    await org.admin("POST", "seed", {"demo": True})
    await org.admin("POST", "scenario/orders", {"count": 1, "kind": "BOPIS", "store": "256"})
    fo = (await org.admin("GET", "records/FulfillmentOrder"))["records"][0]
    await org.admin("POST", f"fulfillment-orders/{fo['Id']}/status", {"status": "Fulfilled"})
    await org.admin("POST", "events/publish", {"payload": {"FulfillmentOrderId": fo["Id"], "NewStatus": "Printed"}})
    count = org.emu.bus.retained_count(FO_TOPIC)
    assert count >= 2
    pubsub = await read_events(await org.subscribe(replay_preset=pb.EARLIEST, num_requested=100), count)
    cometd = await cometd_events(org, count)
    grpc_positions = [decode_replay_id(e.replay_id).position for e in pubsub]  # type: ignore[union-attr]
    assert grpc_positions == [m["data"]["event"]["replayId"] for m in cometd]  # type: ignore[index]
    assert [e.event.id for e in pubsub] == [m["data"]["event"]["EventUuid"] for m in cometd]  # type: ignore[index]
    assert {e.event.schema_id for e in pubsub} == {m["data"]["schema"] for m in cometd}  # type: ignore[index]
    statuses = [decode_payload(FO_STATUS_SCHEMA, e.event.payload)["NewStatus"] for e in pubsub]
    assert statuses[-2:] == ["Fulfilled", "Printed"]
    assert statuses == [m["data"]["payload"]["NewStatus"] for m in cometd]  # type: ignore[index]


async def test_unavailable_window_ends_streams_and_refuses_calls_until_it_closes(org: PubSubOrg) -> None:
    """During an UNAVAILABLE window open streams end and new calls fail UNAVAILABLE; afterwards calls work again."""
    call = await org.subscribe(replay_preset=pb.LATEST, num_requested=1)
    await org.streams(1)
    await org.admin("POST", "pubsub/unavailable", {"seconds": 60})
    error = await stream_error(call)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error_code(error) == "sfdc.platform.eventbus.grpc.service.unavailable"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await org.stub.GetTopic(pb.TopicRequest(topic_name=FO_TOPIC), metadata=org.metadata())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    await org.admin("DELETE", "pubsub/unavailable")
    assert (await org.stub.GetTopic(pb.TopicRequest(topic_name=FO_TOPIC), metadata=org.metadata())).topic_name


async def test_unavailable_window_closes_by_itself(org: PubSubOrg) -> None:
    """A short UNAVAILABLE window ends on its own: calls succeed again without clearing it."""
    await org.admin("POST", "pubsub/unavailable", {"seconds": 0.2})
    await asyncio.sleep(0.3)
    info = await org.stub.GetTopic(pb.TopicRequest(topic_name=FO_TOPIC), metadata=org.metadata())
    assert info.topic_name == FO_TOPIC


async def test_stream_reset_ends_streams_and_a_resubscribe_resumes_from_the_stored_id(org: PubSubOrg) -> None:
    """A reset ends the stream with the chosen status and no error code; CUSTOM from the last id loses nothing."""
    ids = [org.publish() for _ in range(3)]
    call = await org.subscribe(replay_preset=pb.EARLIEST, num_requested=1)
    (first,) = await read_events(call, 1)
    assert (await org.admin("POST", "pubsub/reset-streams", {"code": "INTERNAL"}))["reset"] == 1
    error = await stream_error(call)
    assert error.code() == grpc.StatusCode.INTERNAL and error_code(error) is None
    resumed = await read_events(await org.subscribe(replay_preset=pb.CUSTOM, replay_id=first.replay_id,
                                                    num_requested=5), 2)
    assert [decode_replay_id(e.replay_id).position for e in resumed] == ids[1:]  # type: ignore[union-attr]


async def test_reset_with_an_unknown_code_is_a_400_naming_the_choices(org: PubSubOrg) -> None:
    """The admin reset endpoint refuses an unknown status with 400 and the allowed codes."""
    async with org.http.post(f"{org.running.url}/__admin/pubsub/reset-streams", json={"code": "NOPE"}) as resp:
        assert resp.status == 400 and "UNAVAILABLE" in (await resp.json())["error"]


async def test_start_up_line_names_the_pubsub_target() -> None:
    """`python -m emulator` prints pubsub_target (host:port, the bound port) and serves GetTopic there."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "emulator", "--sf-port", "0", "--pos-port", "0", "--pubsub-keepalive-seconds", "5",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        line = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
        host, _, port = line["pubsub_target"].rpartition(":")
        assert host == "127.0.0.1" and int(port) > 0
        async with grpc.aio.insecure_channel(line["pubsub_target"]) as channel:
            from worker._pubsub_pb import pubsub_api_pb2_grpc as pb_grpc

            with_bad_token = (("accesstoken", "x"), ("instanceurl", line["sf_url"]), ("tenantid", "00D000000000001AAA"))
            try:
                await pb_grpc.PubSubStub(channel).GetTopic(pb.TopicRequest(topic_name=FO_TOPIC),
                                                           metadata=with_bad_token)
                raise AssertionError("an unknown token was accepted")
            except grpc.aio.AioRpcError as refused:
                assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        proc.terminate()
        await proc.wait()
