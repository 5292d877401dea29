"""POS webhooks on the worker's own server: durable accept, dedupe, auth, size limits, validation, routing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from worker.store import NewJob, Store, open_store

Body = Callable[..., dict[str, Any]]
KEY = "whk-S3CRET-7f31c2d9"  # the webhook key the server fixture configures


async def test_accepted_sale_is_committed_before_the_200(server: Any, sale_body: Body, tmp_path: Path) -> None:
    """A valid ORDER answers 200 {"status":"OK","duplicate":false} and the job is already readable elsewhere."""
    status, body = await server.post("ORDER", sale_body())
    assert (status, body) == (200, {"status": "OK", "duplicate": False})
    other = await open_store(f"sqlite:///{tmp_path / 's.db'}")  # a second connection sees the committed row
    try:
        counts = await other.queue_counts()
        assert counts["sale"]["pending"] == 1
        (job,) = await other.claim("sale", 10, worker_id="t", lease_seconds=30)
    finally:
        await other.close()
    assert job.ordering_key == "S-256-000001"
    assert job.payload == {"endpoint": "ORDER", "sale": sale_body()}
    assert server.notified == ["sale"]


async def test_duplicate_delivery_is_acknowledged_and_stored_once(server: Any, sale_body: Body) -> None:
    """A repost of the same export answers 200 with duplicate: true and leaves a single job."""
    first = await server.post("ORDER", sale_body())
    again = await server.post("ORDER", sale_body(extraField="added by a newer POS"))
    assert first == (200, {"status": "OK", "duplicate": False})
    assert again == (200, {"status": "OK", "duplicate": True})
    assert await server.counts() == {"sale": 1}
    assert server.notified == ["sale"]  # a duplicate wakes nobody


async def test_order_update_of_same_order_is_a_new_job(server: Any, sale_body: Body) -> None:
    """ORDER_UPDATE of an already exported order is not swallowed as a duplicate of the ORDER export."""
    await server.post("ORDER", sale_body())
    status, body = await server.post("ORDER_UPDATE", sale_body(orderStatus="CANCELLED"))
    assert (status, body["duplicate"]) == (200, False)
    assert await server.counts() == {"sale": 2}


async def test_endpoint_name_is_case_insensitive(server: Any, sale_body: Body) -> None:
    """/webhooks/pos/order routes like /webhooks/pos/ORDER."""
    assert (await server.post("order", sale_body()))[0] == 200
    assert await server.counts() == {"sale": 1}


async def test_exchange_becomes_a_sale_and_a_return_job(server: Any, sale_body: Body) -> None:
    """An ORDER carrying returnProductList is stored as one sale job and one return job."""
    returned = {"orderItemId": "R1", "productId": "SKU-0002", "quantity": 1, "price": 10.0, "subTotal": 10.0,
                "total": 10.0, "originalOrderId": "S-256-000000"}
    assert (await server.post("ORDER", sale_body(returnProductList=[returned])))[0] == 200
    assert await server.counts() == {"sale": 1, "return": 1}


async def test_return_endpoint_goes_to_return_queue(server: Any, sale_body: Body) -> None:
    """RETURN exports go to the return queue keyed by orderId."""
    assert (await server.post("RETURN", sale_body()))[0] == 200
    (job,) = await server.pending("return")
    assert job.ordering_key == "S-256-000001"


async def test_store_fulfillment_goes_to_status_queue_by_external_order_id(server: Any, event_body: Body) -> None:
    """STORE_FULFILLMENT events are stored on the status queue keyed by externalOrderId; CANCELLED normalised."""
    assert (await server.post("STORE_FULFILLMENT", event_body()))[0] == 200
    assert (await server.post("STORE_FULFILLMENT", event_body(eventType="CANCELLED", eventDate=2)))[0] == 200
    jobs = await server.pending("status")
    assert [j.ordering_key for j in jobs] == ["0a3xx0000000001AAA"] * 2
    assert [j.payload["event"]["eventType"] for j in jobs] == ["PACK", "CANCELED"]
    assert all(j.payload["endpoint"] == "STORE_FULFILLMENT" for j in jobs)
    assert await server.counts() == {"status": 2}


async def test_repeated_store_fulfillment_event_is_a_duplicate(server: Any, event_body: Body) -> None:
    """The same event reposted (quantity 1 vs 1.0) is acknowledged as a duplicate and stored once."""
    await server.post("STORE_FULFILLMENT", event_body())
    status, body = await server.post("STORE_FULFILLMENT", event_body(items=[{"orderItemId": "L1", "quantity": 1.0}]))
    assert (status, body) == (200, {"status": "OK", "duplicate": True})
    assert await server.counts() == {"status": 1}


@pytest.mark.parametrize("endpoint", ["BOPIS_EXPORT", "BOFIS_EXPORT"])
async def test_bopis_bofis_exports_are_acknowledged_not_stored(server: Any, sale_body: Body, endpoint: str) -> None:
    """BOPIS_EXPORT/BOFIS_EXPORT answer 200 {"status":"OK"} and store nothing."""
    assert await server.post(endpoint, sale_body()) == (200, {"status": "OK"})
    assert await server.counts() == {}
    assert server.notified == []


async def test_unknown_endpoint_is_404(server: Any, sale_body: Body) -> None:
    """An endpoint outside the known list is 404 UNKNOWN_ENDPOINT naming it, and nothing is stored."""
    status, body = await server.post("INVENTORY", sale_body())
    assert status == 404
    assert body["errorCode"] == "UNKNOWN_ENDPOINT" and "INVENTORY" in body["errorMessage"]
    assert await server.counts() == {}


# ------------------------------------------------------------------------------------------------ auth


@pytest.mark.parametrize("key", [None, "", "wrong-key", "Bearer wrong-key", "whk-S3CRET-7f31c2d", "Basic x"])
async def test_missing_or_wrong_key_is_401_json(server: Any, sale_body: Body, key: str | None) -> None:
    """Missing, empty or wrong Authorization is 401 JSON naming the header; the key never echoes back."""
    status, body = await server.post("ORDER", sale_body(), key=key)
    assert status == 401
    assert body["errorCode"] == "UNAUTHORIZED" and "Authorization" in body["errorMessage"]
    assert "S3CRET" not in str(body)
    assert await server.counts() == {}


@pytest.mark.parametrize("form", ["Bearer {}", "bearer {}", "BEARER {}", "Bearer  {}"])
async def test_bearer_key_is_accepted_scheme_case_insensitive(server: Any, sale_body: Body, form: str) -> None:
    """Authorization carries 'Bearer <key>' (the scheme matched case-insensitively, as RFC 9110 says)."""
    assert (await server.post("ORDER", sale_body(), auth=form.format(KEY)))[0] == 200


@pytest.mark.parametrize("form", ["{}", "Basic {}", "Bearer{}", "Token {}", "Bearer {} x", "{} Bearer"])
async def test_only_the_configured_scheme_is_accepted(server: Any, sale_body: Body, form: str) -> None:
    """The bare key, another scheme or a mangled Bearer credential is 401: exactly the configured scheme."""
    status, body = await server.post("ORDER", sale_body(), auth=form.format(KEY))
    assert status == 401 and body["errorCode"] == "UNAUTHORIZED"
    assert await server.counts() == {}


async def test_custom_auth_header_is_used_and_bearer_not_stripped(serve: Any, sale_body: Body) -> None:
    """With auth_header X-Api-Key the bare key is read from it; Authorization alone or 'Bearer <key>' is refused."""
    served = await serve(auth_header="X-Api-Key")
    url = f"{served.url}/webhooks/pos/ORDER"
    async with served.http.post(url, json=sale_body(), headers={"Authorization": f"Bearer {KEY}"}) as resp:
        assert resp.status == 401
        assert "X-Api-Key" in (await resp.json())["errorMessage"]
    async with served.http.post(url, json=sale_body(), headers={"X-Api-Key": f"Bearer {KEY}"}) as resp:
        assert resp.status == 401
    async with served.http.post(url, json=sale_body(), headers={"X-Api-Key": KEY}) as resp:
        assert resp.status == 200


# ------------------------------------------------------------------------------------------------ size


async def test_body_over_limit_with_content_length_is_413(serve: Any, sale_body: Body) -> None:
    """A body above max_body_bytes (declared by Content-Length) is 413 PAYLOAD_TOO_LARGE, nothing stored."""
    served = await serve(max_body_bytes=2000)
    body = sale_body(note="x" * 3000)
    status, answer = await served.post("ORDER", body)
    assert status == 413 and answer["errorCode"] == "PAYLOAD_TOO_LARGE" and "2000" in answer["errorMessage"]
    assert await served.counts() == {}


async def test_chunked_body_over_limit_is_413(serve: Any, sale_body: Body) -> None:
    """A chunked body (no Content-Length) above max_body_bytes is also 413, nothing stored."""
    import json

    served = await serve(max_body_bytes=2000)
    payload = json.dumps(sale_body(note="x" * 3000)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 500):
            yield payload[i:i + 500]

    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    async with served.http.post(f"{served.url}/webhooks/pos/ORDER", data=chunks(), headers=headers) as resp:
        assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
        assert resp.status == 413
        assert (await resp.json())["errorCode"] == "PAYLOAD_TOO_LARGE"
    assert await served.counts() == {}


async def test_chunked_body_under_limit_is_accepted(serve: Any, sale_body: Body) -> None:
    """A chunked body within the limit is read whole and stored."""
    import json

    served = await serve(max_body_bytes=4000)
    payload = json.dumps(sale_body()).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 100):
            yield payload[i:i + 100]

    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    async with served.http.post(f"{served.url}/webhooks/pos/ORDER", data=chunks(), headers=headers) as resp:
        assert resp.status == 200
    assert await served.counts() == {"sale": 1}


def _many_lines(sale_body: Body, n: int) -> dict[str, Any]:
    lines = [{"orderItemId": str(i), "productId": f"SKU-{i:05d}", "quantity": 1, "price": 1.0, "subTotal": 1.0,
              "total": 1.0, "fulfillmentType": "IN_STORE"} for i in range(n)]
    return sale_body(orderProductList=lines, orderSubTotal=float(n), discount=0, taxSubTotal=0, totalAmount=float(n),
                     tenders=[{"paymentMethod": "Cash", "amountAuthorized": float(n)}])


async def test_5000_lines_within_the_body_limit_are_stored_as_one_job(server: Any, sale_body: Body) -> None:
    """A 5,000-line sale that fits the default 1 MiB limit is accepted and stored as ONE sale job."""
    body = _many_lines(sale_body, 5000)
    status, answer = await server.post("ORDER", body)
    assert (status, answer) == (200, {"status": "OK", "duplicate": False}), answer
    (job,) = await server.pending("sale")
    assert len(job.payload["sale"]["orderProductList"]) == 5000


async def test_5000_lines_above_the_body_limit_are_refused_cleanly(serve: Any, sale_body: Body) -> None:
    """The same 5,000-line sale above a 256 KiB limit is a clean 413 and nothing is stored."""
    served = await serve(max_body_bytes=262_144)
    status, answer = await served.post("ORDER", _many_lines(sale_body, 5000))
    assert status == 413 and answer["errorCode"] == "PAYLOAD_TOO_LARGE"
    assert await served.counts() == {}


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        (b"{not json", "INVALID_JSON", "not valid JSON"),
        (b"", "INVALID_JSON", "not valid JSON"),
        (b"\xff\xfe{}", "INVALID_JSON", "not valid JSON"),
        (b"[]", "INVALID_BODY", "JSON object"),
        (b'"text"', "INVALID_BODY", "JSON object"),
        (b"null", "INVALID_BODY", "JSON object"),
        (b"42", "INVALID_BODY", "JSON object"),
    ],
)
async def test_unparseable_or_non_object_body_is_400(server: Any, raw: bytes, code: str, words: str) -> None:
    """Invalid JSON and non-object bodies are 400 {"errorCode","errorMessage"} and nothing is stored."""
    status, body = await server.post("ORDER", None, raw=raw)
    assert status == 400
    assert set(body) == {"errorCode", "errorMessage"}
    assert body["errorCode"] == code and words in body["errorMessage"]
    assert await server.counts() == {}


def _line(**changes: Any) -> dict[str, Any]:
    line = {"orderItemId": "1", "productId": "SKU-0001", "name": "Tee", "quantity": 2, "price": 20.00,
            "subTotal": 40.00, "discount": 4.00, "tax": 2.97, "total": 38.97, "fulfillmentType": "IN_STORE",
            "fulfillmentSubType": "DEFAULT"}
    line.update(changes)
    return line


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"orderId": None}, "orderId", ""),
        ({"orderId": ""}, "orderId", ""),
        ({"orderDate": "yesterday"}, "orderDate", ""),
        ({"orderDate": {"a": 1}}, "orderDate", ""),
        ({"totalAmount": "lots"}, "totalAmount", ""),
        ({"currency": "DOLLARS"}, "currency", ""),
        ({"orderProductList": "not a list"}, "orderProductList", ""),
        ({"orderProductList": [_line(fulfillmentType="FOO")]}, "orderProductList.0.fulfillmentType",
         'unknown value "FOO" (expected IN_STORE, ONLINE)'),
        ({"orderProductList": [_line(fulfillmentSubType="LATER")]}, "orderProductList.0.fulfillmentSubType",
         'unknown value "LATER"'),
        ({"orderProductList": [_line(quantity=0)]}, "orderProductList.0.quantity", ""),
        ({"orderProductList": [_line(quantity="two")]}, "orderProductList.0.quantity", ""),
        ({"tenders": [{"paymentMethod": "IOU", "amountAuthorized": 38.97}]}, "tenders.0.paymentMethod",
         'unknown value "IOU"'),
        ({"tenders": []}, "tenders", "not totalAmount"),
    ],
)
async def test_invalid_field_is_400_naming_the_field(
    server: Any, sale_body: Body, changes: dict[str, Any], field: str, words: str
) -> None:
    """Wrong types, unknown enum values and broken totals are 400 INVALID_FIELD naming the field; nothing stored."""
    status, body = await server.post("ORDER", sale_body(**changes))
    assert status == 400, body
    assert set(body) == {"errorCode", "errorMessage"}
    assert body["errorCode"] == "INVALID_FIELD"
    assert field in body["errorMessage"] and words in body["errorMessage"]
    assert await server.counts() == {}
    assert server.notified == []


async def test_missing_order_id_is_400(server: Any, sale_body: Body) -> None:
    """A sale without orderId is 400 naming orderId as required; nothing stored."""
    body = sale_body()
    del body["orderId"]
    status, answer = await server.post("ORDER", body)
    assert status == 400 and answer["errorCode"] == "INVALID_FIELD"
    assert answer["errorMessage"].startswith("orderId:") and "required" in answer["errorMessage"].lower()
    assert await server.counts() == {}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"eventType": "LOST"}, "eventType"),
        ({"orderType": "SHIP"}, "orderType"),
        ({"externalOrderId": ""}, "externalOrderId"),
        ({"eventDate": "soon"}, "eventDate"),
        ({"items": [{"orderItemId": "L1", "quantity": -1}]}, "items.0.quantity"),
    ],
)
async def test_invalid_store_fulfillment_event_is_400(
    server: Any, event_body: Body, changes: dict[str, Any], field: str
) -> None:
    """A store-fulfilment event with a bad field is 400 naming it; nothing stored."""
    status, body = await server.post("STORE_FULFILLMENT", event_body(**changes))
    assert status == 400 and body["errorCode"] == "INVALID_FIELD"
    assert body["errorMessage"].startswith(f"{field}:"), body
    assert await server.counts() == {}


async def test_validation_errors_do_not_echo_personal_data(server: Any, sale_body: Body) -> None:
    """A 400 names fields but does not repeat the submitted values (hide_input_in_errors)."""
    status, body = await server.post("ORDER", sale_body(orderDate="ann.lee.private@example.com"))
    assert status == 400 and "orderDate" in body["errorMessage"]
    assert "ann.lee.private" not in body["errorMessage"]


SOQL_NASTY = "o'brien%_--+x@example.com"  # a valid address that is full of SOQL metacharacters


async def test_soql_metacharacters_are_stored_verbatim(server: Any, sale_body: Body) -> None:
    """Quotes, backslashes, % _ and -- in (valid) emails and names are data: accepted and stored byte for byte."""
    profile = {"customerId": "C1", "email": SOQL_NASTY, "firstName": "Ann' OR '1'='1", "lastName": "Lee\\%_"}
    body = sale_body(email=SOQL_NASTY, customerProfile=profile)
    assert (await server.post("ORDER", body))[0] == 200
    (job,) = await server.pending("sale")
    assert job.payload["sale"]["email"] == SOQL_NASTY
    assert job.payload["sale"]["customerProfile"] == profile


# ------------------------------------------------------------------------------------------------ lifecycle


async def test_draining_refuses_with_503_and_stores_nothing(server: Any, sale_body: Body) -> None:
    """While health.draining, webhooks answer 503 SHUTTING_DOWN so the POS reposts later."""
    server.health.draining = True
    status, body = await server.post("ORDER", sale_body())
    assert status == 503 and body["errorCode"] == "SHUTTING_DOWN"
    assert await server.counts() == {}


class FailingStore:
    """A store whose enqueue fails (disk full, lock timeout); everything else delegates."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    async def enqueue(self, jobs: list[NewJob], **kw: Any) -> int:
        raise OSError("database or disk is full")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_store_failure_is_503_not_200(serve: Any, sale_body: Body, tmp_path: Path) -> None:
    """When the commit fails the POS gets 503 UNAVAILABLE (never a 200), and nobody is notified."""
    inner = await open_store(f"sqlite:///{tmp_path / 'f.db'}")
    try:
        served = await serve(store=FailingStore(inner))
        status, body = await served.post("ORDER", sale_body())
        assert status == 503 and body["errorCode"] == "UNAVAILABLE"
        assert "disk" not in body["errorMessage"]
        assert served.notified == []
        assert (await inner.queue_counts())["sale"]["pending"] == 0
    finally:
        await inner.close()
