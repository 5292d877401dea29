"""Hard edges of the worker's HTTP side, one test per input the fuzz run of issue 15 answered with a 5xx or let in.

Webhooks: strict JSON (NaN/Infinity, nesting, number size, NUL and lone surrogates) and field values Salesforce
would refuse are 400 naming the field, nothing stored; header bytes that are not UTF-8 are a 401, never a 500.
SPIs: every ``/spi/`` request checks the key first (401, empty body), paging is bounded (400 naming the
parameter), and a Salesforce that is down or unreachable is a 503 in the POS's error shape.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from worker.errors import PermanentError

Body = Callable[..., dict[str, Any]]
KEY = "whk-S3CRET-7f31c2d9"  # the webhook key the server fixture configures
SPI_KEY = "spi-S3CRET-41d2aa"  # the SPI key the server fixture configures


async def raw_http(url: str, request: bytes) -> tuple[int, bytes]:
    """Send raw request bytes on a fresh connection; (status, body) of the answer."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _line(**changes: Any) -> dict[str, Any]:
    line = {"orderItemId": "1", "productId": "SKU-0001", "name": "Tee", "quantity": 2, "price": 20.00,
            "subTotal": 40.00, "discount": 4.00, "tax": 2.97, "total": 38.97, "fulfillmentType": "IN_STORE",
            "fulfillmentSubType": "DEFAULT"}
    line.update(changes)
    return line


async def _refused(server: Any, raw: bytes, code: str, *words: str) -> str:
    status, body = await server.post("ORDER", None, raw=raw)
    assert status == 400, (status, body)
    assert set(body) == {"errorCode", "errorMessage"} and body["errorCode"] == code, body
    for word in words:
        assert word in body["errorMessage"], body
    assert await server.counts() == {}
    return str(body["errorMessage"])


# ------------------------------------------------------------------------------------------- strict JSON


async def test_deeply_nested_json_is_400_naming_where(server: Any, sale_body: Body) -> None:
    """100,000 nested arrays inside an unknown field are 400 INVALID_JSON naming the field, not a RecursionError."""
    text = json.dumps(sale_body(extra="X"))
    raw = text.replace('"X"', "[" * 100_000 + "]" * 100_000).encode()
    message = await _refused(server, raw, "INVALID_JSON", "extra", "nested deeper than")
    assert len(message) < 400


async def test_moderately_nested_json_is_also_400(server: Any, sale_body: Body) -> None:
    """Nesting a little above the limit (not enough to blow the stack) is refused the same way."""
    raw = json.dumps(sale_body(extra=json.loads("[" * 80 + "]" * 80))).encode()
    await _refused(server, raw, "INVALID_JSON", "extra", "nested deeper than")


async def test_integer_over_4300_digits_is_400_naming_the_field(server: Any, sale_body: Body) -> None:
    """A 5,000-digit integer (Python's int limit is 4,300) is 400 naming totalAmount, not a 500."""
    raw = json.dumps(sale_body(totalAmount="N")).replace('"N"', "9" * 5000).encode()
    await _refused(server, raw, "INVALID_JSON", "totalAmount", "digits")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_nan_or_infinity_anywhere_is_400_not_503(server: Any, sale_body: Body, literal: str) -> None:
    """NaN/Infinity, even in an unknown nested field, are 400 naming the path (never 'repost later')."""
    raw = json.dumps(sale_body(extra={"notes": [1, "N"]})).replace('"N"', literal).encode()
    await _refused(server, raw, "INVALID_JSON", "extra.notes.1", literal)


async def test_float_overflowing_to_infinity_is_400(server: Any, sale_body: Body) -> None:
    """1e400 (a float overflow, silently inf for Python's json) is 400 naming the field."""
    raw = json.dumps(sale_body(orderSubTotal="N")).replace('"N"', "1e400").encode()
    await _refused(server, raw, "INVALID_JSON", "orderSubTotal")


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800", "\\udc00x", "\\ud800\\u0041"])
async def test_nul_and_lone_surrogates_are_400_naming_the_field(server: Any, sale_body: Body, escape: str) -> None:
    """A NUL or a lone UTF-16 surrogate (no database stores them) is 400 naming the field, not a store 503."""
    raw = json.dumps(sale_body(extra={"memo": "M"})).replace('"M"', f'"a{escape}b"').encode()
    await _refused(server, raw, "INVALID_JSON", "extra.memo")


async def test_nul_in_a_key_is_400(server: Any, sale_body: Body) -> None:
    """A NUL in an object key is refused too."""
    raw = json.dumps(sale_body()).replace('"orderSource"', '"order\\u0000Source"').encode()
    await _refused(server, raw, "INVALID_JSON")


