"""PubSubStream against the emulator's real Pub/Sub gRPC server (127.0.0.1, OS-chosen ports): a TLS channel
trusting salesforce.ca_file, the token and org id from the emulator's own OAuth answer, Avro events decoded into
the same fields the CometD stream carries, and GetTopic/GetSchema asked once across reopens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulator.salesforce.app import RunningEmulator, SfEmulatorSettings, start_sf_emulator
from emulator.salesforce.tls import generate_self_signed, key_pair
from worker.config import AuthConfig, SalesforceConfig
from worker.config.worker_section import PubSubConfig
from worker.retry import RetryPolicy
from worker.salesforce.auth import TokenProvider
from worker.salesforce.pubsub import PubSubStream
from worker.salesforce.stream_types import StreamEvent

TOPIC = "/event/FOStatusChangedEvent"
FAST = RetryPolicy(attempts=1_000, base_delay=0.01, max_delay=0.1)


class NoCursor:
    async def get_cursor(self, key: str) -> None:
        return None


@pytest.fixture
async def tls_org(tmp_path: Path) -> AsyncIterator[tuple[RunningEmulator, Path]]:
    cert_file, key_file = generate_self_signed(str(tmp_path))
    running = await start_sf_emulator(SfEmulatorSettings(seed="demo"), pubsub_tls=key_pair(cert_file, key_file))
    try:
        yield running, Path(cert_file)
    finally:
        await running.stop()


async def positioned(running: RunningEmulator) -> None:
    """Until the server has read a Subscribe's first FetchRequest: a LATEST subscription starts there."""
    while not running.emulator.pubsub.describe()["streams"]:
        await asyncio.sleep(0.02)


async def admin(http: aiohttp.ClientSession, running: RunningEmulator, method: str, path: str,
                body: Any = None) -> Any:
    async with http.request(method, f"{running.url}/__admin/{path}", json=body) as resp:
        assert resp.status < 300, await resp.text()
        return await resp.json(content_type=None)


async def test_tls_subscription_decodes_events_and_asks_for_topic_and_schema_once(
        tls_org: tuple[RunningEmulator, Path]) -> None:
    """Over TLS (the emulator's certificate as ca_file): FO events arrive with FO id, status and ISO CreatedDate;
    a stream reset reopens from the same stream object without a second GetTopic or GetSchema."""
    running, ca_file = tls_org
    assert running.pubsub_target is not None
    sf = SalesforceConfig(UrlBase=running.url, allow_insecure_local=True, Username="integration@example.com",
                          Password="demo-password", ca_file=ca_file, OMSCustomField=(
                              {"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID", "applyTo": "LOCATION"},))
    auth = AuthConfig(flow="password", client_id="demo-client", client_secret="demo-secret")
    async with aiohttp.ClientSession() as http:
        tokens = TokenProvider(sf, auth, http)
        assert (await tokens.token()).org_id == "00D000000000001AAA"  # from the OAuth answer's identity URL
        stream = PubSubStream(sf, tokens, NoCursor(), PubSubConfig(target=running.pubsub_target, tls=True),
                              channel=TOPIC, initial_replay=-1, retry=FAST)
        got: list[StreamEvent] = []

        async def consume() -> None:
            async for item in stream.events():
                if not item.keepalive:
                    got.append(item)
                    stream.committed([item])

        consumer = asyncio.ensure_future(consume())
        try:
            async with asyncio.timeout(20):
                while not stream.status.connected:
                    await asyncio.sleep(0.02)
                await positioned(running)
                created = await admin(http, running, "POST", "scenario/orders",
                                      {"count": 3, "kind": "BOPIS", "store": "256"})
                while len(got) < 3:
                    await asyncio.sleep(0.02)
                assert (await admin(http, running, "POST", "pubsub/reset-streams", {"code": "INTERNAL"}))["reset"] == 1
                while stream.status.reconnects < 1 or not stream.status.connected:
                    await asyncio.sleep(0.02)
                await positioned(running)
                more = await admin(http, running, "POST", "scenario/orders", {"count": 2, "kind": "BOPIS",
                                                                               "store": "256"})
                while len(got) < 5:
                    await asyncio.sleep(0.02)
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
        wanted = [o["fulfillment_order_id"] for o in created["orders"] + more["orders"]]
        assert [e.fulfillment_order_id for e in got] == wanted
        assert {e.new_status for e in got} == {"Allocated"} and all(isinstance(e.replay_id, bytes) for e in got)
        assert all(str(e.payload["CreatedDate"]).endswith("Z") and e.event_uuid for e in got)
        counters = (await admin(http, running, "GET", "counters"))["by_kind"]
        assert counters["pubsub_get_topic"] == 1 and counters["pubsub_get_schema"] == 1
        assert counters["pubsub_subscribe"] == 2
