"""Pre-flight rules (check-config --live, start-up, setup): each failure names the configuration key it concerns."""

from __future__ import annotations

from typing import Any

import pytest

from worker.config import Config
from worker.config_load import parse_config
from worker.flows.sale_lookups import SetupRecord
from worker.live_check import custom_field_problems, person_account_problem, status_problems
from worker.setup_check import problems


def config(**salesforce: Any) -> Config:
    return parse_config({
        "salesforce": {"UrlBase": "https://acme.my.salesforce.com",
                       "OMSCustomField": [{"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID",
                                           "applyTo": ["LOCATION"]}], **salesforce},
        "auth": {"flow": "client_credentials", "client_id": "c", "client_secret": "s"},
        "pos": {"merchant_id": "acme", "auth": {"client_id": "c", "client_secret": "s", "pos_secret": "p",
                                                 "api_key": "k"}},
        "worker": {"webhook": {"api_key": "k"}},
    }, {})


@pytest.mark.parametrize(("fields", "expected"), [
    ({"Location": {"Id", "WarehouseID__c"}}, []),  # API names match case-insensitively
    ({"Location": {"Id", "Name"}}, ["salesforce.OMSCustomField.0.omsFieldName: Location has no field warehouseID__c"]),
    ({}, ["salesforce.OMSCustomField.0.omsFieldName: Location has no field warehouseID__c"]),
])
def test_custom_field_must_exist_on_its_object(fields: dict[str, set[str]], expected: list[str]) -> None:
    """The OMSCustomField field is looked for on the object applyTo names."""
    found = custom_field_problems(config().salesforce, fields)
    assert [p.split(" (")[0] for p in found] == expected


@pytest.mark.parametrize(("fields", "missing"), [
    ({"Id", "Name", "IsPersonAccount", "PersonEmail"}, None),
    ({"Id", "Name"}, "IsPersonAccount, PersonEmail"),
    ({"Id", "IsPersonAccount"}, "PersonEmail"),
])
def test_person_accounts_must_be_on(fields: set[str], missing: str | None) -> None:
    """Account without IsPersonAccount / PersonEmail: Person Accounts are off, named against salesforce.UrlBase."""
    problem = person_account_problem(fields)
    if missing is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith("salesforce.UrlBase: Person Accounts are off")
        assert f"Account has no {missing})" in problem


@pytest.mark.parametrize(("settings", "picklist", "expected"), [
    ({}, {"Allocated", "Cancelled", "Pickpack", "Fulfilled"}, []),
    ({"OMSStatusesToProcess": ["invoice paid"]}, {"Invoice Paid", "Cancelled", "Pickpack", "Fulfilled"}, []),
    ({"OMSStatusesToProcess": ["Canceled"]}, {"Cancelled", "Pickpack", "Fulfilled"}, []),  # either spelling
    ({"OMSStatusesToProcess": ["Invoice Paid"], "OMSStatusCanceledValue": "Processing Cancel"},
     {"Allocated", "Cancelled", "Fulfilled"},
     ['salesforce.OMSStatusesToProcess: "Invoice Paid" is not a FulfillmentOrder Status value',
      'salesforce.OMSStatusCanceledValue: "Processing Cancel" is not a FulfillmentOrder Status value',
      'worker.status_mapping.PACK: "Pickpack" is not a FulfillmentOrder Status value']),
])
def test_configured_statuses_must_be_picklist_values(settings: dict[str, Any], picklist: set[str],
                                                     expected: list[str]) -> None:
    """Each configured status is checked against the Status picklist, and a missing one names its key."""
    assert status_problems(config(**settings), picklist) == expected


def test_setup_problems_name_the_key() -> None:
    """Missing creatable records are fine unless the user may not create them; a missing gateway names its key."""
    records = [SetupRecord("Pricebook2", "acme-en-US-US", None, True),
               SetupRecord("SalesChannel", "POS", "0bI1", True),
               SetupRecord("OrderDeliveryMethod", "IN_STORE-DEFAULT", None, True),
               SetupRecord("PaymentGateway", "CashPOS", None, False),
               SetupRecord("PaymentGateway", "Card", "0b01", False)]
    cfg = config(OMSCashPaymentGatewayName="CashPOS", card_payment_gateway_name="Card")
    found = problems(records, cfg, {"Pricebook2": True, "OrderDeliveryMethod": False})
    assert [p.split(":")[0] for p in found] == ["salesforce.Username", "salesforce.OMSCashPaymentGatewayName"]
    assert 'OrderDeliveryMethod "IN_STORE-DEFAULT"' in found[0] and '"CashPOS" does not exist' in found[1]