async def test_valid_surrogate_pair_and_escapes_are_accepted(server: Any, sale_body: Body) -> None:
    """A proper surrogate pair (an emoji), escaped quotes and backslashes are fine."""
    raw = json.dumps(sale_body(extra="\U0001f600 \\ \" \\u0000 literal")).encode()
    assert b"\\ud83d\\ude00" in raw
    status, body = await server.post("ORDER", None, raw=raw)
    assert status == 200, body


# ------------------------------------------------------------------------------------------- field values


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"totalAmount": 1e308}, "totalAmount"),
        ({"totalAmount": -9.2e18}, "totalAmount"),
        ({"orderSubTotal": "1e308"}, "orderSubTotal"),
        ({"shippingCharge": 10**15}, "shippingCharge"),
        ({"orderProductList": [_line(price=1e13)]}, "orderProductList.0.price"),
        ({"orderProductList": [_line(quantity=10**9)]}, "orderProductList.0.quantity"),
        ({"orderProductList": [_line(quantity=1e-9)]}, "orderProductList.0.quantity"),
        ({"orderProductList": [_line(productTax={"rate": 1e30})]}, "orderProductList.0.productTax.rate"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a b@example.com"}, "email"),
        ({"email": "ann@example"}, "email"),
        ({"email": "x" * 80 + "@example.com"}, "email"),
        ({"customerProfile": {"email": "ann@@example.com"}}, "customerProfile.email"),
        ({"orderDate": 9_223_372_036_854_775_807}, "orderDate"),  # year 292278994
        ({"orderDate": -9_223_372_036_854_775_808}, "orderDate"),
        ({"orderDate": 64_092_211_200_000}, "orderDate"),  # 4001-01-01T00:00:00Z, a millisecond too late
        ({"currency": "NaN"}, "currency"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "US1"}, "currency"),
        ({"orderId": "S-1\u0001"}, "orderId"),
        ({"orderId": " S-1"}, "orderId"),
        ({"orderId": "S" * 81}, "orderId"),
        ({"storeId": "25 6"}, "storeId"),
        ({"orderProductList": [_line(productId="SKU\n1")]}, "orderProductList.0.productId"),
        ({"billingAddress": {"city": "C" * 41}}, "billingAddress.city"),
        ({"billingAddress": {"postalCode": "1" * 21}}, "billingAddress.postalCode"),
        ({"customerProfile": {"phoneMobile": "5" * 41}}, "customerProfile.phoneMobile"),
    ],
)
async def test_values_salesforce_refuses_are_400_naming_the_field(
    server: Any, sale_body: Body, changes: dict[str, Any], field: str
) -> None:
    """A value the org would refuse (and so dead-letter unseen) is 400 INVALID_FIELD naming it; nothing stored."""
    status, body = await server.post("ORDER", sale_body(**changes))
    assert status == 400, body
    assert body["errorCode"] == "INVALID_FIELD", body
    assert f"{field}:" in body["errorMessage"], body
    assert await server.counts() == {}


async def test_date_range_ends_are_accepted(server: Any, sale_body: Body) -> None:
    """1700-01-01T00:00:00Z and 4000-12-31T23:59:59.999Z are inside Salesforce's datetime range."""
    assert (await server.post("ORDER", sale_body(orderDate=-8_520_336_000_000)))[0] == 200
    assert (await server.post("ORDER", sale_body(orderId="S-2", orderDate=64_092_211_199_999)))[0] == 200
    assert (await server.post("ORDER", sale_body(orderId="S-3", orderDate=-8_520_336_000_001)))[0] == 400
    assert (await server.post("ORDER", sale_body(orderId="S-4", orderDate=64_092_211_200_000)))[0] == 400


async def test_validation_messages_do_not_echo_the_value(server: Any, sale_body: Body) -> None:
    """An invalid e-mail is named by field, the address itself is not repeated."""
    status, body = await server.post("ORDER", sale_body(email="ann.lee.private@@example.com"))
    assert status == 400 and "email" in body["errorMessage"]
    assert "ann.lee.private" not in body["errorMessage"]


async def test_online_line_without_shipping_address_is_400(server: Any, sale_body: Body) -> None:
    """An ORDER with an ONLINE line and no shippingAddress cannot be posted: 400 naming shippingAddress."""
    status, body = await server.post("ORDER", sale_body(orderProductList=[_line(fulfillmentType="ONLINE")]))
    assert status == 400 and body["errorCode"] == "INVALID_FIELD", body
    assert "shippingAddress" in body["errorMessage"]
    assert await server.counts() == {}


