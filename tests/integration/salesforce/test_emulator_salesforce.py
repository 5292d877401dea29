"""worker.salesforce against the real Salesforce emulator: auth flows, REST shapes, composite, stream robustness."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import emulator.salesforce.app as emulator_app
from emulator.salesforce.cometd import CometdSettings
from emulator.salesforce.oauth import OAuthSettings
from worker.config import AuthConfig, SalesforceConfig
from worker.errors import AuthenticationError, PermanentError
from worker.retry import RetryPolicy
from worker.salesforce.auth import TokenProvider
from worker.salesforce.rest import SalesforceRest
from worker.salesforce.stream import FoEventStream
from worker.salesforce.stream_types import StreamEvent

CHANNEL = "/event/FOStatusChangedEvent"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
STREAM_RETRY = RetryPolicy(attempts=1000, base_delay=0.01, max_delay=0.1)
WAIT = 20.0


def sf_config(url: str, **extra: Any) -> SalesforceConfig:
    values: dict[str, Any] = {
        "UrlBase": url, "allow_insecure_local": True, "Username": "integration@example.com",
        "Password": "demo-password", "request_timeout_seconds": 10,
        "OMSCustomField": [{"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID", "applyTo": "LOCATION"}],
    }
    values.update(extra)
    return SalesforceConfig.model_validate(values)


@pytest.fixture
def key_pair(tmp_path: Path) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "jwt.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return path, public


@pytest.fixture
async def emu(key_pair: tuple[Path, str]) -> AsyncIterator[Any]:
    oauth = OAuthSettings(users={"integration@example.com": "demo-password"}, clients={"demo-client": "demo-secret"},
                          jwt_certificates={"demo-client": key_pair[1]})
    settings = emulator_app.SfEmulatorSettings(oauth=oauth, cometd=CometdSettings(connect_hold_seconds=2.0),
                                               seed="demo")
    running = await emulator_app.start_sf_emulator(settings)
    yield running
    await running.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def cc_auth() -> AuthConfig:
    return AuthConfig(flow="client_credentials", client_id="demo-client", client_secret="demo-secret")  # type: ignore[arg-type]


def rest_client(emu: Any, session: aiohttp.ClientSession) -> SalesforceRest:
    sf = sf_config(emu.url)
    return SalesforceRest(sf, TokenProvider(sf, cc_auth(), session), session, retry=FAST)


async def test_each_auth_flow_gets_a_working_token(emu: Any, session, key_pair: tuple[Path, str]) -> None:
    """password, client_credentials, jwt_bearer and refresh_token each yield a token the REST API accepts."""
    refresh = emu.emulator.tokens.issue_refresh_token("integration@example.com", "demo-client")
    flows = [
        AuthConfig.model_validate({"flow": "password", "client_id": "demo-client", "client_secret": "demo-secret"}),
        cc_auth(),
        AuthConfig.model_validate({"flow": "jwt_bearer", "client_id": "demo-client",
                                   "private_key_file": str(key_pair[0]), "audience": emu.url}),
        AuthConfig.model_validate({"flow": "refresh_token", "client_id": "demo-client",
                                   "client_secret": "demo-secret", "refresh_token": refresh}),
    ]
    sf = sf_config(emu.url)
    for auth in flows:
        tokens = TokenProvider(sf, auth, session)
        token = await tokens.token()
        assert token.instance_url.startswith("http://127.0.0.1"), auth.flow
        rows = await SalesforceRest(sf, tokens, session, retry=FAST).query("SELECT Id FROM Location")
        assert len(rows) >= 3, auth.flow


async def test_bad_credentials_are_authentication_errors(emu: Any, session) -> None:
    """A wrong client secret is refused by the token endpoint: AuthenticationError, not retried forever."""
    auth = AuthConfig.model_validate({"flow": "client_credentials", "client_id": "demo-client",
                                      "client_secret": "wrong"})
    with pytest.raises(AuthenticationError):
        await TokenProvider(sf_config(emu.url), auth, session).token()


async def test_revoked_session_reauthenticates(emu: Any, session) -> None:
    """After the org revokes every session, the next call re-authenticates once and succeeds."""
    rest = rest_client(emu, session)
    await rest.query("SELECT Id FROM Location")
    async with session.post(f"{emu.url}/__admin/tokens/revoke") as resp:
        assert resp.status == 200
    assert len(await rest.query("SELECT Id FROM Location")) >= 3


async def test_query_paging_create_update_and_limits(emu: Any, session) -> None:
    """create/update round-trip; a query over 2000 rows follows nextRecordsUrl; limits header is read."""
    rest = rest_client(emu, session)
    account = await rest.create("Account", {"Name": "Paging Co"})
    await rest.update("Account", account, {"Name": "Paging Co 2"})
    assert (await rest.get("Account", account, ["Name"]))["Name"] == "Paging Co 2"
    for n in range(2050):
        emu.emulator.org.insert("Account", {"Name": f"Bulk {n}"})
    rows = await rest.query("SELECT Id, Name FROM Account")
    assert len(rows) >= 2051 and len({r["Id"] for r in rows}) == len(rows)
    assert rest.limits is not None and rest.limits.used > 0 and rest.limits.max == 1_000_000


def account_node(ref: str, name: str | None) -> dict[str, Any]:
    body = {"Name": name} if name is not None else {}
    return {"method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": ref, "body": body}


async def test_composite_graph_success_and_rollback(emu: Any, session) -> None:
    """One graph commits while a graph with a failing node rolls back and names the failing node."""
    rest = rest_client(emu, session)
    ok, bad = await rest.composite_graph([
        {"graphId": "g1", "compositeRequest": [account_node("a1", "Graph Ok")]},
        {"graphId": "g2", "compositeRequest": [account_node("b1", "Graph Rolled Back"), account_node("b2", None)]},
    ])
    assert ok.is_successful and ok.responses["a1"].body["id"]
    assert not bad.is_successful and any(e.startswith("b2:") for e in bad.errors)
    assert bad.responses["b1"].errors[0][0] == "PROCESSING_HALTED"
    names = [r["Name"] for r in await rest.query("SELECT Name FROM Account WHERE Name LIKE 'Graph%'")]
    assert names == ["Graph Ok"]


async def test_collections_update_reports_per_record(emu: Any, session) -> None:
    """Collections PATCH returns a SaveResult per record, with statusCode errors for the bad one."""
    rest = rest_client(emu, session)
    good = await rest.create("Account", {"Name": "Coll"})
    results = await rest.collections_update([
        {"attributes": {"type": "Account"}, "id": good, "Name": "Coll 2"},
        {"attributes": {"type": "Account"}, "id": "001000000000000XXX", "Name": "nope"}])
    assert results[0].success and not results[1].success and results[1].errors


async def test_connect_action_error_raises(emu: Any, session) -> None:
    """A Connect OMS action on a missing record raises PermanentError with the server's errorCode."""
    rest = rest_client(emu, session)
    with pytest.raises(PermanentError) as caught:
        await rest.connect("commerce/fulfillment/fulfillment-orders/0a3000000000000AAA/actions/cancel-item",
                           {"fulfillmentOrderLineItemsToCancel": [
                               {"fulfillmentOrderLineItemId": "0a4000000000000AAA", "quantity": 1}]})
    assert caught.value.code


