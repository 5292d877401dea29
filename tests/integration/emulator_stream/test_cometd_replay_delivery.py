"""CometD endpoint over raw HTTP: replay selection, event shape, held polls, expiry and shutdown."""

from __future__ import annotations

import asyncio

import aiohttp

from .bayeux import connect, events, only, post, replay_ids, session, subscribe
from .conftest import FO_CHANNEL, Org, OrgFactory

INVALID_TAIL = (
    " you provided was invalid.  Please provide a valid ID,"
    " -2 to replay all events, or -1 to replay only new events."
)


async def _wait_holding(org: Org) -> None:
    while not any(c.holding for c in org.server.clients.all()):
        await asyncio.sleep(0.01)


async def test_replay_all_delivers_retained_events_in_salesforce_shape(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """Subscribe with -2 returns every retained event on the next connect, shaped as §4.4/§5.1."""
    org = await make_org()
    published = [org.publish("Allocated"), org.publish("Fulfilled")]
    headers, client_id = await session(http, org)
    assert (await subscribe(http, org, headers, client_id, -2)) == {
        "clientId": client_id,
        "channel": "/meta/subscribe",
        "id": "s",
        "subscription": FO_CHANNEL,
        "successful": True,
    }
    replies = await connect(http, org, headers, client_id)
    assert replay_ids(replies) == published
    first = events(replies)[0]
    stored = org.bus.events_after(FO_CHANNEL, -2)[0]
    assert first == {
        "data": {
            "schema": stored.schema,
            "payload": stored.payload,
            "event": {"EventUuid": stored.event_uuid, "replayId": published[0]},
        },
        "channel": FO_CHANNEL,
    }
    assert first["data"]["payload"]["NewStatus"] == "Allocated"
    assert first["data"]["payload"]["EventUuid"] == stored.event_uuid
    assert only(replies, "/meta/connect")["advice"] == {"interval": 0, "reconnect": "retry", "timeout": 5000}


async def test_explicit_replay_id_delivers_only_later_events(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """Subscribe with a stored replay id returns only the events after it."""
    org = await make_org()
    published = [org.publish(), org.publish(), org.publish()]
    headers, client_id = await session(http, org)
    assert (await subscribe(http, org, headers, client_id, published[0]))["successful"] is True
    assert replay_ids(await connect(http, org, headers, client_id)) == published[1:]


async def test_new_only_subscription_skips_history_and_gets_live_events_on_held_poll(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """Subscribe with -1 ignores history; a publish during a held connect answers it with that one event."""
    org = await make_org(connect_hold_seconds=30.0)
    org.publish()
    headers, client_id = await session(http, org)
    assert (await subscribe(http, org, headers, client_id, -1))["successful"] is True
    held = asyncio.create_task(connect(http, org, headers, client_id))
    await _wait_holding(org)
    live = org.publish()
    assert replay_ids(await held) == [live]


async def test_invalid_replay_ids_are_rejected_with_salesforce_text(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """Replay ids ahead of the newest or purged by retention fail with the 400 replayId text."""
    org = await make_org()
    old = org.publish()
    org.bus.purge_before(org.bus.events_after(FO_CHANNEL, -2)[0].published_at + 1)
    kept = org.publish()
    headers, client_id = await session(http, org)
    for bad in (kept + 100, old):
        reply = await subscribe(http, org, headers, client_id, bad)
        assert reply["successful"] is False
        assert reply["error"] == f"400::The replayId {{{bad}}}" + INVALID_TAIL
    assert (await subscribe(http, org, headers, client_id, kept))["successful"] is True


async def test_unknown_channel_and_missing_slash_are_rejected(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """Subscribing to an undefined channel or one without a leading '/' fails with the Salesforce text."""
    org = await make_org()
    headers, client_id = await session(http, org)
    reply = await subscribe(http, org, headers, client_id, channel="/event/Nope__e")
    assert reply["error"] == "400::The channel you requested to subscribe to doesn't exist {/event/Nope__e}"
    reply = await subscribe(http, org, headers, client_id, channel="event/FOStatusChangedEvent")
    assert reply["error"] == "400::Channel subscriptions must start with a leading '/'"


async def test_held_connect_returns_empty_at_hold_timeout(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """With nothing to deliver, a connect after the first is answered empty once the hold time is over."""
    org = await make_org(connect_hold_seconds=0.2)
    headers, client_id = await session(http, org)
    await subscribe(http, org, headers, client_id, -1)
    replies = await connect(http, org, headers, client_id)
    assert events(replies) == []
    assert only(replies, "/meta/connect")["successful"] is True
    assert only(replies, "/meta/connect")["advice"]["timeout"] == 200


async def test_batch_resubscribe_with_connect_single_object_and_unsubscribe(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """A connect batched with a replaying subscribe delivers at once; unsubscribe stops delivery."""
    org = await make_org(connect_hold_seconds=0.2)
    published = [org.publish(), org.publish()]
    headers, client_id = await session(http, org)
    batch = [
        {"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling", "id": "c"},
        {
            "channel": "/meta/subscribe",
            "clientId": client_id,
            "subscription": FO_CHANNEL,
            "id": "s",
            "ext": {"replay": {FO_CHANNEL: published[0]}},
        },
    ]
    _, replies = await post(http, org, batch, headers)
    assert only(replies, "/meta/subscribe")["successful"] is True
    assert replay_ids(replies) == published[1:]
    unsubscribe = {
        "channel": "/meta/unsubscribe",
        "clientId": client_id,
        "subscription": FO_CHANNEL,
        "id": "u",
    }
    _, replies = await post(http, org, unsubscribe, headers)
    assert only(replies, "/meta/unsubscribe")["successful"] is True
    org.publish()
    assert replay_ids(await connect(http, org, headers, client_id)) == []


async def test_no_event_is_repeated_or_skipped_across_polls(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """Events published between and during polls each arrive exactly once, in replay-id order."""
    org = await make_org(connect_hold_seconds=30.0)
    headers, client_id = await session(http, org)
    await subscribe(http, org, headers, client_id, -1)
    published, received = [], []
    for round_ in range(4):
        published += [org.publish() for _ in range(round_)]
        held = asyncio.create_task(connect(http, org, headers, client_id))
        if round_ == 0:
            await _wait_holding(org)
            published.append(org.publish())
        received += replay_ids(await held)
    assert received == published


async def test_client_expires_when_it_does_not_reconnect_within_the_window(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """A client that stays away longer than reconnect_window_seconds is forgotten (403::Unknown client)."""
    now = [1000.0]
    org = await make_org(clock=lambda: now[0], reconnect_window_seconds=40.0)
    headers, client_id = await session(http, org)
    now[0] += 39.0
    assert org.server.client_count() == 1
    now[0] += 2.0
    assert org.server.client_count() == 0
    assert (
        only(await connect(http, org, headers, client_id), "/meta/connect")["error"] == "403::Unknown client"
    )


async def test_close_releases_held_polls(make_org: OrgFactory, http: aiohttp.ClientSession) -> None:
    """close() answers a held connect successfully right away so the HTTP server can stop."""
    org = await make_org(connect_hold_seconds=60.0)
    headers, client_id = await session(http, org)
    held = asyncio.create_task(connect(http, org, headers, client_id))
    await _wait_holding(org)
    await org.server.close()
    assert only(await held, "/meta/connect")["successful"] is True


async def test_second_connect_supersedes_held_one_and_gets_the_events(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """A new connect answers the client's held one empty; a later event goes to the new poll only."""
    org = await make_org(connect_hold_seconds=30.0)
    headers, client_id = await session(http, org)
    await subscribe(http, org, headers, client_id, -1)
    first = asyncio.create_task(connect(http, org, headers, client_id))
    await _wait_holding(org)
    client = org.server.clients.all()[0]
    superseded_generation = client.generation
    second = asyncio.create_task(connect(http, org, headers, client_id))
    first_replies = await first
    assert replay_ids(first_replies) == [] and only(first_replies, "/meta/connect")["successful"] is True
    while client.generation == superseded_generation or client.holding != 1:
        await asyncio.sleep(0.01)
    live = org.publish()
    assert replay_ids(await second) == [live]
