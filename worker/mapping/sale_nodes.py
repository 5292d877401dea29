"""Body builders for the sale graph's nodes (pure helpers of :mod:`worker.mapping.sale`).

Placeholders used where the POS sends nothing but Salesforce requires a value (salesforce-wire.md §5.6):

* ``BillingEmailAddress``/``EmailAddress``/Payment ``Email`` without a customer e-mail:
  ``pos-<storeId>@no-email.invalid`` (the reserved ``.invalid`` TLD can never reach anyone);
* Payment ``Phone`` without a customer phone: ``NO_PHONE``;
* address parts without an address: ``UNKNOWN`` / ``NA`` / the POS region as country;
* CardPaymentMethod: the POS sends only ``cardType`` and ``lastFour``, never a card number or expiry, and the
  worker must never hold a full card number. ``InputCardNumber`` is twelve zeros + the last four (so
  Salesforce's derived last-four and masked display are right) and the expiry is 12/<year of the sale>.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from worker.config import PosConfig
from worker.pos.models import PaymentMethod, PosSale, SaleAddress, SaleLine, Tender

from .money import ZERO, close, money_json, ms_to_sf_date, ms_to_sf_datetime

NO_PHONE = "0000000000"
UNKNOWN = "UNKNOWN"
NO_STATE = "NA"
NO_POSTAL_CODE = "00000"
PLACEHOLDER_PAN_PREFIX = "0" * 12
TRANSACTION_DISCOUNT = "TRANSACTION_DISCOUNT"
CARD_TYPES = {
    "visa": "Visa",
    "mastercard": "MasterCard",
    "master card": "MasterCard",
    "amex": "AmericanExpress",
    "americanexpress": "AmericanExpress",
    "american express": "AmericanExpress",
    "discover": "Discover",
    "jcb": "JCB",
    "dinersclub": "DinersClub",
    "diners club": "DinersClub",
    "maestro": "Maestro",
}


@dataclass(frozen=True)
class Address:
    name: str
    street: str
    city: str
    state: str
    postal_code: str
    country: str


def fallback_email(sale: PosSale) -> str:
    return sale.customer_email or f"pos-{sale.storeId}@no-email.invalid"


def phone(sale: PosSale) -> str:
    return (sale.customerProfile.phoneMobile if sale.customerProfile else None) or NO_PHONE


def customer_name(sale: PosSale) -> str:
    for source in (sale.customerProfile, sale.billingAddress, sale.shippingAddress):
        if source is not None:
            name = " ".join(p for p in (source.firstName, source.lastName) if p and p.strip())
            if name:
                return name
    return "POS Customer"


def to_address(source: SaleAddress | None, sale: PosSale, pos: PosConfig, *, default_street: str) -> Address:
    src = source or SaleAddress()
    name = " ".join(p for p in (src.firstName, src.lastName) if p and p.strip()) or customer_name(sale)
    street = "\n".join(p for p in (src.addressLine1, src.addressLine2) if p and p.strip()) or default_street
    return Address(
        name=name,
        street=street,
        city=src.city or UNKNOWN,
        state=src.state or NO_STATE,
        postal_code=src.postalCode or NO_POSTAL_CODE,
        country=(src.country or pos.region).strip(),
    )


def billing_address(sale: PosSale, pos: PosConfig) -> Address:
    return to_address(sale.billingAddress or sale.shippingAddress, sale, pos, default_street=UNKNOWN)


def order_body(
    sale: PosSale, *, account_id: str, channel_id: str, pricebook_id: str, pos: PosConfig,
    contact_id: str | None = None,
) -> dict[str, Any]:
    bill = billing_address(sale, pos)
    code = bill.country.upper() if len(bill.country) == 2 else pos.region.upper()
    body: dict[str, Any] = {
        "Name": sale.orderId,
        "OrderReferenceNumber": sale.orderId,
        "Status": "Draft",
        "EffectiveDate": ms_to_sf_date(sale.orderDate),
        "OrderedDate": ms_to_sf_datetime(sale.orderDate),
        "AccountId": account_id,
        "SalesChannelId": channel_id,
        "Pricebook2Id": pricebook_id,
        "BillingStreet": bill.street,
        "BillingCity": bill.city,
        "BillingState": bill.state,
        "BillingPostalCode": bill.postal_code,
        "BillingCountry": code,
        "BillingCountryCode": code,
        "BillingEmailAddress": fallback_email(sale),
    }
    if sale.customerProfile and sale.customerProfile.phoneMobile:
        body["BillingPhoneNumber"] = sale.customerProfile.phoneMobile
    if contact_id:  # Customer 360 / BORIS search orders by it
        body["BillToContactId"] = contact_id
    return body


def delivery_group_body(
    sale: PosSale,
    line: SaleLine,
    *,
    order: str,
    method_id: str,
    pos: PosConfig,
) -> dict[str, Any]:
    """ONLINE lines ship to the shipping address; IN_STORE ones are handed over at the store."""
    if line.fulfillmentType.value == "ONLINE":
        to = to_address(sale.shippingAddress, sale, pos, default_street=UNKNOWN)
    else:
        to = to_address(sale.billingAddress, sale, pos, default_street=f"POS store {sale.storeId}")
    body = {
        "OrderId": order,
        "OrderDeliveryMethodId": method_id,
        "DeliverToName": to.name,
        "DeliverToStreet": to.street,
        "DeliverToCity": to.city,
        "DeliverToState": to.state,
        "DeliverToPostalCode": to.postal_code,
        "DeliverToCountry": to.country,
        "EmailAddress": fallback_email(sale),
    }
    if sale.customerProfile and sale.customerProfile.phoneMobile:
        body["PhoneNumber"] = sale.customerProfile.phoneMobile
    return body


def product_body(sku: str, name: str) -> dict[str, Any]:
    return {"Name": name, "ProductCode": sku, "StockKeepingUnit": sku, "Description": name, "IsActive": True}


def pricebook_entry_body(pricebook_id: str, product: str, price: Decimal) -> dict[str, Any]:
    return {
        "Pricebook2Id": pricebook_id,
        "Product2Id": product,
        "UnitPrice": money_json(price),
        "IsActive": True,
    }


def order_item_body(
    *,
    order: str,
    group: str,
    product: str,
    entry: str,
    quantity: Decimal,
    price: Decimal,
    line_amount: Decimal,
    description: str,
    kind: str = "Order Product",
) -> dict[str, Any]:
    qty = int(quantity) if quantity == quantity.to_integral_value() else float(quantity)
    return {
        "OrderId": order,
        "OrderDeliveryGroupId": group,
        "Product2Id": product,
        "PricebookEntryId": entry,
        "Type": kind,
        "Quantity": qty,
        "UnitPrice": money_json(price),
        "ListPrice": money_json(price),
        "GrossUnitPrice": money_json(price),
        "TotalLineAmount": money_json(line_amount),
        "Description": description,
    }


@dataclass(frozen=True)
class Adjustment:
    name: str
    description: str
    amount: Decimal  # positive: the discount
    transaction: bool  # an order-level (transaction) discount distributed to the line


def line_adjustments(line: SaleLine) -> list[Adjustment]:
    """The discounts of a line. Its ``discount`` is the truth: ``priceAdjustments`` are used when they add up
    to it (within a cent), else one "POS discount" adjustment carries the whole discount.
    """
    if line.discount <= ZERO:
        return []
    adjustments = [a for a in line.priceAdjustments if a.price != ZERO]
    if adjustments and close(sum((a.price for a in adjustments), ZERO), line.discount):
        return [
            Adjustment(
                name=(a.id or a.priceAdjustmentType or "POS discount")[:80],
                description=a.description or a.id or "POS discount",
                amount=a.price,
                transaction=a.priceAdjustmentType == TRANSACTION_DISCOUNT,
            )
            for a in adjustments
        ]
    return [Adjustment("POS discount", f"POS discount on line {line.orderItemId}", line.discount, False)]


def tax_rate_percent(line: SaleLine) -> Decimal:
    """Salesforce tax ``Rate`` in percent: the POS ``productTax.rate`` is a fraction (0.0825 -> 8.25)."""
    if line.productTax is not None and line.productTax.rate is not None:
        return (line.productTax.rate * 100).quantize(Decimal("0.0001")).normalize()
    base = line.subTotal - line.discount
    return (line.tax / base * 100).quantize(Decimal("0.0001")).normalize() if base > ZERO else ZERO


def tax_body(line: SaleLine, *, item: str, order_date_ms: int) -> dict[str, Any]:
    return {
        "OrderItemId": item,
        "Name": "POS tax",
        "Description": f"POS tax on line {line.orderItemId}",
        "Type": "Actual",
        "Amount": money_json(line.tax),
        "Rate": float(tax_rate_percent(line)),
        "TaxEffectiveDate": ms_to_sf_date(order_date_ms),
    }


def _with_gateway(body: dict[str, Any], gateway_id: str | None) -> dict[str, Any]:
    if gateway_id is not None:
        body["PaymentGatewayId"] = gateway_id
    return body


def payment_method(
    tender: Tender, sale: PosSale, *, account_id: str, gateway_id: str | None
) -> tuple[str, dict[str, Any]]:
    """(sObject, body) of the payment method record of a tender: CardPaymentMethod for cards, DigitalWallet for
    wallets and cash (the guide: cash is a DigitalWallet, with OMSCashPaymentGatewayName as gateway when set)."""
    if tender.paymentMethod is PaymentMethod.CREDIT_CARD:
        card = (tender.cardType or "").strip()
        return "CardPaymentMethod", _with_gateway({
            "AccountId": account_id,
            "CardCategory": "CreditCard",
            "CardHolderName": customer_name(sale),
            "CardType": CARD_TYPES.get(card.casefold(), card),
            "ExpiryMonth": 12,
            "ExpiryYear": int(ms_to_sf_date(sale.orderDate)[:4]),
            "InputCardNumber": PLACEHOLDER_PAN_PREFIX + str(tender.lastFour),
            "ProcessingMode": "External",
            "Status": "Active",
        }, gateway_id)
    if tender.paymentMethod is PaymentMethod.CASH:
        wallet = "Cash"
    else:
        wallet = tender.walletType.value if tender.walletType else "DigitalWallet"
    body: dict[str, Any] = {
        "AccountId": account_id,
        "NickName": wallet,
        "ProcessingMode": "External",
        "Status": "Active",
    }
    if tender.transactionId:
        body["GatewayToken"] = tender.transactionId
    return "DigitalWallet", _with_gateway(body, gateway_id)


def payment_body(
    tender: Tender, sale: PosSale, *, account_id: str, gateway_id: str | None, group: str, method: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "AccountId": account_id,
        "Amount": money_json(tender.amountAuthorized),
        "Date": ms_to_sf_datetime(sale.orderDate),
        "Email": fallback_email(sale),
        "Phone": phone(sale),
        "PaymentGroupId": group,
        "ProcessingMode": "External",
        "Status": "Processed",
        "Type": "Capture",
    }
    if method is not None:
        body["PaymentMethodId"] = method
    if tender.transactionId:
        body["GatewayRefNumber"] = tender.transactionId
    return _with_gateway(body, gateway_id)
