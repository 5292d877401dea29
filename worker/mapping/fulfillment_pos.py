"""The POS side of an FO import that the public record does not pin down: fulfillment type and tenders (pure).

What is UNCONFIRMED about the POS contract (reference ``pos-api.md`` §3.1, §8.3; this is the one place that says
so, and everything here is swappable by config or by these constants):

* **BOPIS omniFulfillmentType.** Confirmed POS values are ``SHIP_TO_HOME_CURRENT_STORE`` (ship from this store,
  BOFIS), ``SHIP_TO_HOME`` and ``IN_STORE``; the BOPIS spelling is not public. The default rules
  (``salesforce.fulfillment_rules``, FulfillmentOrder Type ``In Store Pickup`` -> ``PICKUP_IN_STORE``,
  ``Retail Store`` -> ``SHIP_TO_HOME_CURRENT_STORE``) use ``PICKUP_IN_STORE``; a merchant whose POS spells it
  otherwise changes ``pos_type`` in config. The POS emulator accepts PICKUP_IN_STORE, BOPIS and STORE_PICKUP.
* **Tenders.** The guide maps "Invoice and Payment Line Invoice -> Order Payment Details"; the POS import's tender
  shape is the §8.3 proposal ``{paymentMethod, amountAuthorized, paymentStatus, transactionId}``. Tenders are read
  from the order's PaymentGroups (``SourceObjectId`` = the FO's original Order), which every OMS org has, rather
  than Invoice / PaymentLineInvoice (not every FO is invoiced when it is imported, and the local emulator has no
  Invoice object). Hence: the tenders are the whole order's payments, not an allocation to this FO's invoice.
  Values used: ``paymentMethod`` from the payment method's object (:data:`METHOD_BY_OBJECT`, observed POS values
  ``CreditCard``, ``DigitalWallet``, ``Miscellaneous``); ``paymentStatus`` ``APPROVED`` for a Processed Payment
  (the value POS sale tenders carry) and ``AUTHORIZED`` for the uncaptured rest of a Processed
  PaymentAuthorization (§8.3); ``transactionId`` the Salesforce record Id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from worker.config import FulfillmentRules
from worker.pos.import_payload import PosOrderTender

from .errors import MappingError
from .fulfillment_query import AUTHORIZATIONS_RELATIONSHIP, PAYMENTS_RELATIONSHIP
from .money import ZERO, cents

METHOD_BY_OBJECT = {"CardPaymentMethod": "CreditCard", "DigitalWallet": "DigitalWallet"}
OTHER_METHOD = "Miscellaneous"  # AlternativePaymentMethod and anything unrecognised
CAPTURED_STATUS = "APPROVED"
AUTHORIZED_STATUS = "AUTHORIZED"
PROCESSED = "processed"


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _fold(value: object) -> str:
    return _text(value).casefold()


def pos_fulfillment_type(record: Mapping[str, Any], rules: FulfillmentRules) -> str:
    """The POS omniFulfillmentType of one FulfillmentOrder record: the first matching rule, else ``default_type``."""
    fo_type = _text(record.get("Type")) or None
    method_parent = record.get("DeliveryMethod")
    method = _text(method_parent.get("Name")) if isinstance(method_parent, Mapping) else ""
    for rule in rules.types:
        if rule.fo_type and _fold(rule.fo_type) != _fold(fo_type):
            continue
        if rule.delivery_method and _fold(rule.delivery_method) != _fold(method):
            continue
        return rule.pos_type
    if rules.default_type:
        return rules.default_type
    raise MappingError(
        f"FulfillmentOrder {_text(record.get('Id'))}: no salesforce.fulfillment_rules.types entry matches Type "
        f"{fo_type!r} / DeliveryMethod {method or None!r} (add a rule or set default_type, then dlq retry)",
        fields=["Type", "DeliveryMethod.Name"],
    )


def _children(record: Mapping[str, Any], relationship: str) -> list[Mapping[str, Any]]:
    envelope = record.get(relationship)
    if not isinstance(envelope, Mapping) or not isinstance(envelope.get("records"), list):
        return []
    return [row for row in envelope["records"] if isinstance(row, Mapping)]


def _method(row: Mapping[str, Any]) -> str:
    """POS paymentMethod from the polymorphic ``PaymentMethod`` parent: its type, or (when a real org answers with
    the ``Name`` object) the sObject in its record URL."""
    parent = row.get("PaymentMethod")
    attributes = parent.get("attributes") if isinstance(parent, Mapping) else None
    if not isinstance(attributes, Mapping):
        return OTHER_METHOD
    kind = _text(attributes.get("type"))
    if kind not in METHOD_BY_OBJECT:
        parts = _text(attributes.get("url")).split("/sobjects/", 1)
        kind = parts[1].split("/", 1)[0] if len(parts) == 2 else kind
    return METHOD_BY_OBJECT.get(kind, OTHER_METHOD)


def _amount(row: Mapping[str, Any], where: str) -> Decimal:
    try:
        return cents(row.get("Amount") or 0)
    except ValueError as exc:
        raise MappingError(f"{where}.Amount: {exc}", fields=["Amount"]) from None


def tenders(payment_groups: Sequence[Mapping[str, Any]]) -> list[PosOrderTender]:
    """POS tenders of an order from its PaymentGroup records (with Payments and PaymentAuthorizations children).

    Each Processed Payment is one APPROVED tender; each Processed PaymentAuthorization adds an AUTHORIZED tender
    for what its Processed Payments have not captured yet (nothing when fully captured). Draft, Canceled, Pending
    and Failed records are left out.
    """
    out: list[PosOrderTender] = []
    captured: dict[str, Decimal] = {}
    authorizations: list[Mapping[str, Any]] = []
    for group in payment_groups:
        for row in _children(group, PAYMENTS_RELATIONSHIP):
            if _fold(row.get("Status")) != PROCESSED:
                continue
            amount = _amount(row, f"Payment {_text(row.get('Id'))}")
            auth_id = _text(row.get("PaymentAuthorizationId"))
            if auth_id:
                captured[auth_id] = captured.get(auth_id, ZERO) + amount
            out.append(PosOrderTender(paymentMethod=_method(row), amountAuthorized=amount,
                                      paymentStatus=CAPTURED_STATUS, transactionId=_text(row.get("Id")) or None))
        authorizations += [
            row for row in _children(group, AUTHORIZATIONS_RELATIONSHIP) if _fold(row.get("Status")) == PROCESSED
        ]
    for row in authorizations:
        auth_id = _text(row.get("Id"))
        rest = _amount(row, f"PaymentAuthorization {auth_id}") - captured.get(auth_id, ZERO)
        if rest > 0:
            out.append(PosOrderTender(paymentMethod=_method(row), amountAuthorized=rest,
                                      paymentStatus=AUTHORIZED_STATUS, transactionId=auth_id or None))
    return out