# ---- stream ------------------------------------------------------------------------------------------------


class Cursor:
    def __init__(self) -> None:
        self.value: int | None = None

    async def get_cursor(self, channel: str) -> int | None:
        return self.value


class Running:
    def __init__(self, stream: FoEventStream) -> None:
        self.stream = stream
        self.queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        async for event in self.stream.events():
            await self.queue.put(event)

    async def next(self) -> StreamEvent:
        return await asyncio.wait_for(self.queue.get(), WAIT)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def until(check: Any) -> None:
    async with asyncio.timeout(WAIT):
        while not check():
            await asyncio.sleep(0.02)


async def publish(session: aiohttp.ClientSession, emu: Any, fo_id: str, status: str = "Allocated") -> int:
    async with session.post(f"{emu.url}/__admin/events/publish", json={"channel": CHANNEL, "payload": {
            "FulfillmentOrderId": fo_id, "NewStatus": status, "OldStatus": "Draft"}}) as resp:
        return int((await resp.json())["replay_id"])


async def require_working_cometd(emu: Any, session: aiohttp.ClientSession) -> None:
    """The emulator's CometD endpoint accepts a valid handshake (else the stream tests below mean nothing)."""
    tokens = TokenProvider(sf_config(emu.url), cc_auth(), session)
    token = await tokens.token()
    handshake = [{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"],
                  "ext": {"replay": True}, "id": "0"}]
    async with session.post(f"{emu.url}/cometd/62.0", json=handshake,
                            headers={"Authorization": f"Bearer {token.access_token}"}) as resp:
        answer = await resp.json()
    assert answer and answer[0].get("successful"), f"emulator CometD refused a valid handshake: {resp.status} {answer}"