@pytest.mark.parametrize(("changes", "field"), [
    ({"externalOrderId": "0a3xx0000000001AAA/../x"}, "externalOrderId"),
    ({"externalOrderId": "not-an-id"}, "externalOrderId"),
    ({"eventDate": 10**19}, "eventDate"),
    ({"orderId": "FO\u00001"}, "orderId"),
    ({"items": [{"orderItemId": "L1", "quantity": 1e300}]}, "items.0.quantity"),
])
async def test_store_fulfillment_values_salesforce_refuses_are_400(
    server: Any, event_body: Body, changes: dict[str, Any], field: str
) -> None:
    """A STORE_FULFILLMENT event with a non-Id externalOrderId, an absurd date or quantity is 400 naming it."""
    status, body = await server.post("STORE_FULFILLMENT", event_body(**changes))
    assert status == 400, body
    assert field in body["errorMessage"], body
    assert await server.counts() == {}


# ------------------------------------------------------------------------------------------- webhook auth


async def test_non_utf8_authorization_header_is_401_not_500(server: Any, sale_body: Body) -> None:
    """Authorization bytes that are not UTF-8 are a 401 JSON answer before anything else, never a 500."""
    body = json.dumps(sale_body()).encode()
    host = urlsplit(server.url)
    request = (b"POST /webhooks/pos/ORDER HTTP/1.1\r\nHost: " + host.netloc.encode() + b"\r\n"
               b"Authorization: Bearer \xff\xfe\x80" + KEY.encode() + b"\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    status, answer = await raw_http(server.url, request)
    assert status == 401, answer
    assert json.loads(answer)["errorCode"] == "UNAUTHORIZED"
    assert await server.counts() == {}


# ------------------------------------------------------------------------------------------- SPI: key first


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/orders/search"), ("GET", "/orders/00001001"), ("POST", "/orders/00001001/cancel"),
    ("GET", "/nope"), ("GET", ""), ("GET", "/orders/00001001/cancel"), ("DELETE", "/orders/search"),
    ("PUT", "/orders/1/cancel"), ("POST", "/orders/search"), ("PATCH", "/orders/1"), ("GET", "/orders/a/b/c/d"),
])
@pytest.mark.parametrize("key", [None, "", "wrong", "k" * 10_000, SPI_KEY + "x", SPI_KEY.upper()],
                         ids=["missing", "empty", "wrong", "10kB", "longer", "upper"])
async def test_bad_key_is_401_empty_on_every_spi_path(server: Any, method: str, path: str, key: str | None) -> None:
    """Every /spi/ request, known path or not, any method, checks api_key first: 401 with an empty body."""
    status, _, data = await server.spi(method, path, key=key)
    assert (status, data) == (401, b"")
    assert server.org.queries == [] and server.org.actions == []


async def test_non_utf8_api_key_is_401_empty(server: Any) -> None:
    """An api_key whose percent-decoding is not UTF-8 is a plain 401 with an empty body."""
    host = urlsplit(server.url).netloc.encode()
    status, body = await raw_http(server.url, b"GET /spi/1.0/orders/search?api_key=%ff%fe%00&LastName=Lee HTTP/1.1\r\n"
                                  b"Host: " + host + b"\r\nConnection: close\r\n\r\n")
    assert (status, body) == (401, b"")


async def test_good_key_on_unknown_spi_path_is_json_404_and_wrong_method_405(server: Any) -> None:
    """With the right key, an unknown SPI path is 404 and a wrong method 405, both in the POS error shape."""
    status, body, _ = await server.spi("GET", "/nope")
    assert status == 404 and set(body) == {"errorCode", "errorMessage"}
    status, body, _ = await server.spi("DELETE", "/orders/search")
    assert status == 405 and set(body) == {"errorCode", "errorMessage"}


# ------------------------------------------------------------------------------------------- SPI: paging


@pytest.mark.parametrize(("param", "value"), [
    ("limit", "-5"), ("limit", "0"), ("limit", "201"), ("limit", "abc"), ("limit", "1e3"), ("limit", ""),
    ("limit", "1" + "0" * 30), ("limit", "٣"), ("limit", "1_0"), ("limit", " 5"),
    ("offset", "-1"), ("offset", "100000"), ("offset", "1" + "0" * 30), ("offset", "2001"), ("offset", "1.5"),
])
async def test_paging_out_of_bounds_is_400_naming_the_parameter(server: Any, param: str, value: str) -> None:
    """limit outside 1..200 and offset outside 0..2000 (SOQL's OFFSET cap), or not digits, are 400 naming it."""
    status, body, _ = await server.spi("GET", "/orders/search", params={"LastName": "Lee", param: value})
    assert status == 400, body
    assert set(body) == {"errorCode", "errorMessage"} and body["errorMessage"].startswith(f"{param}:"), body
    assert server.org.queries == []


