"""BORIS SPIs over real HTTP: api_key rule, search, detail, online cancel (Salesforce behind a recording fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from worker.errors import PermanentError
from worker.spi import add_spi_routes

SUMMARY = {
    "Id": "1OsA", "OrderNumber": "00001001", "Status": "Created", "OrderedDate": "2025-05-01T12:00:00.000+0000",
    "GrandTotalAmount": 38.97, "TotalTaxAmount": 2.97, "BillingEmailAddress": "ann@example.com",
    "Account": {"FirstName": "Ann", "LastName": "Lee"},
    "OrderItemSummaries": {"totalSize": 1, "done": True, "records": [
        {"Id": "10uA", "Type": "Order Product", "StockKeepingUnit": "SKU-1", "Name": "Tee", "Quantity": 2.0,
         "QuantityCanceled": 0.0, "QuantityReturned": 1.0, "QuantityReturnInitiated": 1.0, "UnitPrice": 20.0,
         "QuantityAvailableToReturn": 1.0, "QuantityAvailableToCancel": 1.0,  # 3 ordered, 2 fulfilled, 1 returned
         "TotalPrice": 36.0, "TotalTaxAmount": 2.97}]},
    "OrderDeliveryGroupSummaries": None,
}


@dataclass
class FakeOrders:
    rows: list[dict[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    actions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refuse: bool = False

    async def query(self, soql: str) -> list[dict[str, Any]]:
        self.queries.append(soql)
        return list(self.rows)

    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.refuse:
            raise PermanentError("salesforce", "already fulfilled", code="INVALID_STATUS")
        self.actions.append((path, body))
        return {"changeOrderId": "801CHG", "success": True, "errors": []}


@pytest.fixture
async def spi() -> AsyncIterator[tuple[str, FakeOrders, aiohttp.ClientSession]]:
    fake = FakeOrders()
    app = web.Application()
    add_spi_routes(app, fake, (SecretStr("prod-key"), SecretStr("staging-key")))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:
        yield f"http://127.0.0.1:{port}/spi/1.0", fake, http
    await runner.cleanup()


@pytest.mark.parametrize("query", ["", "?api_key=wrong", "?api_key="])
async def test_wrong_or_missing_api_key_is_401_with_empty_body(spi: Any, query: str) -> None:
    """Every SPI answers 401 with an empty body for a wrong or missing api_key."""
    base, _, http = spi
    for method, path in (("GET", "/orders/search"), ("GET", "/orders/00001001"), ("POST", "/orders/1/cancel")):
        async with http.request(method, f"{base}{path}{query}") as resp:
            assert resp.status == 401 and await resp.read() == b""


async def test_search_finds_and_pages(spi: Any) -> None:
    """Search answers emailId, OrderID, Total, orderDate, count and OrderstatusText; staging key works too."""
    base, fake, http = spi
    fake.rows = [SUMMARY]
    async with http.get(f"{base}/orders/search?api_key=staging-key&BillingEmailAddress=ann@") as resp:
        body = await resp.json()
    assert resp.status == 200 and body["count"] == 1 and body["hasMore"] is False
    assert body["orders"][0] == {"OrderID": "00001001", "emailId": "ann@example.com", "Total": 38.97,
                                 "orderDate": 1746100800000, "OrderstatusText": "Created", "firstName": "Ann",
                                 "lastName": "Lee"}
    assert "BillingEmailAddress LIKE 'ann@%'" in fake.queries[0]


async def test_search_without_match_is_200_with_message(spi: Any) -> None:
    """No match is a 200 with an error message and no results."""
    base, _, http = spi
    async with http.get(f"{base}/orders/search?api_key=prod-key&LastName=Nobody") as resp:
        body = await resp.json()
    assert resp.status == 200 and body["orders"] == [] and body["count"] == 0 and body["errorMessage"]


async def test_detail_reports_returnable_quantities(spi: Any) -> None:
    """Order detail lists lines with the quantity still returnable and what was returned."""
    base, fake, http = spi
    fake.rows = [SUMMARY]
    async with http.get(f"{base}/orders/00001001?api_key=prod-key") as resp:
        body = await resp.json()
    line = body["orderProductList"][0]
    assert line["orderItemId"] == "10uA" and line["returnableQuantity"] == 1.0
    assert body["returnProductList"] == [{"orderItemId": "10uA", "quantity": 1.0}] and body["canReturn"] == "TRUE"


async def test_cancel_submits_open_quantities_and_refuses_over_cancel(spi: Any) -> None:
    """Online cancel sends submit-cancel for open quantities; asking for more is a 400."""
    base, fake, http = spi
    fake.rows = [SUMMARY]
    async with http.post(f"{base}/orders/00001001/cancel?api_key=prod-key", json={"reason": "Changed mind"}) as r:
        assert r.status == 200 and (await r.json())["changeOrderId"] == "801CHG"
    path, body = fake.actions[0]
    assert path.endswith("/order-summaries/1OsA/actions/submit-cancel")
    assert body["changeItems"] == [{"orderItemSummaryId": "10uA", "quantity": 1.0, "reason": "Changed mind",
                                    "shippingReductionFlag": False}]
    async with http.post(f"{base}/orders/00001001/cancel?api_key=prod-key",
                         json={"items": [{"orderItemId": "10uA", "quantity": 5}]}) as r:
        assert r.status == 400 and (await r.json())["errorCode"] == "OVER_CANCEL"
    fake.refuse = True
    async with http.post(f"{base}/orders/00001001/cancel?api_key=prod-key") as r:
        assert r.status == 409 and (await r.json())["errorCode"] == "INVALID_STATUS"
