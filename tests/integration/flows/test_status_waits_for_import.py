"""A status event whose FO import is held by a killed importer waits out that importer's lease (not dead letter)."""

from __future__ import annotations

import asyncio
from typing import Any

from worker.config_load import parse_config
from worker.flows.runner import Pause, QueueRunner
from worker.flows.status_sync import StatusSync
from worker.metrics import Metrics
from worker.retry import RetryPolicy
from worker.store import LedgerEntry, NewJob, Store

FO = "0a3FO0000000001AAA"
LEASE = 2.0


def config() -> Any:
    return parse_config({
        "salesforce": {"UrlBase": "https://acme.my.salesforce.com", "Username": "u@example.com", "Password": "p",
                       "OMSStatusesToProcess": ["Allocated"], "OMSStatusCanceledValue": "Cancelled",
                       "OMSCustomField": [{"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID",
                                           "applyTo": "LOCATION"}]},
        "auth": {"flow": "password", "client_id": "c", "client_secret": "s"},
        "pos": {"environment": "Test", "base_url": "https://pos.example.com", "token_url": "https://pos.example.com/oauth2/token",
                "merchant_id": "m",
                "auth": {"mode": "legacy", "client_id": "c", "client_secret": "s", "pos_secret": "p", "api_key": "k"}},
        "worker": {"store_url": "sqlite:///unused.db", "lease_seconds": LEASE,
                   "webhook": {"auth_header": "Authorization", "api_key": "k" * 32}},
    }, {})


class Org:
    """The FO in Salesforce (Allocated, one line) and the PATCHes the flow sends."""

    def __init__(self) -> None:
        self.patched: list[tuple[str, dict[str, Any]]] = []

    async def query(self, soql: str) -> list[dict[str, Any]]:
        return [{"Id": FO, "Status": "Allocated", "FulfillmentOrderLineItems": {"records": [
            {"Id": "0a4L1", "Quantity": 1, "Type": "Order Product"}]}}]

    async def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        self.patched.append((record_id, fields))

    async def collections_update(self, records: list[dict[str, Any]], all_or_none: bool = False) -> list[Any]:
        raise AssertionError("one event: a single PATCH")

    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("no cancel-item here")


async def test_a_pack_event_outlives_the_killed_importers_lease_and_then_applies(store: Store) -> None:
    """PACK arrives while the FO's import (POS done, ledger not) sits with a killed importer for one lease: with the
    e2e retry budget (8 attempts, 0.05-0.5 s, no jitter: 2.25 s in all) the event still waits until the re-run
    records the import, then patches the FO once; nothing is dead-lettered (the chaos flake)."""
    org = Org()
    event = {"eventType": "PACK", "orderType": "BOPIS", "orderId": "POS-1", "externalOrderId": FO, "storeId": "256",
             "eventDate": 1_700_000_000_000}
    await store.enqueue([NewJob("status", "e1", {"endpoint": "STORE_FULFILLMENT", "event": event},
                                ordering_key=FO)])
    runner = QueueRunner(store, StatusSync(store, org, config(), Metrics()), worker_id="b",
                         retry=RetryPolicy(attempts=8, base_delay=0.05, max_delay=0.5, jitter=0.0), metrics=Metrics(),
                         pause=Pause(), batch_size=5, concurrency=1, lease_seconds=LEASE, poll_seconds=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.sleep(LEASE + 2.0)  # the dead lease runs out, then the re-run waits its turn in the backlog
        await store.ledger_put(LedgerEntry(fo_id=FO, pos_order_id="POS-1", line_ids={"0a4L1": "POI-1"}))
        async with asyncio.timeout(4 * LEASE):
            while (counts := (await store.queue_counts())["status"])["done"] + counts["dead"] == 0:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert counts["dead"] == 0, (await store.dead_letters("status"))[0].last_error
    assert org.patched == [(FO, {"Status": "Pickpack"})]
