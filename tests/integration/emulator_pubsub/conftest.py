"""The whole Salesforce emulator (HTTP + Pub/Sub gRPC) on 127.0.0.1, OS-chosen ports, and a grpc.aio client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import grpc
import pytest

from emulator.salesforce.app import RunningEmulator, SfEmulatorSettings, start_sf_emulator
from emulator.salesforce.pubsub import PubSubSettings
from worker._pubsub_pb import pubsub_api_pb2 as pb
from worker._pubsub_pb import pubsub_api_pb2_grpc as pb_grpc

FO_TOPIC = "/event/FOStatusChangedEvent"
ORG_ID = "00D000000000001AAA"


@dataclass
class PubSubOrg:
    """A running emulator, an HTTP session for its admin API and a Pub/Sub stub on its gRPC port."""

    running: RunningEmulator
    http: aiohttp.ClientSession
    channel: grpc.aio.Channel
    stub: pb_grpc.PubSubStub
    token: str = ""
    calls: list[Any] = field(default_factory=list)

    @property
    def emu(self) -> Any:
        return self.running.emulator

    def metadata(self, token: str | None = None, **override: str) -> tuple[tuple[str, str], ...]:
        """Auth metadata for a call (the org's live token unless ``token`` is given)."""
        headers = {"accesstoken": self.token if token is None else token, "instanceurl": self.running.url,
                   "tenantid": ORG_ID, **override}
        return tuple(headers.items())

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, f"{self.running.url}/__admin/{path}", json=body) as resp:
            assert resp.status < 300, (resp.status, await resp.text())
            return await resp.json()

    def publish(self, status: str = "Fulfilled", fo_id: str = "0a3000000000001AAA") -> int:
        """Publish one FOStatusChangedEvent on the shared bus; its replay id (bus position)."""
        event = self.emu.bus.publish(FO_TOPIC, {"FulfillmentOrderId": fo_id, "OrderSummaryId": "1Os000000000001AAA",
                                                "OldStatus": "Allocated", "NewStatus": status,
                                                "OldStatusCategory": "Activated", "NewStatusCategory": "Closed"})
        assert event is not None
        return int(event.replay_id)

    async def subscribe(self, metadata: tuple[tuple[str, str], ...] | None = None, **first: Any) -> Any:
        """Open a Subscribe call and send its first FetchRequest (topic FOStatusChangedEvent unless given).

        A write the server has already refused is not an error here: the status surfaces on the next read.
        """
        call = self.stub.Subscribe(metadata=self.metadata() if metadata is None else metadata)
        self.calls.append(call)
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
            await call.write(pb.FetchRequest(**{"topic_name": FO_TOPIC, **first}))
        return call

    async def streams(self, count: int, timeout: float = 5.0) -> None:
        """Wait until the server holds ``count`` open Subscribe streams (the first FetchRequest was handled)."""
        deadline = time.monotonic() + timeout
        while len(self.emu.pubsub.describe()["streams"]) != count:
            assert time.monotonic() < deadline, self.emu.pubsub.describe()
            await asyncio.sleep(0.02)


async def read(call: Any, timeout: float = 5.0) -> pb.FetchResponse:
    """The next FetchResponse (fails the test after ``timeout`` seconds: a bound, not a speed check)."""
    response = await asyncio.wait_for(call.read(), timeout)
    assert response is not grpc.aio.EOF
    return response  # type: ignore[no-any-return]


async def silent_for(call: Any, seconds: float) -> asyncio.Task[Any]:
    """Assert nothing arrives for ``seconds``; the still-pending read (cancelling it would cancel the call)."""
    pending = asyncio.ensure_future(call.read())
    done, _ = await asyncio.wait({pending}, timeout=seconds)
    assert not done, pending.result()
    return pending


async def read_events(call: Any, count: int, timeout: float = 5.0) -> list[pb.ConsumerEvent]:
    """Read responses until ``count`` events arrived (keepalives skipped); fails if more arrive in one batch."""
    got: list[pb.ConsumerEvent] = []
    while len(got) < count:
        got.extend((await read(call, timeout)).events)
    assert len(got) == count, len(got)
    return got


async def stream_error(call: Any, timeout: float = 5.0) -> grpc.aio.AioRpcError:
    """Read until the stream ends with an error status; that error."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        while True:
            await asyncio.wait_for(call.read(), timeout)
    return info.value


def error_code(error: grpc.aio.AioRpcError) -> str | None:
    """The ``error-code`` trailer of a failed call."""
    return dict(error.trailing_metadata() or ()).get("error-code")  # type: ignore[arg-type]


Start = Callable[..., Awaitable[PubSubOrg]]


@pytest.fixture
async def start_org() -> AsyncIterator[Start]:
    """Factory: the emulator with PubSubSettings overrides (keepalive 30 s unless given); stopped at teardown."""
    started: list[PubSubOrg] = []

    async def start(**pubsub: Any) -> PubSubOrg:
        settings = SfEmulatorSettings(pubsub=PubSubSettings(**{"keepalive_seconds": 30.0, **pubsub}))
        running = await start_sf_emulator(settings)
        assert running.pubsub_target is not None
        channel = grpc.aio.insecure_channel(running.pubsub_target)
        org = PubSubOrg(running, aiohttp.ClientSession(), channel, pb_grpc.PubSubStub(channel))
        org.token = running.emulator.tokens.issue("integration@example.com", "demo-client").token
        started.append(org)
        return org

    yield start
    for org in started:
        for call in org.calls:
            call.cancel()
        await org.channel.close()
        await org.http.close()
        await org.running.stop()


@pytest.fixture
async def org(start_org: Start) -> PubSubOrg:
    """The emulator with a 30-second keepalive (keepalives stay out of the way)."""
    return await start_org()
