"""FO -> POS fulfillment type from explicit rules, and the OrderSummary's payments -> POS tenders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from worker.config import FulfillmentRules
from worker.mapping.errors import MappingError
from worker.mapping.fulfillment_pos import pos_fulfillment_type, tenders

BOPIS, BOFIS = "PICKUP_IN_STORE", "SHIP_TO_HOME_CURRENT_STORE"


def fo(fo_type: str | None, method: str | None) -> dict[str, Any]:
    return {"Id": "0a3xx0000000001AAA", "Type": fo_type,
            "DeliveryMethod": None if method is None else {"Name": method}}


@pytest.mark.parametrize(
    ("fo_type", "method", "expected"),
    [
        ("In Store Pickup", "Store Pickup CAD", BOPIS),
        ("In Store Pickup", None, BOPIS),
        ("in store pickup ", "Standard Ground", BOPIS),  # case and surrounding spaces do not matter
        ("Retail Store", "Store Pickup CAD", BOFIS),  # the FO Type decides, not words in the method name
        ("Retail Store", "BOPIS", BOFIS),
        ("Retail Store", None, BOFIS),
    ],
)
def test_default_rules(fo_type: str | None, method: str | None, expected: str) -> None:
    """The documented defaults: FO Type In Store Pickup -> BOPIS value, Retail Store -> BOFIS value."""
    assert pos_fulfillment_type(fo(fo_type, method), FulfillmentRules()) == expected


@pytest.mark.parametrize(("fo_type", "method"), [("Warehouse", "Standard Ground"), (None, "Store Pickup CAD"),
                                                 ("Download", None)])
def test_no_matching_rule_is_a_mapping_error(fo_type: str | None, method: str | None) -> None:
    """An FO no rule matches is not guessed: a MappingError names the Type, the method and the config key."""
    with pytest.raises(MappingError, match=r"no salesforce\.fulfillment_rules\.types entry matches") as caught:
        pos_fulfillment_type(fo(fo_type, method), FulfillmentRules())
    assert repr(fo_type) in str(caught.value) and repr(method) in str(caught.value)


CUSTOM = FulfillmentRules.model_validate({
    "types": [
        {"delivery_method": "Store Pickup CAD", "fo_type": "Retail Store", "pos_type": "STORE_PICKUP"},
        {"delivery_method": "Store Pickup CAD", "pos_type": BOPIS},
        {"fo_type": "Retail Store", "pos_type": BOFIS},
    ],
    "default_type": "SHIP_TO_HOME",
})


@pytest.mark.parametrize(
    ("fo_type", "method", "expected"),
    [
        ("Retail Store", "Store Pickup CAD", "STORE_PICKUP"),  # both conditions of the first rule
        (None, "STORE PICKUP CAD", BOPIS),  # method only
        ("In Store Pickup", "Store Pickup CAD", BOPIS),
        ("Retail Store", "Ship", BOFIS),
        ("Warehouse", "Standard Ground", "SHIP_TO_HOME"),  # nothing matches: default_type
    ],
)
def test_custom_rules_first_match_wins(fo_type: str | None, method: str | None, expected: str) -> None:
    """Rules are tried in order; a rule with both keys needs both; default_type catches the rest."""
    assert pos_fulfillment_type(fo(fo_type, method), CUSTOM) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"types": [{"pos_type": BOPIS}]}, "types.0: name fo_type, delivery_method or both"),
        ({"types": [{"fo_type": " ", "pos_type": BOPIS}]}, "types.0: name fo_type, delivery_method or both"),
        ({"types": [{"fo_type": "Retail Store", "pos_type": "pickup in store"}]}, "expected a POS value such as"),
        ({"default_type": "bofis"}, "expected a POS value such as"),
        ({"types": [{"fo_type": "X", "pos_type": BOPIS, "kind": "x"}]}, "Extra inputs are not permitted"),
        ({"types": []}, "types: no rule and no default_type"),
    ],
)
def test_rule_config_errors(raw: dict[str, Any], message: str) -> None:
    """A rule without a condition, a malformed POS value, an unknown key or no rule at all is refused at load."""
    with pytest.raises(ValidationError) as caught:
        FulfillmentRules.model_validate(raw)
    lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in caught.value.errors()]
    assert any(message in line for line in lines), lines


def _attrs(kind: str, record_id: str) -> dict[str, str]:
    return {"type": kind, "url": f"/services/data/v62.0/sobjects/{kind}/{record_id}"}


def method(kind: str, record_id: str, *, name_object: bool = False) -> dict[str, Any]:
    """A polymorphic PaymentMethod parent; a real org may answer with the Name object (type "Name")."""
    attrs = _attrs(kind, record_id)
    if name_object:
        attrs["type"] = "Name"
    return {"attributes": attrs, "Id": record_id}


def auth(record_id: str, amount: float, kind: str = "CardPaymentMethod", status: str = "Processed",
         **extra: Any) -> dict[str, Any]:
    return {"attributes": _attrs("PaymentAuthorization", record_id), "Id": record_id, "Amount": amount,
            "Status": status, "PaymentMethodId": "m-" + record_id, "PaymentMethod": method(kind, "m-" + record_id),
            **extra}


def payment(record_id: str, amount: float, kind: str = "CardPaymentMethod", status: str = "Processed",
            auth_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"attributes": _attrs("Payment", record_id), "Id": record_id, "Amount": amount, "Status": status,
            "Type": "Capture", "PaymentAuthorizationId": auth_id, "PaymentMethodId": "m-" + record_id,
            "PaymentMethod": method(kind, "m-" + record_id), **extra}


def group(payments: list[dict[str, Any]], auths: list[dict[str, Any]]) -> dict[str, Any]:
    def envelope(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        return {"totalSize": len(rows), "done": True, "records": rows} if rows else None

    return {"attributes": _attrs("PaymentGroup", "0aFxx1"), "Id": "0aFxx1", "SourceObjectId": "801xx1",
            "Payments": envelope(payments), "PaymentAuthorizations": envelope(auths)}


def rows(groups: list[dict[str, Any]]) -> list[tuple[str, Decimal, str, str | None]]:
    return [(t.paymentMethod, t.amountAuthorized, t.paymentStatus, t.transactionId) for t in tenders(groups)]


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([], []),
        ([group([], [])], []),
        ([group([], [auth("A1", 92.96)])], [("CreditCard", Decimal("92.96"), "AUTHORIZED", "A1")]),
        ([group([payment("P1", 50.0, auth_id="A1")], [auth("A1", 92.96)])],  # partly captured
         [("CreditCard", Decimal("50.00"), "APPROVED", "P1"), ("CreditCard", Decimal("42.96"), "AUTHORIZED", "A1")]),
        ([group([payment("P1", 92.96, auth_id="A1")], [auth("A1", 92.96)])],  # fully captured: no double count
         [("CreditCard", Decimal("92.96"), "APPROVED", "P1")]),
        ([group([payment("P1", 20.0, kind="DigitalWallet"), payment("P2", 5.0, kind="AlternativePaymentMethod")],
                [])],
         [("DigitalWallet", Decimal("20.00"), "APPROVED", "P1"), ("Miscellaneous", Decimal("5.00"), "APPROVED", "P2")]),
        ([group([payment("P1", 10.0, status="Draft"), payment("P2", 10.0, status="Canceled")],
                [auth("A1", 10.0, status="Failed"), auth("A2", 10.0, status="Pending")])], []),
        ([group([payment("P1", 30.0, kind="DigitalWallet")], []), group([], [auth("A9", 12.5)])],  # two groups
         [("DigitalWallet", Decimal("30.00"), "APPROVED", "P1"), ("CreditCard", Decimal("12.50"), "AUTHORIZED", "A9")]),
    ],
)
def test_tenders_from_payments_and_authorizations(groups: list[dict[str, Any]], expected: list[Any]) -> None:
    """Processed payments are APPROVED tenders; the uncaptured rest of a processed authorization is AUTHORIZED."""
    assert rows(groups) == expected


def test_method_kind_from_name_object_url() -> None:
    """A PaymentMethod answered as the polymorphic Name object is typed from its record URL."""
    wallet = payment("P1", 9.99)
    wallet["PaymentMethod"] = method("DigitalWallet", "m-P1", name_object=True)
    assert rows([group([wallet], [])]) == [("DigitalWallet", Decimal("9.99"), "APPROVED", "P1")]
    wallet["PaymentMethod"] = None
    assert rows([group([wallet], [])]) == [("Miscellaneous", Decimal("9.99"), "APPROVED", "P1")]
