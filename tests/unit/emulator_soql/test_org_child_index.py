"""Subqueries against the emulator's Org use its child index instead of scanning the child object."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.salesforce.app import SfEmulator, SfEmulatorSettings
from emulator.salesforce.scenario import create_orders
from emulator.salesforce.soql import run_query


def test_fulfillment_order_subquery_reads_children_through_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """SELECT ... (SELECT ... FROM FulfillmentOrderLineItems) never scans FulfillmentOrderLineItem."""
    org = SfEmulator(SfEmulatorSettings(seed="demo")).org
    created = create_orders(org, {"count": 3, "kind": "BOPIS", "store": "256"})
    real = org.records

    def records(sobject: str) -> Any:
        assert sobject.lower() != "fulfillmentorderlineitem", "child object scanned"
        return real(sobject)

    monkeypatch.setattr(org, "records", records)
    ids = ", ".join(f"'{o['fulfillment_order_id'][:15]}'" for o in created)
    result = run_query(f"SELECT Id, (SELECT Id, Quantity FROM FulfillmentOrderLineItems) FROM FulfillmentOrder "
                       f"WHERE Id IN ({ids})", org, api_version="62.0")
    assert len(result.rows) == 3
    for row in result.rows:
        lines = row["FulfillmentOrderLineItems"]["records"]
        assert lines and all(line["attributes"]["type"] == "FulfillmentOrderLineItem" for line in lines)
