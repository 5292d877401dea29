"""Sale look-ups: the customer's Person Account comes with its contact; the setup survey lists what a first sale
needs, finds what exists and creates nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from worker.config import Config
from worker.config_load import parse_config
from worker.flows.sale_lookups import AccountRef, SaleLookupCache, SetupRecord

METHODS = ("IN_STORE-DEFAULT", "IN_STORE-PICKUP_LATER", "ONLINE-DEFAULT")


def config() -> Config:
    return parse_config({
        "salesforce": {"UrlBase": "https://acme.my.salesforce.com",
                       "OMSCustomField": [{"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID",
                                           "applyTo": ["LOCATION"]}]},
        "auth": {"flow": "client_credentials", "client_id": "c", "client_secret": "s"},
        "pos": {"merchant_id": "acme", "auth": {"client_id": "c", "client_secret": "s", "pos_secret": "p",
                                                 "api_key": "k"}},
        "worker": {"webhook": {"api_key": "k"}},
    }, {})


class FakeOrg:
    """Answers the look-up SOQL from a few rows per object (name match only); records creates."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.rows, self.queries, self.created = rows, [], []  # type: ignore[var-annotated]

    async def query(self, soql: str) -> list[dict[str, Any]]:
        self.queries.append(soql)
        sobject = re.search(r"FROM (\w+)", soql)
        assert sobject
        rows = self.rows.get(sobject.group(1), [])
        wanted = set(re.findall(r"'([^']*)'", soql))
        if "IsStandard = true" in soql:
            return [r for r in rows if r.get("IsStandard")]
        return [r for r in rows if wanted & {str(v) for v in r.values()}]

    async def create(self, sobject: str, fields: dict[str, Any]) -> str:
        self.created.append((sobject, fields))
        return "new"


@pytest.mark.parametrize(("rows", "email", "expected"), [
    ({"Account": [{"Id": "001P", "PersonEmail": "ann@example.com", "PersonContactId": "003P"}]},
     "Ann@Example.com", AccountRef("001P", "003P")),
    ({"Account": [{"Id": "001P", "PersonEmail": "ann@example.com", "PersonContactId": None}]},
     "ann@example.com", AccountRef("001P", None)),
    ({"Account": [{"Id": "001D", "Name": "acme-en-US-US"}]}, "bo@example.com", AccountRef("001D", None)),
    ({"Account": [{"Id": "001D", "Name": "acme-en-US-US"}]}, None, AccountRef("001D", None)),
])
async def test_account_for_returns_the_person_contact(rows: dict[str, Any], email: str | None,
                                                      expected: AccountRef) -> None:
    """A Person Account found by e-mail brings its PersonContactId; the default account brings no contact."""
    org = FakeOrg(rows)
    cache = SaleLookupCache(org, config())
    assert await cache.account_for(email) == expected
    asked = len(org.queries)
    assert await cache.account_for(email) == expected
    assert len(org.queries) == asked  # cached


async def test_survey_lists_present_and_missing_and_creates_nothing() -> None:
    """Present records carry their Id, missing ones None; gateways and the standard price book are not creatable."""
    org = FakeOrg({"Pricebook2": [{"Id": "01sS", "IsStandard": True, "Name": "Standard Price Book"}],
                   "SalesChannel": [{"Id": "0bIP", "SalesChannelName": "POS"}],
                   "OrderDeliveryMethod": [{"Id": "2Dm1", "Name": "IN_STORE-DEFAULT"}],
                   "PaymentGateway": [{"Id": "0b0C", "PaymentGatewayName": "CashPOS"}]})
    survey = await SaleLookupCache(org, config()).survey(METHODS, ["CashPOS", "Card"])
    assert survey == [
        SetupRecord("Account", "acme-en-US-US", None, True),
        SetupRecord("Pricebook2", "(standard price book)", "01sS", False),
        SetupRecord("Pricebook2", "acme-en-US-US", None, True),
        SetupRecord("SalesChannel", "POS", "0bIP", True),
        SetupRecord("OrderDeliveryMethod", "IN_STORE-DEFAULT", "2Dm1", True),
        SetupRecord("OrderDeliveryMethod", "IN_STORE-PICKUP_LATER", None, True),
        SetupRecord("OrderDeliveryMethod", "ONLINE-DEFAULT", None, True),
        SetupRecord("PaymentGateway", "CashPOS", "0b0C", False),
        SetupRecord("PaymentGateway", "Card", None, False),
    ]
    assert org.created == []
