"""SalesforceRest: error mapping, retry rules (POST never blindly repeated), re-auth, limits, paging, shapes."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web

from worker.errors import (
    AuthenticationError,
    LimitExceeded,
    OutcomeUnknown,
    PermanentError,
    TransientError,
)
from worker.retry import RetryPolicy
from worker.salesforce.auth import TokenProvider
from worker.salesforce.rest import SalesforceRest, path_template
from worker.salesforce.results import LimitInfo, parse_limit_info
from worker.salesforce.soql import in_list, quote_soql

from .conftest import FakeSalesforce, auth_config, sf_config

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.005)
FO = "0a3xx0000000001AAA"


def client(fake: FakeSalesforce, session: aiohttp.ClientSession, retry: RetryPolicy = FAST) -> SalesforceRest:
    sf = sf_config(fake.url)
    return SalesforceRest(sf, TokenProvider(sf, auth_config(), session, retry=FAST), session, retry=retry)


HALTED = {"errorCode": "PROCESSING_HALTED",
          "message": "The transaction was rolled back since another operation in the same transaction failed."}


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (400, [{"message": "Account ID: id value of incorrect type: 001900K0001pPuOAAU", "errorCode": "MALFORMED_ID",
                "fields": ["Id"]}], PermanentError, "MALFORMED_ID"),
        (404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], PermanentError,
         "NOT_FOUND"),
        (400, [{"message": "unable to obtain exclusive access to this record", "errorCode": "UNABLE_TO_LOCK_ROW"}],
         TransientError, "UNABLE_TO_LOCK_ROW"),
        (403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}], LimitExceeded,
         "REQUEST_LIMIT_EXCEEDED"),
        (500, [{"message": "An unexpected error occurred", "errorCode": "UNKNOWN_EXCEPTION"}], TransientError,
         "UNKNOWN_EXCEPTION"),
        (503, "<html>Service Unavailable</html>", TransientError, None),
        (400, [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED"}], PermanentError,
         "ENTITY_IS_DELETED"),
        (403, [{"message": "insufficient access", "errorCode": "INSUFFICIENT_ACCESS_OR_READONLY"}], PermanentError,
         "INSUFFICIENT_ACCESS_OR_READONLY"),
    ],
)
async def test_error_bodies_map_to_error_kinds(fake_sf: FakeSalesforce, session, status: int, body: Any,
                                               kind: type, code: str | None) -> None:
    """Each Salesforce error answer becomes the right error kind with its errorCode (no retries: attempts=1)."""
    fake_sf.reply(status, body)
    with pytest.raises(kind) as caught:
        await client(fake_sf, session, RetryPolicy(attempts=1)).update("FulfillmentOrder", FO, {"Status": "Fulfilled"})
    assert type(caught.value) is kind and caught.value.code == code


async def test_transient_answers_on_get_are_retried(fake_sf: FakeSalesforce, session) -> None:
    """GET is idempotent: a 503 and an UNABLE_TO_LOCK_ROW are retried, then the answer is returned."""
    fake_sf.reply(503, "down")
    fake_sf.reply(400, [{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}])
    fake_sf.reply(200, {"Id": FO, "Status": "Allocated"})
    record = await client(fake_sf, session).get("FulfillmentOrder", FO, ["Id", "Status"])
    assert record["Status"] == "Allocated" and len(fake_sf.requests) == 3
    assert fake_sf.requests[0].query == {"fields": "Id,Status"}


async def test_lost_answer_on_get_is_retried(fake_sf: FakeSalesforce, session) -> None:
    """A dropped connection on an idempotent GET is retried."""
    fake_sf.reply(0)
    fake_sf.reply(200, {"Id": FO})
    assert (await client(fake_sf, session).get("FulfillmentOrder", FO))["Id"] == FO


async def test_lost_answer_on_post_raises_outcome_unknown_without_repeating(fake_sf: FakeSalesforce,
                                                                           session) -> None:
    """A POST whose connection drops after sending raises OutcomeUnknown and is sent exactly once."""
    fake_sf.reply(0)
    with pytest.raises(OutcomeUnknown):
        await client(fake_sf, session).create("Account", {"Name": "x"})
    assert [r.method for r in fake_sf.requests] == ["POST"]


async def test_gateway_error_on_post_is_outcome_unknown(fake_sf: FakeSalesforce, session) -> None:
    """A 502/504 answer to a POST (a gateway may have forwarded it) is OutcomeUnknown, not retried."""
    fake_sf.reply(504, "Gateway Timeout")
    with pytest.raises(OutcomeUnknown):
        await client(fake_sf, session).composite_graph([{"graphId": "g1", "compositeRequest": [{}]}])
    assert len(fake_sf.requests) == 1


async def test_refused_post_is_retried(fake_sf: FakeSalesforce, session) -> None:
    """A POST answered 503 (refused, rolled back) is retried and then succeeds."""
    fake_sf.reply(503, "busy")
    fake_sf.reply(201, {"id": "001xx000003Gdl5AAC", "success": True, "errors": []})
    assert await client(fake_sf, session).create("Account", {"Name": "x"}) == "001xx000003Gdl5AAC"
    assert len(fake_sf.requests) == 2


async def test_post_to_unreachable_host_is_transient(session) -> None:
    """A POST that never reached the server (connection refused) is a plain TransientError."""
    fake = FakeSalesforce(url="http://127.0.0.1:9")
    sf = sf_config(fake.url)
    tokens = TokenProvider(sf, auth_config(), session, retry=FAST)
    rest = SalesforceRest(sf, tokens, session, retry=RetryPolicy(attempts=1))
    tokens._token = __import__("worker.salesforce.auth", fromlist=["Token"]).Token("t", fake.url, 0.0)
    with pytest.raises(TransientError) as caught:
        await rest.create("Account", {"Name": "x"})
    assert not isinstance(caught.value, OutcomeUnknown)


async def test_limit_exceeded_is_not_retried(fake_sf: FakeSalesforce, session) -> None:
    """403 REQUEST_LIMIT_EXCEEDED raises LimitExceeded after one request (the flows pause instead)."""
    fake_sf.reply(403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}])
    with pytest.raises(LimitExceeded):
        await client(fake_sf, session).query("SELECT Id FROM Account")
    assert len(fake_sf.requests) == 1


async def test_401_reauthenticates_once_and_resends(fake_sf: FakeSalesforce, session) -> None:
    """A 401 INVALID_SESSION_ID invalidates the token, fetches a new one and resends the same request once."""
    fake_sf.reply(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    fake_sf.reply(201, {"id": "001xx000003Gdl5AAC", "success": True, "errors": []})
    rest = client(fake_sf, session)
    assert await rest.create("Account", {"Name": "x"}) == "001xx000003Gdl5AAC"
    auths = [r.headers["Authorization"] for r in fake_sf.requests]
    assert auths == ["Bearer 00Dxx!token-1", "Bearer 00Dxx!token-2"] and len(fake_sf.token_forms) == 2


async def test_second_401_raises_authentication_error(fake_sf: FakeSalesforce, session) -> None:
    """After one re-auth, a second 401 raises AuthenticationError (no loop, no retry)."""
    for _ in range(3):
        fake_sf.reply(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    with pytest.raises(AuthenticationError):
        await client(fake_sf, session).get("Account", "001xx000003Gdl5AAC")
    assert len(fake_sf.requests) == 2 and len(fake_sf.token_forms) == 2


@pytest.mark.parametrize(
    ("header", "expected"),
    [("api-usage=18/5000", LimitInfo(18, 5000)), ("api-usage=10018/100000; api-bursts=1/750", LimitInfo(10018, 100000)),
     ("per-app-api-usage=17/250(appName=x); api-usage=5/10", LimitInfo(5, 10)), ("garbage", None), (None, None)],
)
def test_limit_header_parsing(header: str | None, expected: LimitInfo | None) -> None:
    """Sforce-Limit-Info api-usage=N/M is parsed, including the api-bursts and per-app variants."""
    assert parse_limit_info(header) == expected


async def test_limits_follow_every_answer_and_low_on_limits(fake_sf: FakeSalesforce, session) -> None:
    """limits reflects the latest header (errors too); low_on_limits compares remaining to a fraction."""
    rest = client(fake_sf, session)
    assert rest.limits is None and not rest.low_on_limits()
    fake_sf.reply(200, {"done": True, "records": []}, {"Sforce-Limit-Info": "api-usage=9600/10000; api-bursts=0/75"})
    await rest.query("SELECT Id FROM Account")
    assert rest.limits == LimitInfo(9600, 10000) and rest.limits.remaining == 400
    assert rest.low_on_limits(0.05) and not rest.low_on_limits(0.01) and rest.calls_made == 1


async def test_query_follows_next_records_url(fake_sf: FakeSalesforce, session) -> None:
    """query() uses QueryApiVersion with ?q= and follows nextRecordsUrl until done."""
    next_url = "/services/data/v61.0/query/01gRO0000016PIAYA2-2"
    fake_sf.reply(200, {"totalSize": 3, "done": False, "nextRecordsUrl": next_url,
                        "records": [{"Id": "1"}, {"Id": "2"}]})
    fake_sf.reply(200, {"totalSize": 3, "done": True, "records": [{"Id": "3"}]})
    rows = await client(fake_sf, session).query("SELECT Id FROM FulfillmentOrder")
    assert [r["Id"] for r in rows] == ["1", "2", "3"]
    first, second = fake_sf.requests
    assert first.path == "/services/data/v61.0/query" and first.query == {"q": "SELECT Id FROM FulfillmentOrder"}
    assert second.path == next_url and second.query == {}


async def test_query_iter_is_lazy(fake_sf: FakeSalesforce, session) -> None:
    """query_iter fetches the next page only when the caller asks for more rows."""
    fake_sf.reply(200, {"done": False, "nextRecordsUrl": "/services/data/v61.0/query/x-1", "records": [{"Id": "1"}]})
    async for row in client(fake_sf, session).query_iter("SELECT Id FROM Account"):
        assert row["Id"] == "1"
        break
    assert len(fake_sf.requests) == 1


async def test_create_and_update_shapes(fake_sf: FakeSalesforce, session) -> None:
    """create POSTs JSON to /sobjects/X and returns id; update PATCHes /sobjects/X/id and accepts 204."""
    rest = client(fake_sf, session)
    fake_sf.reply(201, {"id": "001xx000003Gdl5AAC", "success": True, "errors": []})
    fake_sf.reply(204)
    assert await rest.create("Account", {"Name": "Acme"}) == "001xx000003Gdl5AAC"
    assert await rest.update("FulfillmentOrder", FO, {"Status": "Fulfilled"}) is None
    post, patch = fake_sf.requests
    assert (post.method, post.path, post.body) == ("POST", "/services/data/v62.0/sobjects/Account", {"Name": "Acme"})
    assert (patch.method, patch.path) == ("PATCH", f"/services/data/v62.0/sobjects/FulfillmentOrder/{FO}")


async def test_composite_graph_success_and_rollback(fake_sf: FakeSalesforce, session) -> None:
    """Graph answers parse per graph; a failed graph names the failing node, not the PROCESSING_HALTED ones."""
    fake_sf.reply(200, {"graphs": [
        {"graphId": "1", "isSuccessful": True, "graphResponse": {"compositeResponse": [
            {"body": {"id": "001xx000003Gdl5AAC", "success": True, "errors": []},
             "httpHeaders": {"Location": "/services/data/v62.0/sobjects/Account/001xx000003Gdl5AAC"},
             "httpStatusCode": 201, "referenceId": "account"}]}},
        {"graphId": "2", "isSuccessful": False, "graphResponse": {"compositeResponse": [
            {"body": [HALTED], "httpHeaders": {}, "httpStatusCode": 400, "referenceId": "order"},
            {"body": [{"errorCode": "DUPLICATE_VALUE", "fields": [], "message": "duplicate value found"}],
             "httpHeaders": {}, "httpStatusCode": 400, "referenceId": "product"}]}}]})
    ok, failed = await client(fake_sf, session).composite_graph(
        [{"graphId": "1", "compositeRequest": [{}]}, {"graphId": "2", "compositeRequest": [{}, {}]}])
    assert ok.is_successful and ok.responses["account"].body["id"] == "001xx000003Gdl5AAC" and ok.errors == []
    assert not failed.is_successful and failed.errors == ["product: DUPLICATE_VALUE: duplicate value found"]
    assert failed.responses["order"].errors == [("PROCESSING_HALTED", HALTED["message"])]
    assert fake_sf.requests[0].path == "/services/data/v62.0/composite/graph"


async def test_composite_graph_goes_to_v50_when_api_version_is_older(fake_sf: FakeSalesforce, session) -> None:
    """With the guide's ApiVersion v49.0 the graph is POSTed under v50.0 (where it exists); queries and other
    calls keep the configured versions."""
    sf = sf_config(fake_sf.url, ApiVersion="v49.0", QueryApiVersion="v49.0")
    rest = SalesforceRest(sf, TokenProvider(sf, auth_config(), session, retry=FAST), session, retry=FAST)
    fake_sf.reply(200, {"graphs": [{"graphId": "1", "isSuccessful": True, "graphResponse": {"compositeResponse": []}}]})
    fake_sf.reply(200, {"totalSize": 0, "done": True, "records": []})
    await rest.composite_graph([{"graphId": "1", "compositeRequest": [{}]}])
    await rest.query("SELECT Id FROM Order")
    assert [r.path for r in fake_sf.requests[-2:]] == ["/services/data/v50.0/composite/graph",
                                                       "/services/data/v49.0/query"]


async def test_composite_graph_limits_checked_before_sending(fake_sf: FakeSalesforce, session) -> None:
    """More than 75 graphs (or 500 nodes) is refused locally with a PermanentError; nothing is sent."""
    with pytest.raises(PermanentError):
        graphs = [{"graphId": str(i), "compositeRequest": [{}]} for i in range(76)]
        await client(fake_sf, session).composite_graph(graphs)
    assert fake_sf.requests == []


async def test_composite_returns_subresponses(fake_sf: FakeSalesforce, session) -> None:
    """composite() sends allOrNone + compositeRequest and returns the compositeResponse array (200 even on 400s)."""
    fake_sf.reply(200, {"compositeResponse": [{"body": [{"errorCode": "INVALID_EMAIL_ADDRESS", "message": "bad"}],
                                                "httpHeaders": {}, "httpStatusCode": 400, "referenceId": "c"}]})
    out = await client(fake_sf, session).composite([{"method": "GET", "url": "/x", "referenceId": "c"}], True)
    assert out[0]["httpStatusCode"] == 400 and fake_sf.requests[0].body["allOrNone"] is True


async def test_collections_update_per_record_status_codes(fake_sf: FakeSalesforce, session) -> None:
    """PATCH /composite/sobjects returns one SaveResult per record; errors come from statusCode."""
    fake_sf.reply(200, [{"id": FO, "success": True, "errors": []},
                        {"success": False, "errors": [{"statusCode": "MALFORMED_ID", "message": "bad id",
                                                       "fields": ["Id"]}]}])
    records = [{"attributes": {"type": "FulfillmentOrder"}, "id": FO, "Status": "Fulfilled"},
               {"attributes": {"type": "FulfillmentOrder"}, "id": "bad", "Status": "Fulfilled"}]
    results = await client(fake_sf, session).collections_update(records)
    assert results[0].success and results[0].id == FO
    assert not results[1].success and results[1].errors == [("MALFORMED_ID", "bad id")]
    sent = fake_sf.requests[0]
    assert sent.method == "PATCH" and sent.path == "/services/data/v62.0/composite/sobjects"
    assert sent.body == {"allOrNone": False, "records": records}


@pytest.mark.parametrize(
    ("errors", "kind"),
    [([{"errorCode": "INVALID_INPUT", "message": "quantity too high"}], PermanentError),
     ([{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}], TransientError)],
)
async def test_connect_success_false_raises(fake_sf: FakeSalesforce, session, errors: list[dict[str, str]],
                                            kind: type) -> None:
    """A 2xx Connect answer with success:false raises with the first error (lock-row style codes are transient)."""
    fake_sf.reply(201, {"success": False, "errors": errors})
    with pytest.raises(kind) as caught:
        await client(fake_sf, session).connect(f"commerce/fulfillment/fulfillment-orders/{FO}/actions/cancel-item",
                                               {"fulfillmentOrderLineItemsToCancel": []})
    assert type(caught.value) is kind and caught.value.code == errors[0]["errorCode"]


async def test_connect_success_returns_body_and_logs_template(fake_sf: FakeSalesforce, session) -> None:
    """A successful Connect call returns the output; the log names the path with ids replaced and no token."""
    fake_sf.reply(201, {"orderSummaryId": "1Osxx0000000001AAA", "errors": [], "success": True})
    with structlog.testing.capture_logs() as logs:
        out = await client(fake_sf, session).connect("commerce/order-management/order-summaries",
                                                     {"orderId": "801xx000003GbTgAAK"})
        await client(fake_sf, session).update("FulfillmentOrder", FO, {"Status": "x"})
    assert out["orderSummaryId"] == "1Osxx0000000001AAA"
    assert fake_sf.requests[0].path == "/services/data/v62.0/commerce/order-management/order-summaries"
    events = [e for e in logs if e["event"] == "salesforce_request"]
    assert events[0]["path"] == "commerce/order-management/order-summaries"
    assert events[1]["path"] == "sobjects/FulfillmentOrder/{id}"
    assert {"method", "path", "status", "duration_ms", "attempt"} <= set(events[0])
    assert "token-" not in repr(logs) and FO not in repr(logs)


async def test_connect_http_error_body_maps(fake_sf: FakeSalesforce, session) -> None:
    """A Connect 4xx with an error array maps like REST; 429 becomes LimitExceeded."""
    fake_sf.reply(429, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "Too many requests"}])
    with pytest.raises(LimitExceeded):
        await client(fake_sf, session).connect("commerce/order-management/order-summaries", {})


async def test_describe_path(fake_sf: FakeSalesforce, session) -> None:
    """describe() GETs /sobjects/X/describe."""
    fake_sf.reply(200, {"name": "FulfillmentOrder", "fields": []})
    assert (await client(fake_sf, session).describe("FulfillmentOrder"))["name"] == "FulfillmentOrder"
    assert fake_sf.requests[0].path == "/services/data/v62.0/sobjects/FulfillmentOrder/describe"


def test_path_template_hides_ids() -> None:
    """Record ids (15/18 chars with a digit) become {id}; object and action names stay."""
    assert path_template(f"commerce/fulfillment/fulfillment-orders/{FO}/actions/cancel-item") == \
        "commerce/fulfillment/fulfillment-orders/{id}/actions/cancel-item"
    assert path_template("sobjects/FulfillmentOrder") == "sobjects/FulfillmentOrder"


def test_quote_soql_escapes_and_in_list() -> None:
    """quote_soql escapes quotes/backslashes (positional or keyword); in_list builds a safe IN list."""
    assert quote_soql("SELECT Id FROM Account WHERE Name = {}", "O'Brien\\") == \
        "SELECT Id FROM Account WHERE Name = 'O\\'Brien\\\\'"
    assert quote_soql("WHERE Email = {email}", email="a@b.c") == "WHERE Email = 'a@b.c'"
    assert in_list(["a", "b'c"]) == "('a','b\\'c')" and in_list([]) == "('')"


async def test_nothing_secret_in_error_messages(fake_sf: FakeSalesforce, session) -> None:
    """Errors raised by the client never contain the access token."""
    fake_sf.reply(400, [{"errorCode": "INVALID_FIELD", "message": "No such column 'X'"}])
    with pytest.raises(PermanentError) as caught:
        await client(fake_sf, session).query("SELECT X FROM Account")
    assert "token-" not in str(caught.value)


async def test_unexpected_next_records_url_refused(session) -> None:
    """A nextRecordsUrl outside /services/data/ is refused instead of being fetched with our token."""
    fake = FakeSalesforce()
    app = web.Application()
    app.router.add_post("/services/oauth2/token", fake.token)
    app.router.add_route("*", "/services/data/{tail:.*}", fake.rest)
    from .conftest import start

    runner, fake.url = await start(app)
    try:
        fake.reply(200, {"done": False, "nextRecordsUrl": "https://evil.example/x", "records": []})
        with pytest.raises(PermanentError):
            await client(fake, session).query("SELECT Id FROM Account")
    finally:
        await runner.cleanup()
