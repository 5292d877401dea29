"""CometD endpoint over raw HTTP: handshake, authentication, unknown clients, versions, size, cookies."""

from __future__ import annotations

import aiohttp

from .bayeux import connect, handshake, only, post, session, subscribe
from .conftest import OrgFactory

HANDSHAKE = {
    "channel": "/meta/handshake",
    "version": "1.0",
    "minimumVersion": "1.0",
    "supportedConnectionTypes": ["long-polling"],
    "ext": {"replay": True},
    "id": "1",
}


async def test_handshake_reply_echoes_replay_ext_and_sets_browser_cookie(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """A handshake answers the Salesforce shape, echoes ext.replay and sets the BAYEUX_BROWSER cookie."""
    org = await make_org()
    async with http.post(org.cometd(), json=[HANDSHAKE], headers=org.bearer()) as resp:
        replies = await resp.json()
        assert "BAYEUX_BROWSER" in resp.cookies
    (reply,) = replies
    assert reply["successful"] is True and reply["channel"] == "/meta/handshake" and reply["id"] == "1"
    assert reply["ext"] == {"replay": True, "payload.format": True}
    assert reply["supportedConnectionTypes"] == ["long-polling"]
    assert reply["version"] == "1.0" and reply["minimumVersion"] == "1.0" and reply["reestablish"] is False
    assert isinstance(reply["clientId"], str) and reply["clientId"]
    assert org.server.client_count() == 1


async def test_handshake_without_token_is_denied_as_requiring_authentication(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """No Authorization header: 403::Handshake denied, failureReason 401::Request requires authentication."""
    org = await make_org()
    _, (reply,) = await post(http, org, HANDSHAKE)
    assert reply["successful"] is False and reply["error"] == "403::Handshake denied"
    assert reply["ext"] == {"sfdc": {"failureReason": "401::Request requires authentication"}}
    assert reply["advice"] == {"reconnect": "none"}
    assert org.server.client_count() == 0


async def test_handshake_with_bad_token_is_denied_as_authentication_invalid(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """An unknown OAuth token: 403::Handshake denied with failureReason 401::Authentication invalid."""
    org = await make_org()
    _, (reply,) = await post(http, org, [HANDSHAKE], {"Authorization": "OAuth not-a-token"})
    assert reply["error"] == "403::Handshake denied"
    assert reply["ext"]["sfdc"]["failureReason"] == "401::Authentication invalid"


async def test_oauth_scheme_token_is_accepted(make_org: OrgFactory, http: aiohttp.ClientSession) -> None:
    """``Authorization: OAuth <token>`` authenticates like Bearer."""
    org = await make_org()
    token = org.bearer()["Authorization"].split()[1]
    assert await handshake(http, org, {"Authorization": f"OAuth {token}"})


async def test_connect_after_revocation_is_authentication_invalid_with_no_reconnect(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """A revoked token on /meta/connect: 401::Authentication invalid, advice reconnect none interval 0."""
    org = await make_org()
    headers, client_id = await session(http, org)
    assert org.tokens.revoke_all() >= 1
    reply = only(await connect(http, org, headers, client_id), "/meta/connect")
    assert reply == {
        "clientId": client_id,
        "channel": "/meta/connect",
        "id": "c",
        "advice": {"reconnect": "none", "interval": 0},
        "error": "401::Authentication invalid",
        "successful": False,
    }


async def test_unknown_client_on_connect_and_subscribe_advises_handshake(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """A clientId the server does not know: 403::Unknown client with advice reconnect handshake interval 0."""
    org = await make_org()
    headers = org.bearer()
    reply = only(await connect(http, org, headers, "nope"), "/meta/connect")
    assert reply["error"] == "403::Unknown client" and reply["successful"] is False
    assert reply["advice"] == {"reconnect": "handshake", "interval": 0}
    sub = await subscribe(http, org, headers, "nope", -1)
    assert sub["error"] == "403::Unknown client" and sub["advice"] == {
        "reconnect": "handshake",
        "interval": 0,
    }


async def test_drop_all_clients_answers_held_poll_and_later_connects_with_unknown_client(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """drop_all_clients() releases a held connect with 403::Unknown client, and so is every later connect."""
    import asyncio

    org = await make_org(connect_hold_seconds=30.0)
    headers, client_id = await session(http, org)
    held = asyncio.create_task(connect(http, org, headers, client_id))
    while not org.server.clients.all()[0].holding:
        await asyncio.sleep(0.01)
    assert org.server.drop_all_clients() == 1
    assert only(await held, "/meta/connect")["error"] == "403::Unknown client"
    assert (
        only(await connect(http, org, headers, client_id), "/meta/connect")["error"] == "403::Unknown client"
    )
    assert org.server.client_count() == 0


async def test_missing_or_old_api_version_is_rejected(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """/cometd without a version and /cometd/36.0 answer the Streaming API version errors with HTTP 400."""
    org = await make_org()
    async with http.post(f"{org.ip_base}/cometd", json=[HANDSHAKE], headers=org.bearer()) as resp:
        assert resp.status == 400
        (reply,) = await resp.json()
    assert reply["error"] == "400::API version in the URI is mandatory. URI format: '/cometd/66.0'"
    status, (reply,) = await post(http, org, [HANDSHAKE], org.bearer(), version="36.0")
    assert status == 400 and reply["error"].startswith(
        "400::Unsupported API version. Only API versions '37.0'"
    )
    status, (reply,) = await post(http, org, [HANDSHAKE], org.bearer(), version="37.0")
    assert status == 200 and reply["successful"] is True


async def test_body_over_limit_is_413(make_org: OrgFactory, http: aiohttp.ClientSession) -> None:
    """A POST body above max_body_bytes gets HTTP 413 Maximum Request Size Exceeded."""
    org = await make_org(max_body_bytes=1024)
    padded = {**HANDSHAKE, "ext": {"replay": True, "pad": "x" * 2000}}
    async with http.post(org.cometd(), json=[padded], headers=org.bearer()) as resp:
        assert resp.status == 413
        assert resp.reason == "Maximum Request Size Exceeded"
    status, _ = await post(http, org, [HANDSHAKE], org.bearer())
    assert status == 200


async def test_connect_without_browser_cookie_is_rejected(make_org: OrgFactory) -> None:
    """A client that drops the handshake cookie is told no BAYEUX_BROWSER cookie is present."""
    org = await make_org()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as cookieless:
        headers = org.bearer()
        client_id = await handshake(cookieless, org, headers)
        reply = only(await connect(cookieless, org, headers, client_id), "/meta/connect")
    assert reply["successful"] is False
    assert reply["error"] == (
        f"400::Client {client_id} has established a session, but no BAYEUX_BROWSER cookie present"
    )


async def test_websocket_only_handshake_is_refused(make_org: OrgFactory, http: aiohttp.ClientSession) -> None:
    """A handshake offering only websocket is refused: the endpoint is long-polling only."""
    org = await make_org()
    _, (reply,) = await post(
        http, org, {**HANDSHAKE, "supportedConnectionTypes": ["websocket"]}, org.bearer()
    )
    assert reply["successful"] is False and reply["error"] == "400::Invalid connection type websocket"


async def test_disconnect_forgets_the_client(make_org: OrgFactory, http: aiohttp.ClientSession) -> None:
    """/meta/disconnect succeeds and the client id is unknown afterwards."""
    org = await make_org()
    headers, client_id = await session(http, org)
    _, replies = await post(
        http, org, [{"channel": "/meta/disconnect", "clientId": client_id, "id": "d"}], headers
    )
    assert only(replies, "/meta/disconnect")["successful"] is True
    assert org.server.client_count() == 0
    assert (
        only(await connect(http, org, headers, client_id), "/meta/connect")["error"] == "403::Unknown client"
    )
