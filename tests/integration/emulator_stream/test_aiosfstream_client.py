"""The real third-party client aiosfstream-ng (import ``aiosfstream_ng``) works against the emulator."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosfstream_ng.auth import PasswordAuthenticator
from aiosfstream_ng.client import Client
from aiosfstream_ng.replay import DefaultMappingStorage, ReplayMarker, ReplayOption

from .conftest import CLIENT_ID, CLIENT_SECRET, FO_CHANNEL, PASSWORD, USER, Org, OrgFactory


class EmulatorPasswordAuthenticator(PasswordAuthenticator):
    """The library's password authenticator, pointed at the emulator's token URL."""

    def __init__(self, token_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._emulator_token_url = token_url

    @property
    def _token_url(self) -> str:
        return self._emulator_token_url


def _client(org: Org, storage: dict[str, ReplayMarker]) -> Client:
    auth = EmulatorPasswordAuthenticator(
        f"{org.base}/services/oauth2/token",
        consumer_key=CLIENT_ID,
        consumer_secret=CLIENT_SECRET,
        username=USER,
        password=PASSWORD,
    )
    return Client(auth, replay=DefaultMappingStorage(storage, ReplayOption.ALL_EVENTS), connection_timeout=10)


async def _receive_ids(client: Client, count: int) -> list[int]:
    ids = []
    for _ in range(count):
        message = await asyncio.wait_for(client.receive(), 10)
        assert message["channel"] == FO_CHANNEL
        ids.append(message["data"]["event"]["replayId"])
    return ids


async def test_aiosfstream_replays_subscribes_and_resumes_after_unknown_client(make_org: OrgFactory) -> None:
    """aiosfstream replays -2, gets live events, and after 403::Unknown client resumes, no loss or repeat."""
    org = await make_org()
    published = [org.publish("Allocated"), org.publish("Pickpack")]
    storage: dict[str, ReplayMarker] = {}
    client = _client(org, storage)
    await client.open()
    try:
        await client.subscribe(FO_CHANNEL)
        received = await _receive_ids(client, 2)
        published.append(org.publish("Fulfilled"))
        received += await _receive_ids(client, 1)
        assert storage[FO_CHANNEL].replay_id == published[-1]

        first_client_id = client._transport.client_id if client._transport else None
        assert org.server.drop_all_clients() == 1
        published += [org.publish("Canceled"), org.publish("Fulfilled")]
        received += await _receive_ids(client, 2)
        published.append(org.publish("Printed"))
        received += await _receive_ids(client, 1)

        assert received == published
        assert client._transport is not None and client._transport.client_id not in (None, first_client_id)
        assert org.server.client_count() == 1
        assert client.pending_count == 0
    finally:
        await client.close()
    assert org.server.client_count() == 0