async def test_paging_bounds_are_accepted(server: Any) -> None:
    """limit 1 and 200, offset 0 and 2000 are valid pages."""
    for params in ({"limit": "1", "offset": "0"}, {"limit": "200", "offset": "2000"}):
        status, body, _ = await server.spi("GET", "/orders/search", params={"LastName": "Lee", **params})
        assert status == 200, body
    assert "LIMIT 201 OFFSET 2000" in server.org.queries[-1]


@pytest.mark.parametrize(("param", "value"), [
    ("LastName", "Lee\x00"), ("OrderNumber", "1\n2"), ("BillToContactId", "003' OR Id != '"),
    ("BillToContactId", "not-an-id"), ("BillingEmailAddress", "a" * 300),
], ids=["nul", "newline", "soql", "not-id", "300-chars"])
async def test_search_values_the_org_refuses_are_400(server: Any, param: str, value: str) -> None:
    """A control character, an over-long value or a BillToContactId that is not an Id is 400 naming it."""
    status, body, _ = await server.spi("GET", "/orders/search", params={param: value})
    assert status == 400 and body["errorMessage"].startswith(f"{param}:"), body
    assert server.org.queries == []


@pytest.mark.parametrize("number", ["%00", "a%0Ab", "x" * 300], ids=["nul", "newline", "300-chars"])
async def test_bad_order_number_is_400(server: Any, number: str) -> None:
    """An order number with a control character or over 255 characters is 400 naming it (detail and cancel)."""
    for method, suffix in (("GET", ""), ("POST", "/cancel")):
        status, body, _ = await server.spi(method, f"/orders/{number}{suffix}")
        assert status == 400 and body["errorMessage"].startswith("orderNumber:"), (method, body)
    assert server.org.queries == []


@pytest.mark.parametrize("raw", [
    b"[" * 30_000 + b"]" * 30_000,
    b'{"items": [{"orderItemId": "10uA", "quantity": NaN}]}',
    b'{"items": [{"orderItemId": "10uA", "quantity": ' + b"9" * 5000 + b"}]}",
    b'{"items": [{"orderItemId": "10uA", "quantity": 1e308}]}',
    b'{"items": "x"}', b'[1]', b'{"reason": "a\\u0000"}', b"\xff", b'{"reason": {"a": 1}}',
], ids=["nested", "nan", "5000-digits", "1e308", "items-text", "array", "nul", "not-utf8", "reason-object"])
async def test_bad_cancel_body_is_400_not_500(server: Any, raw: bytes) -> None:
    """A deeply nested, NaN, huge-number or malformed cancel body is 400 JSON; nothing is submitted."""
    status, body, _ = await server.spi("POST", "/orders/00001001/cancel", raw=raw)
    assert status == 400, body
    assert set(body) == {"errorCode", "errorMessage"}
    assert server.org.actions == []


# ------------------------------------------------------------------------------------------- SPI: Salesforce down


@pytest.mark.parametrize("mode", ["down", "unreachable", "auth", "limit"])
@pytest.mark.parametrize(("method", "path", "params"), [
    ("GET", "/orders/search", {"LastName": "Lee"}), ("GET", "/orders/00001001", {}),
    ("POST", "/orders/00001001/cancel", {}),
])
async def test_salesforce_unavailable_is_503_in_the_pos_error_shape(
    server: Any, mode: str, method: str, path: str, params: dict[str, str]
) -> None:
    """Salesforce down, unreachable, refusing the login or out of API calls: 503 {"errorCode","errorMessage"}."""
    server.org.mode = mode
    status, body, _ = await server.spi(method, path, params=params)
    assert status == 503, body
    assert set(body) == {"errorCode", "errorMessage"} and body["errorCode"] == "UNAVAILABLE"
    assert "S3CRET" not in json.dumps(body)


async def test_salesforce_refusing_a_query_is_502_not_500(server: Any) -> None:
    """A query the org refuses for a reason the SPI did not foresee is a 502 naming Salesforce, not a crash."""

    async def refuse(soql: str) -> list[dict[str, Any]]:
        raise PermanentError("salesforce", "No such column 'X'", status=400, code="INVALID_FIELD")

    server.org.query = refuse
    status, body, _ = await server.spi("GET", "/orders/00001001")
    assert status == 502 and body["errorCode"] == "SALESFORCE_ERROR", body
