"""Property-based fuzz (hypothesis) of every webhook and SPI route of one real server per module.

The server is the worker's own (``create_app`` + ``add_spi_routes``, ``server_options`` + ``GuardedSite``) over a
real SQLite store and a :class:`FakeOrg`, running in a thread with its own event loop; the properties are
checked with a plain blocking HTTP client, so hypothesis drives ordinary synchronous tests:

* no 5xx but the documented 503s: the store is down (webhooks) or Salesforce is (SPIs);
* a request that is not answered 200 stores nothing (the store's queue counts do not move);
* every sale accepted on ORDER/ORDER_UPDATE is postable: the pure ``sale_to_graph`` builds its graph (worst
  case context: no product known yet) without raising; a pure return is ``NothingToPost``, which is fine.

``CASES`` sets the examples per test (about 3,400 requests in all, well under a minute); set ``FUZZ_SCALE`` to
multiply them for a longer run. Each test also counts what it sent and how it was answered (``SEEN``).
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from worker.config import HttpConfig, PosConfig, SalesforceConfig, WebhookConfig
from worker.health import Health
from worker.http_limits import GuardedSite, server_options
from worker.mapping.sale import DELIVERY_CHARGE_SKU, NothingToPost, SaleContext, sale_lookup_keys, sale_to_graph
from worker.metrics import Metrics
from worker.pos.models import PosSale, StoreFulfillmentEvent
from worker.server import create_app
from worker.spi import add_spi_routes
from worker.store import NewJob, Store, open_store

from .conftest import EVENT, SALE, SPI_KEY, WEBHOOK_KEY, FakeOrg

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
CASES = {name: max(1, int(n * SCALE)) for name, n in {
    "sales": 1000, "events": 300, "raw": 500, "auth": 300, "spi": 1300}.items()}
SEEN: Counter[str] = Counter()
WEBHOOK_ROUTE = "/webhooks/pos/{endpoint}"
SPI_ROUTES = {("GET", "/spi/{version}/orders/search"), ("GET", "/spi/{version}/orders/{order_number}"),
              ("POST", "/spi/{version}/orders/{order_number}/cancel")}
ENDPOINTS = ["ORDER", "ORDER_UPDATE", "RETURN", "BOPIS_EXPORT", "BOFIS_EXPORT", "STORE_FULFILLMENT"]
SF = SalesforceConfig.model_validate({
    "UrlBase": "https://acme.my.salesforce.com", "OMSCashPaymentGatewayName": "CashGW",
    "OMSCustomField": [{"omsFieldName": "POS_Store_Id__c", "posField": "ORDER_STORE_ID", "applyTo": "LOCATION"}]})
POS = PosConfig.model_validate({"merchant_id": "ACME", "auth": {"client_id": "c", "client_secret": "s",
                                                                 "pos_secret": "p", "api_key": "k"}})
WORST_CASE = SaleContext(  # nothing known yet: every product and price book entry is created in the graph
    account_id="001A", pricebook_id="01sPB", sales_channel_id="0bIPOS", products={}, standard_pricebook_id="01sSTD",
    delivery_method_ids={k: f"2Dm{i}" for i, k in enumerate(
        ["IN_STORE-DEFAULT", "IN_STORE-PICKUP_LATER", "ONLINE-DEFAULT", "ONLINE-PICKUP_LATER"])},
    gateway_ids={"POS": "0b0CARD", "CashGW": "0b0CASH"})


class Switchable:
    """The real store, whose ``enqueue`` can be switched to fail (disk full, database down)."""

    def __init__(self, inner: Store) -> None:
        self.inner, self.down = inner, False

    async def enqueue(self, jobs: list[NewJob], **kw: Any) -> int:
        if self.down:
            raise OSError("database or disk is full")
        return await self.inner.enqueue(jobs, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Fuzzed:
    """One server in a thread of its own; blocking helpers for the hypothesis tests."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.org = FakeOrg()
        self.routes: set[tuple[str, str]] = set()
        self.conn: http.client.HTTPConnection | None = None

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def start(self) -> None:
        self.thread.start()
        self.run(self._start())

    async def _start(self) -> None:
        self.inner = await open_store(f"sqlite:///{self.directory / 'fuzz.db'}")
        self.store = Switchable(self.inner)
        app = create_app(self.store, Health(cache_seconds=0), Metrics(),  # type: ignore[arg-type]
                         WebhookConfig.model_validate({"api_key": WEBHOOK_KEY, "max_body_bytes": 65_536}), {})
        add_spi_routes(app, self.org, (SecretStr(SPI_KEY),))
        limits = HttpConfig(host="127.0.0.1", port=0)
        self.runner = web.AppRunner(app, **server_options(limits))
        await self.runner.setup()
        self.site = GuardedSite(self.runner, limits)
        await self.site.start()
        self.port = self.site.port
        self.routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}

    def stop(self) -> None:
        async def close() -> None:
            await self.runner.cleanup()
            await self.inner.close()

        self.run(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    def counts(self) -> dict[str, int]:
        found = self.run(self.inner.queue_counts())
        return {queue: sum(states.values()) for queue, states in found.items()}

    def request(self, method: str, target: str, body: bytes | None = None,
                headers: dict[str, Any] | None = None) -> tuple[int, bytes]:
        """(status, body); reconnects when the server closed the keep-alive connection."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.putrequest(method, target, skip_accept_encoding=True)
                for name, value in (headers or {}).items():
                    self.conn.putheader(name, value)
                if body is not None:
                    self.conn.putheader("Content-Length", str(len(body)))
                self.conn.endheaders(body)
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.conn.close()
                    self.conn = None
                return resp.status, data
            except (http.client.HTTPException, ConnectionError, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    server = Fuzzed(tmp_path_factory.mktemp("fuzz"))
    server.start()
    yield server
    server.stop()


FUZZ = settings(deadline=None, database=None, derandomize=False, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])

# ---------------------------------------------------------------------------------------------- values

CONTROL_TEXT = st.text(st.characters(codec="utf-8", categories=["Cc", "Zs", "Lo", "So", "Nd", "Lu"]), max_size=12)
ODD_NUMBERS = st.sampled_from([0, -1, 1e308, -1e308, 9.2e18, -9.2e18, 1e-9, 10**19, -(10**19), 2**63 - 1, 1e16,
                               999999999999.99, 1000000000000.0, 0.005, 1e6, 1000000.0001, 5e-5, 12.3456, 12.34567])
NASTY = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), ODD_NUMBERS,
    st.text(max_size=20), CONTROL_TEXT, st.sampled_from(["", " ", "NaN", "usd", "USD", "EUR1", "S-1\x00", "a@b",
                                                         "ann@example.com", "a b@example.com", "x" * 300, "0a3"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
EMAILS = st.one_of(st.emails(), st.sampled_from(["ann.lee+pos@example.co.uk", "o'brien%_@example.com", "a@b.c",
                                                 "x@localhost", "ann@-bad.com", "a..b@example.com", ".a@example.com",
                                                 "üser@example.com", "ann@example.com "]))
DATES = st.one_of(st.integers(-8_520_336_000_001, 64_092_211_200_000), st.sampled_from(
    [-8_520_336_000_001, -8_520_336_000_000, 64_092_211_199_999, 64_092_211_200_000, 2**63 - 1, 0]))
IDS = st.one_of(st.text(min_size=1, max_size=90), st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True))
SALE_PATHS = ["orderId", "orderStatus", "orderDate", "currency", "storeId", "email", "displayOrderId",
              "orderSubTotal", "discount", "taxSubTotal", "shippingCharge", "totalAmount", "transactionDiscountAmount",
              "customerProfile", "billingAddress", "shippingAddress", "orderProductList", "returnProductList",
              "tenders", "unknownField", "customerProfile.email", "customerProfile.phoneMobile",
              "customerProfile.firstName", "billingAddress.city", "billingAddress.postalCode",
              "billingAddress.addressLine1", "billingAddress.country", "orderProductList.0.quantity",
              "orderProductList.0.price", "orderProductList.0.productId", "orderProductList.0.orderItemId",
              "orderProductList.0.fulfillmentType", "orderProductList.0.fulfillmentSubType", "orderProductList.0.name",
              "orderProductList.0.productTax", "orderProductList.0.priceAdjustments", "tenders.0.amountAuthorized",
              "tenders.0.paymentMethod", "tenders.0.lastFour", "tenders.0.walletType", "tenders.0.transactionId"]
EVENT_PATHS = ["eventType", "orderType", "orderId", "externalOrderId", "storeId", "eventDate", "storeAssociateId",
               "items", "items.0.orderItemId", "items.0.quantity", "items.0.reason", "unknownField"]


def _set(body: Any, path: str, value: Any) -> None:
    """Set ``value`` at a dotted path (``orderProductList.0.price``) if the containers along it are still there."""
    *parents, last = path.split(".")
    target = body
    for part in parents:
        if isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        elif isinstance(target, dict):
            target = target.get(part)
        else:
            return
    if isinstance(target, list) and last.isdigit() and int(last) < len(target):
        target[int(last)] = value
    elif isinstance(target, dict):
        target[last] = value


@st.composite
def lines(draw: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        qty = draw(st.one_of(st.integers(1, 5), st.decimals("0.0001", "1000000", places=4)))
        price = draw(st.one_of(st.decimals("0", "500", places=2), st.decimals("0", "999999999", places=2)))
        sub = (Decimal(qty) * price).quantize(Decimal("0.01"))
        discount = draw(st.sampled_from([Decimal(0), (sub / 10).quantize(Decimal("0.01"))]))
        tax = draw(st.sampled_from([Decimal(0), (sub / 20).quantize(Decimal("0.01"))]))
        line: dict[str, Any] = {
            "orderItemId": str(i + 1), "productId": draw(st.sampled_from(["SKU-1", "SKU-2", f"SKU {i}", "ü-9"])),
            "name": draw(st.one_of(st.none(), st.text(max_size=30))), "quantity": float(qty), "price": float(price),
            "subTotal": float(sub), "discount": float(discount), "tax": float(tax),
            "total": float(sub - discount + tax), "fulfillmentType": draw(st.sampled_from(["IN_STORE", "ONLINE"])),
            "fulfillmentSubType": draw(st.sampled_from(["DEFAULT", "PICKUP_LATER"]))}
        if draw(st.booleans()):
            line["productTax"] = {"rate": draw(st.sampled_from([0, 0.0825, 0.2, 1, 37.5])), "amount": float(tax)}
        if discount and draw(st.booleans()):
            line["priceAdjustments"] = [{"id": "P1", "price": float(discount), "priceAdjustmentType":
                                         draw(st.sampled_from(["PROMOTION", "TRANSACTION_DISCOUNT"]))}]
        out.append(line)
    return out


@st.composite
def sales(draw: Any) -> dict[str, Any]:
    """A sale built consistently (totals add up) from drawn values, then 0..3 nasty mutations."""
    body = copy.deepcopy(SALE)
    body["orderId"] = draw(st.one_of(st.from_regex(r"S-[0-9]{1,12}", fullmatch=True), IDS))
    body["orderDate"], body["storeId"] = draw(DATES), draw(st.sampled_from(["256", "S_1-a", "25 6", ""]))
    body["email"] = draw(st.one_of(st.none(), EMAILS))
    body["customerProfile"]["email"] = draw(st.one_of(st.none(), EMAILS))
    body["currency"] = draw(st.sampled_from(["USD", "EUR", "JPY", "usd"]))
    sold = draw(lines())
    body["orderProductList"] = sold
    if draw(st.booleans()):
        body["shippingAddress"] = {"firstName": "Ann", "addressLine1": draw(st.text(max_size=40)), "city": "Austin",
                                   "postalCode": "78701", "country": draw(st.sampled_from(["US", "United States"]))}
    if draw(st.booleans()):
        body["billingAddress"] = None
    shipping = draw(st.sampled_from([Decimal(0), Decimal("7.50")]))
    subtotal = sum((Decimal(str(x["subTotal"])) for x in sold), Decimal(0))
    discount = sum((Decimal(str(x["discount"])) for x in sold), Decimal(0))
    tax = sum((Decimal(str(x["tax"])) for x in sold), Decimal(0))
    total = subtotal - discount + tax + shipping
    body.update(orderSubTotal=float(subtotal), discount=float(discount), taxSubTotal=float(tax),
                shippingCharge=float(shipping), totalAmount=float(total))
    method = draw(st.sampled_from(["CreditCard", "Cash", "DigitalWallet"]))
    tender: dict[str, Any] = {"paymentMethod": method, "amountAuthorized": float(total)}
    if method == "CreditCard":
        tender.update(cardType=draw(st.sampled_from(["Visa", "amex", "Unknown"])), lastFour="4242")
    elif method == "DigitalWallet":
        tender.update(walletType=draw(st.sampled_from(["ApplePay", "GooglePay"])), transactionId="tx-1")
    body["tenders"] = [tender]
    for _ in range(draw(st.integers(0, 3))):
        _set(body, draw(st.sampled_from(SALE_PATHS)), draw(NASTY))
    return body


@st.composite
def events(draw: Any) -> dict[str, Any]:
    body = copy.deepcopy(EVENT)
    body["eventType"] = draw(st.sampled_from(["PACK", "DELIVERED", "SHIPPED", "CANCELED", "CANCELLED", "LOST"]))
    body["externalOrderId"] = draw(st.one_of(st.from_regex(r"0a3[A-Za-z0-9]{12}([A-Za-z0-9]{3})?", fullmatch=True),
                                             st.text(max_size=20)))
    body["eventDate"] = draw(DATES)
    body["items"] = [{"orderItemId": draw(IDS), "quantity": draw(st.one_of(st.integers(-1, 3), ODD_NUMBERS))}
                     for _ in range(draw(st.integers(0, 2)))]
    for _ in range(draw(st.integers(0, 2))):
        _set(body, draw(st.sampled_from(EVENT_PATHS)), draw(NASTY))
    return body


def _encode(body: Any, literal: str | None) -> bytes:
    """JSON bytes; ``literal`` (e.g. NaN, 1e400, a 5,000-digit number) replaces the marker value when given."""
    text = json.dumps(body)
    if literal is not None:
        text = text.replace('"@@LIT@@"', literal, 1)
    return text.encode()


LITERALS = st.sampled_from([None, None, None, "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 5000,
                            "1" * 41, "1." + "1" * 60, '"\\u0000"', '"\\ud800"', '"a\\udc00"', '"\\\\u0000"',
                            "[" * 40 + "]" * 40, "[" * 20000 + "]" * 20000, '{"a":' * 50 + "1" + "}" * 50])


@st.composite
def raw_bodies(draw: Any) -> bytes:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=200))
    if choice == 1:
        return b"[" * draw(st.integers(30, 70000))
    body = copy.deepcopy(SALE)
    _set(body, draw(st.sampled_from(SALE_PATHS)), "@@LIT@@")
    return _encode(body, draw(LITERALS))


# ---------------------------------------------------------------------------------------------- checks


def _postable(body: Any) -> None:
    sale = PosSale.model_validate(body)
    try:
        sale_lookup_keys(sale, pos=POS, sf=SF)
        graph = sale_to_graph(sale, WORST_CASE, api_version="v62.0", sf=SF, pos=POS)
    except NothingToPost:
        return
    assert graph.nodes and any(n["referenceId"] == "refOrder" for n in graph.nodes)
    assert DELIVERY_CHARGE_SKU not in [line.productId for line in sale.orderProductList] or sale.shippingCharge


def _webhook(fuzzed: Fuzzed, endpoint: str, raw: bytes, *, auth: Any = None, store_down: bool = False,
             kind: str) -> tuple[int, bytes]:
    fuzzed.store.down = store_down
    before = fuzzed.counts()
    headers = {"Authorization": f"Bearer {WEBHOOK_KEY}" if auth is None else auth,
               "Content-Type": "application/json"}
    status, data = fuzzed.request("POST", f"/webhooks/pos/{quote(endpoint, safe='')}", raw, headers)
    SEEN[f"{kind} {status}"] += 1
    assert status < 500 or (status == 503 and store_down), (status, data[:300])
    if status == 503:
        assert json.loads(data)["errorCode"] == "UNAVAILABLE"
    if status != 200:
        assert fuzzed.counts() == before, (status, data[:200])
        assert set(json.loads(data)) == {"errorCode", "errorMessage"}, data[:200]
    elif endpoint.upper() in ("ORDER", "ORDER_UPDATE"):
        _postable(json.loads(raw))
    elif endpoint.upper() == "STORE_FULFILLMENT":
        StoreFulfillmentEvent.model_validate(json.loads(raw))
    return status, data


def test_fuzz_covers_every_webhook_and_spi_route(fuzzed: Fuzzed) -> None:
    """The fuzz below knows every webhook and SPI route the app serves (a new route must be fuzzed too)."""
    served = {(m, path) for m, path in fuzzed.routes if m != "HEAD" and path.startswith(("/webhooks/", "/spi/"))}
    assert served == {("POST", WEBHOOK_ROUTE), *SPI_ROUTES}


@settings(FUZZ, max_examples=CASES["sales"])
@given(endpoint=st.sampled_from(ENDPOINTS[:5]), body=sales(), store_down=st.sampled_from([False] * 15 + [True]))
def test_fuzz_sale_webhooks(fuzzed: Fuzzed, endpoint: str, body: dict[str, Any], store_down: bool) -> None:
    """Sales (consistent, then mutated): 200/4xx or a 503 only while the store is down; accepted ones post."""
    _webhook(fuzzed, endpoint, json.dumps(body).encode(), store_down=store_down, kind="sale")


@settings(FUZZ, max_examples=CASES["events"])
@given(body=events(), store_down=st.sampled_from([False] * 15 + [True]))
def test_fuzz_store_fulfillment_webhook(fuzzed: Fuzzed, body: dict[str, Any], store_down: bool) -> None:
    """Store-fulfilment events: no 5xx but store-down 503s; rejected ones store nothing."""
    _webhook(fuzzed, "STORE_FULFILLMENT", json.dumps(body).encode(), store_down=store_down, kind="event")


@settings(FUZZ, max_examples=CASES["raw"])
@given(endpoint=st.sampled_from([*ENDPOINTS, "INVENTORY", "order", ""]), raw=raw_bodies())
def test_fuzz_raw_webhook_bodies(fuzzed: Fuzzed, endpoint: str, raw: bytes) -> None:
    """Raw bodies (bytes, deep nesting, NaN, huge numbers, NUL, surrogates): never a 5xx, never stored."""
    if not endpoint:
        status, _ = fuzzed.request("POST", "/webhooks/pos/", raw, {"Content-Type": "application/json"})
        assert status < 500
        return
    _webhook(fuzzed, endpoint, raw, kind="raw")


HEADER_BYTES = st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b and b"\x00" not in b)


@settings(FUZZ, max_examples=CASES["auth"])
@given(auth=st.one_of(HEADER_BYTES, st.sampled_from([b"", b"Bearer", WEBHOOK_KEY.encode(),
                                                      b"Bearer \xff" + WEBHOOK_KEY.encode(),
                                                      b"bEaReR   " + WEBHOOK_KEY.encode(),
                                                      b"Basic " + WEBHOOK_KEY.encode()])))
def test_fuzz_webhook_authorization_header(fuzzed: Fuzzed, auth: bytes) -> None:
    """Any Authorization bytes: 200 only for exactly 'Bearer <key>' (scheme any case), else 401; never a 5xx.

    Bytes no header may carry (controls but tab, RFC 9110 field-value) are the HTTP parser's 400.
    """
    body = json.dumps(copy.deepcopy(SALE)).encode()
    if any((b < 0x20 and b != 0x09) or b == 0x7F for b in auth):
        status, _ = fuzzed.request("POST", "/webhooks/pos/BOPIS_EXPORT", body, {"Authorization": auth})
        SEEN[f"auth {status}"] += 1
        assert status == 400
        return
    status, _ = _webhook(fuzzed, "BOPIS_EXPORT", body, auth=auth, kind="auth")
    scheme, _, key = auth.strip(b" \t").partition(b" ")
    expected = 200 if scheme.lower() == b"bearer" and key.lstrip(b" ") == WEBHOOK_KEY.encode() else 401
    assert status == expected, auth


SEGMENTS = st.one_of(st.text(max_size=12), st.sampled_from(["1.0", "orders", "search", "cancel", "00001001", "%00",
                                                            "..", "x" * 300]))
SPI_PATHS = st.one_of(
    st.sampled_from(["/orders/search"] * 4 + ["/orders/00001001"] * 2 + ["/orders/00001001/cancel"] * 2
                    + ["", "/", "/orders"]),
    st.lists(SEGMENTS, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(quote(p, safe="") for p in parts)),
    SEGMENTS.map(lambda p: f"/orders/{quote(p, safe='')}"),
    SEGMENTS.map(lambda p: f"/orders/{quote(p, safe='')}/cancel"),
)
PARAM_VALUES = st.one_of(st.text(max_size=30), st.sampled_from(["-5", "0", "1", "200", "201", "2000", "2001", "100000",
                                                                "1" + "0" * 30, "1e3", "", "٣", "ann@", "003A0000001"
                                                                "AbCdE", "003A0000001AbCd", "x" * 300]))
SPI_KEYS = st.integers(0, 9).flatmap(lambda n: st.just(SPI_KEY) if n < 7 else st.one_of(
    st.none(), st.sampled_from(["", "wrong", SPI_KEY + " ", "k" * 10_000]), st.text(max_size=20)))


@settings(FUZZ, max_examples=CASES["spi"])
@given(route=st.one_of(st.sampled_from([("GET", "/orders/search"), ("GET", "/orders/00001001"),
                                         ("POST", "/orders/00001001/cancel")]),
                       st.tuples(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]), SPI_PATHS)),
       key=SPI_KEYS, params=st.dictionaries(st.sampled_from(["limit", "offset", "OrderNumber", "FirstName", "LastName",
                                                            "BillingEmailAddress", "BillToContactId", "junk"]),
                                           PARAM_VALUES, max_size=4),
       body=st.one_of(st.none(), raw_bodies(), st.builds(lambda items, reason: json.dumps(
           {"items": items, "reason": reason}).encode(), st.lists(st.fixed_dictionaries(
               {"orderItemId": st.sampled_from(["10uA", "nope", ""]), "quantity": NASTY}), max_size=2), NASTY)),
       mode=st.sampled_from(["ok"] * 8 + ["down", "unreachable", "auth", "limit"]))
def test_fuzz_spis(fuzzed: Fuzzed, route: tuple[str, str], key: str | None, params: dict[str, str],
                   body: bytes | None, mode: str) -> None:
    """SPIs: a bad key is 401 with an empty body on every path; else no 5xx but 503 while Salesforce is down."""
    (method, path), fuzzed.org.mode = route, mode
    query = dict(params)
    if key is not None:
        query["api_key"] = key
    target = f"/spi/1.0{path}" + (f"?{urlencode(query)}" if query else "")
    before = len(fuzzed.org.actions)
    status, data = fuzzed.request(method, target, body, {"Content-Type": "application/json"} if body else {})
    SEEN[f"spi {status}"] += 1
    if key != SPI_KEY:
        assert (status, data) == (401, b""), (status, data[:200])
        assert len(fuzzed.org.actions) == before
        return
    assert status < 500 or (status == 503 and mode != "ok"), (status, data[:300])
    if status >= 400:
        assert set(json.loads(data)) == {"errorCode", "errorMessage"}, data[:200]
    if status != 200:
        assert len(fuzzed.org.actions) == before


def test_fuzz_summary(fuzzed: Fuzzed) -> None:
    """Prints what the fuzz sent and how it was answered (the numbers behind issue 15's report)."""
    total = sum(SEEN.values())
    print(f"\nfuzz: {total} requests; " + ", ".join(f"{k}: {v}" for k, v in sorted(SEEN.items())))
    assert not any(key.split()[1].startswith("5") and not key.endswith("503") for key in SEEN)
