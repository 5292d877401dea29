"""Subscribe against the emulator's Pub/Sub API with a real grpc.aio client: flow control, replay, keepalives."""

from __future__ import annotations

import asyncio
import json

from emulator.salesforce.pubsub_avro import decode_payload
from emulator.salesforce.pubsub_wire import decode_replay_id
from worker._pubsub_pb import pubsub_api_pb2 as pb

from .conftest import FO_TOPIC, ORG_ID, PubSubOrg, Start, read, read_events, silent_for


def positions(events: list[pb.ConsumerEvent]) -> list[int]:
    """Bus positions inside the replay ids of consumer events."""
    out = []
    for event in events:
        decoded = decode_replay_id(event.replay_id)
        assert decoded is not None
        out.append(decoded.position)
    return out


async def test_get_topic_names_schema_and_tenant(org: PubSubOrg) -> None:
    """GetTopic answers the topic's schema id, the org as tenant, subscribe allowed and an rpc id."""
    info = await org.stub.GetTopic(pb.TopicRequest(topic_name=FO_TOPIC), metadata=org.metadata())
    assert info.topic_name == FO_TOPIC and info.tenant_guid == ORG_ID
    assert info.can_subscribe and not info.can_publish
    assert len(info.schema_id) == 22 and info.rpc_id


async def test_get_schema_decodes_delivered_payloads(org: PubSubOrg) -> None:
    """The schema GetSchema returns for an event's schema id decodes that event's Avro payload."""
    org.publish("Fulfilled", fo_id="0a3000000000007AAA")
    call = await org.subscribe(replay_preset=pb.EARLIEST, num_requested=1)
    (event,) = await read_events(call, 1)
    info = await org.stub.GetSchema(pb.SchemaRequest(schema_id=event.event.schema_id), metadata=org.metadata())
    assert info.schema_id == event.event.schema_id
    record = decode_payload(json.loads(info.schema_json), event.event.payload)
    assert record["FulfillmentOrderId"] == "0a3000000000007AAA" and record["NewStatus"] == "Fulfilled"
    assert isinstance(record["CreatedDate"], int) and record["EventUuid"] == event.event.id


async def test_num_requested_is_never_exceeded_until_the_next_fetch_request(org: PubSubOrg) -> None:
    """With num_requested=2 the stream delivers exactly 2 of 5 events, then nothing until another FetchRequest."""
    ids = [org.publish() for _ in range(5)]
    call = await org.subscribe(replay_preset=pb.EARLIEST, num_requested=2)
    first = await read_events(call, 2)
    assert positions(first) == ids[:2]
    pending = await silent_for(call, 0.5)
    await call.write(pb.FetchRequest(num_requested=2))
    response = await asyncio.wait_for(pending, 5)
    assert positions(list(response.events)) == ids[2:4] and response.pending_num_requested == 0


async def test_pending_num_requested_reports_credit_still_owed(org: PubSubOrg) -> None:
    """A response says how many requested events are still owed: 5 requested, 3 available -> 2 pending."""
    ids = [org.publish() for _ in range(3)]
    call = await org.subscribe(replay_preset=pb.EARLIEST, num_requested=5)
    response = await read(call)
    assert positions(list(response.events)) == ids and response.pending_num_requested == 2
    assert response.latest_replay_id == response.events[-1].replay_id


async def test_custom_replay_resumes_after_the_given_id(org: PubSubOrg) -> None:
    """CUSTOM with the replay id of the 2nd event delivers from the 3rd event on."""
    ids = [org.publish() for _ in range(4)]
    first = await org.subscribe(replay_preset=pb.EARLIEST, num_requested=4)
    events = await read_events(first, 4)
    again = await org.subscribe(replay_preset=pb.CUSTOM, replay_id=events[1].replay_id, num_requested=10)
    assert positions(await read_events(again, 2)) == ids[2:]


async def test_latest_delivers_only_events_published_after_subscribing(org: PubSubOrg) -> None:
    """LATEST skips what the topic already holds and delivers what is published afterwards."""
    org.publish()
    org.publish()
    call = await org.subscribe(replay_preset=pb.LATEST, num_requested=10)
    await org.streams(1)
    new = org.publish("Cancelled")
    assert positions(await read_events(call, 1)) == [new]


async def test_earliest_delivers_every_retained_event_in_order(org: PubSubOrg) -> None:
    """EARLIEST starts at the oldest retained event; events purged by retention are not delivered."""
    org.publish()
    await org.admin("POST", "events/purge", {"older_than_seconds": 0})
    kept = [org.publish() for _ in range(3)]
    call = await org.subscribe(replay_preset=pb.EARLIEST, num_requested=10)
    assert positions(await read_events(call, 3)) == kept


async def test_quiet_stream_gets_keepalives_with_a_resumable_latest_replay_id(start_org: Start) -> None:
    """An idle stream receives empty FetchResponses carrying the topic's newest position; resuming there works."""
    org = await start_org(keepalive_seconds=0.2)
    last = org.publish()
    call = await org.subscribe(replay_preset=pb.LATEST, num_requested=10)
    keepalive = await read(call)
    assert not keepalive.events and keepalive.pending_num_requested == 10
    decoded = decode_replay_id(keepalive.latest_replay_id)
    assert decoded is not None and decoded.position == last
    new = org.publish()
    resumed = await org.subscribe(replay_preset=pb.CUSTOM, replay_id=keepalive.latest_replay_id, num_requested=1)
    assert positions(await read_events(resumed, 1)) == [new]


async def test_keepalive_of_a_stream_without_credit_keeps_the_position_of_undelivered_events(start_org: Start) -> None:
    """When the client owes itself events (credit used up), the keepalive replay id stays at the last delivered one."""
    org = await start_org(keepalive_seconds=0.2)
    ids = [org.publish() for _ in range(3)]
    call = await org.subscribe(replay_preset=pb.EARLIEST, num_requested=1)
    (event,) = await read_events(call, 1)
    keepalive = await read(call)
    assert not keepalive.events and keepalive.latest_replay_id == event.replay_id
    assert positions([event]) == ids[:1]


async def test_admin_api_shows_the_flow_window_and_counts_the_calls(org: PubSubOrg) -> None:
    """GET /__admin/pubsub shows what a stream is still owed; /__admin/counters counts Pub/Sub calls apart from REST."""
    org.publish()
    org.publish()
    await org.stub.GetTopic(pb.TopicRequest(topic_name=FO_TOPIC), metadata=org.metadata())
    call = await org.subscribe(replay_preset=pb.EARLIEST, num_requested=5)
    await read_events(call, 2)
    (stream,) = (await org.admin("GET", "pubsub"))["streams"]
    assert stream["topic"] == FO_TOPIC and stream["owed"] == 3
    counters = await org.admin("GET", "counters")
    kinds = counters["by_kind"]
    assert kinds["pubsub_get_topic"] == 1 and kinds["pubsub_subscribe"] == 1
    assert kinds["pubsub_fetch_request"] == 1 and kinds["pubsub_events_delivered"] == 2
    assert counters["total"] == 0
