"""The naive per-object baseline, run against the same emulator in the same run.

It imports a fulfillment order the way a straightforward connector does: one REST call per sObject and per
look-up (the FO, its lines, each line's product, taxes and adjustments, the location, the delivery method, the
order summary), and posts a sale as one REST call per record plus one query per look-up. The calls are counted
by the emulator like the worker's.
"""

from __future__ import annotations

from typing import Any

import aiohttp


class NaiveClient:
    def __init__(self, http: aiohttp.ClientSession, sf_url: str, api: str = "v62.0") -> None:
        self.http, self.sf_url, self.api = http, sf_url, api
        self.token = ""

    async def login(self) -> None:
        form = {"grant_type": "password", "client_id": "demo-client", "client_secret": "demo-secret",
                "username": "integration@example.com", "password": "demo-password"}
        async with self.http.post(f"{self.sf_url}/services/oauth2/token", data=form) as resp:
            self.token = (await resp.json())["access_token"]

    async def rest(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        url = f"{self.sf_url}/services/data/{self.api}/{path}"
        async with self.http.request(method, url, json=body, headers=headers) as resp:
            text = await resp.text()
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path} -> {resp.status}: {text[:200]}")
            return await resp.json(content_type=None) if text else None

    async def query(self, soql: str) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.sf_url}/services/data/{self.api}/query",
                                 params={"q": soql}, headers={"Authorization": f"Bearer {self.token}"}) as resp:
            return list((await resp.json())["records"])

    async def import_fo(self, fo_id: str) -> None:
        """Read one FO object by object (what a per-object connector does before calling the POS)."""
        fo = await self.rest("GET", f"sobjects/FulfillmentOrder/{fo_id}")
        lines = await self.query(
            f"SELECT Id, Product2Id FROM FulfillmentOrderLineItem WHERE FulfillmentOrderId = '{fo_id}'")
        for line in lines:
            if line.get("Product2Id"):
                await self.rest("GET", f"sobjects/Product2/{line['Product2Id']}")
            await self.query(f"SELECT Id, Amount FROM FulfillmentOrderItemTax WHERE FulfillmentOrderLineItemId = "
                             f"'{line['Id']}'")
            await self.query(f"SELECT Id, Amount FROM FulfillmentOrderItemAdjustment WHERE "
                             f"FulfillmentOrderLineItemId = '{line['Id']}'")
        for field, sobject in (("FulfilledFromLocationId", "Location"), ("DeliveryMethodId", "OrderDeliveryMethod"),
                               ("OrderSummaryId", "OrderSummary")):
            if fo.get(field):
                await self.rest("GET", f"sobjects/{sobject}/{fo[field]}")
