"""simple-salesforce, unchanged, over TLS: aggregate SOQL, composite batch and tree, graph below v50.0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import simple_salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from emulator.salesforce.app import RunningEmulator, SfEmulatorSettings, start_sf_emulator
from emulator.salesforce.tls import client_context, generate_self_signed, server_context


@dataclass
class Tls:
    running: RunningEmulator
    token: str
    ca_file: str

    def client(self, version: str = "62.0") -> simple_salesforce.Salesforce:
        session = requests.Session()
        session.verify = self.ca_file
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins over session.verify
        return simple_salesforce.Salesforce(instance_url=self.running.url, session_id=self.token, session=session,
                                            version=version)

    async def run(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.to_thread(fn)


@pytest.fixture
async def tls(tmp_path: Path) -> AsyncIterator[Tls]:
    cert, key = generate_self_signed(str(tmp_path))
    running = await start_sf_emulator(SfEmulatorSettings(seed="demo"), ssl_context=server_context(cert, key))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_context(cert))) as http:
            async with http.post(running.url + "/services/oauth2/token", data={
                    "grant_type": "password", "client_id": "demo-client", "client_secret": "demo-secret",
                    "username": "integration@example.com", "password": "demo-password"}) as resp:
                token = (await resp.json())["access_token"]
        yield Tls(running, token, cert)
    finally:
        await running.stop()


async def test_simple_salesforce_reads_aggregate_results(tls: Tls) -> None:
    """sf.query with GROUP BY and an alias gets AggregateResult records keyed by field name, alias and expr0."""
    sf = tls.client()

    def work() -> tuple[Any, Any]:
        for name in ("Dup", "Dup", "Solo"):
            sf.Account.create({"Name": name})
        grouped = sf.query("SELECT Name, COUNT(Id) FROM Account GROUP BY Name HAVING COUNT(Id) > 1")
        aliased = sf.query_all("SELECT COUNT(Id) c FROM Account")
        return grouped, aliased

    grouped, aliased = await tls.run(work)
    assert grouped["totalSize"] == 1 and grouped["done"] is True
    assert grouped["records"] == [{"attributes": {"type": "AggregateResult"}, "Name": "Dup", "expr0": 2}]
    assert aliased["records"] == [{"attributes": {"type": "AggregateResult"}, "c": 3}]


async def test_simple_salesforce_sees_malformed_aggregate_queries(tls: Tls) -> None:
    """A non-grouped field raises SalesforceMalformedRequest carrying MALFORMED_QUERY."""
    sf = tls.client()
    with pytest.raises(SalesforceMalformedRequest) as info:
        await tls.run(lambda: sf.query("SELECT Name, Phone, COUNT(Id) FROM Account GROUP BY Name"))
    content: Any = info.value.content
    assert content[0]["errorCode"] == "MALFORMED_QUERY"
    assert content[0]["message"].endswith("Field must be grouped or aggregated: Phone")


async def test_simple_salesforce_runs_a_composite_batch(tls: Tls) -> None:
    """sf.restful('composite/batch') answers {hasErrors, results} with each subrequest's status and result."""
    sf = tls.client()

    def work() -> Any:
        account = sf.Account.create({"Name": "Batch via simple"})["id"]
        return account, sf.restful("composite/batch", method="POST", json={"haltOnError": True, "batchRequests": [
            {"method": "PATCH", "url": f"v62.0/sobjects/Account/{account}", "richInput": {"Phone": "555"}},
            {"method": "GET", "url": f"v62.0/sobjects/Account/{account}?fields=Phone"},
            {"method": "GET", "url": "v62.0/sobjects/Account/001000000000000AAA"},
            {"method": "GET", "url": "v62.0/limits"}]})

    account, result = await tls.run(work)
    assert result["hasErrors"] is True
    assert [r["statusCode"] for r in result["results"]] == [204, 200, 404, 412]
    assert result["results"][1]["result"]["Phone"] == "555" and result["results"][1]["result"]["Id"] == account


async def test_simple_salesforce_creates_an_sobject_tree(tls: Tls) -> None:
    """sf.restful('composite/tree/Account') creates the tree; a bad record raises with the tree error body."""
    sf = tls.client()
    good = {"records": [{"attributes": {"type": "Account", "referenceId": "ref1"}, "Name": "Tree via simple",
                         "Contacts": {"records": [{"attributes": {"type": "Contact", "referenceId": "ref2"},
                                                   "LastName": "Smith"}]}}]}
    bad = {"records": [{"attributes": {"type": "Account", "referenceId": "ref1"}, "Name": "Bad tree",
                        "Contacts": {"records": [{"attributes": {"type": "Contact", "referenceId": "ref2"}}]}}]}
    created = await tls.run(lambda: sf.restful("composite/tree/Account", method="POST", json=good))
    assert created["hasErrors"] is False and [r["referenceId"] for r in created["results"]] == ["ref1", "ref2"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        await tls.run(lambda: sf.restful("composite/tree/Account", method="POST", json=bad))
    content: Any = info.value.content
    assert content["hasErrors"] is True and content["results"][0]["referenceId"] == "ref2"


async def test_simple_salesforce_gets_404_for_graph_below_v50(tls: Tls) -> None:
    """A v49.0 client posting a composite graph gets SalesforceResourceNotFound with the NOT_FOUND body."""
    sf = tls.client(version="49.0")
    with pytest.raises(SalesforceResourceNotFound) as info:
        await tls.run(lambda: sf.restful("composite/graph", method="POST", json={"graphs": []}))
    assert info.value.content == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
    listing = await tls.run(lambda: sf.restful("composite"))
    assert "graph" not in listing and "batch" in listing