def stream_for(emu: Any, session: aiohttp.ClientSession, cursor: Cursor, **kw: Any) -> FoEventStream:
    sf = sf_config(emu.url)
    kw.setdefault("retry", STREAM_RETRY)
    return FoEventStream(sf, TokenProvider(sf, cc_auth(), session), cursor, **kw)


async def test_stream_receives_and_survives_drop_clients_without_loss(emu: Any, session) -> None:
    """Events arrive; after drop-clients the stream re-handshakes from the stored cursor and misses nothing."""
    await require_working_cometd(emu, session)
    cursor = Cursor()
    running = Running(stream_for(emu, session, cursor))
    try:
        await until(lambda: running.stream.status.connected)
        first = await publish(session, emu, "0a3000000000001AAA")
        assert (await running.next()).replay_id == first
        cursor.value = first  # the ingest committed it
        async with session.post(f"{emu.url}/__admin/cometd/drop-clients") as resp:
            assert resp.status == 200
        second = await publish(session, emu, "0a3000000000002AAA")
        event = await running.next()
        assert event.replay_id == second and event.fulfillment_order_id == "0a3000000000002AAA"
        await until(lambda: running.stream.status.reconnects >= 1)
    finally:
        await running.stop()


async def test_stream_invalid_replay_calls_callback(emu: Any, session) -> None:
    """A replay id the org does not know triggers the gap reconciliation (invalid_replay), then the stream resumes
    at -1."""
    await require_working_cometd(emu, session)
    cursor = Cursor()
    cursor.value = 987654
    calls: list[int] = []

    async def on_invalid(reason: str) -> None:
        calls.append(1)
        assert reason == "invalid_replay"
        cursor.value = None

    running = Running(stream_for(emu, session, cursor, on_gap=on_invalid))
    try:
        await until(lambda: running.stream.status.connected)
        assert calls == [1]
        replay = await publish(session, emu, "0a3000000000003AAA")
        assert (await running.next()).replay_id == replay
    finally:
        await running.stop()


async def test_stream_watchdog_reopens_silent_stream(emu: Any, session) -> None:
    """With a keepalive shorter than the connect hold the watchdog reopens, and events still flow."""
    await require_working_cometd(emu, session)
    running = Running(stream_for(emu, session, Cursor(), keepalive_seconds=0.5))
    try:
        await until(lambda: running.stream.status.reconnects >= 1)
        await until(lambda: running.stream.status.connected)
        replay = await publish(session, emu, "0a3000000000004AAA")
        assert (await running.next()).replay_id == replay
    finally:
        await running.stop()
