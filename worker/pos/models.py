"""POS payload models the POS sends (pos-api.md §3 data model, §8.4 events); the import payload the worker sends
(§8.3) is :mod:`worker.pos.import_payload`.

Inbound models (``PosSale``, ``StoreFulfillmentEvent``) ignore unknown keys (the POS adds fields over time)
but validate required fields and enums, with errors naming the field, e.g.
``orderProductList.0.fulfillmentType: unknown value "FOO" (expected IN_STORE, ONLINE)``, and refuse values
Salesforce would refuse (amount, quantity and date bounds, id and e-mail syntax, field lengths; see
:mod:`worker.pos.fields`). Amounts are exact ``Decimal`` cents inside and JSON numbers outside (see
:mod:`worker.mapping.money`). Field names are the POS's own camelCase names, so ``model_dump(by_alias=True)``
emits exactly the reference's names.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from worker.mapping.money import ZERO, cents, close, money_json, qty_json, to_decimal
from worker.pos import fields as f
from worker.pos.fields import Email, EpochMs, Id, InMoney, InQty, OptId, Text80, Text255, text_of

Money = Annotated[
    Decimal, BeforeValidator(cents), PlainSerializer(money_json, return_type=float, when_used="json")
]
Qty = Annotated[
    Decimal, BeforeValidator(to_decimal), PlainSerializer(qty_json, when_used="json"), Field(gt=0)
]


def _enum(
    cls: type[StrEnum], aliases: dict[str, str] | None = None, *, optional: bool = False
) -> BeforeValidator:
    """Enum check with a clear message: ``unknown value "FOO" (expected A, B)``."""
    names = ", ".join(m.value for m in cls)

    def check(value: object) -> object:
        if value is None and optional:
            return None
        value = (aliases or {}).get(value, value) if isinstance(value, str) else value
        if isinstance(value, cls):
            return value
        if not isinstance(value, str) or value not in cls._value2member_map_:
            shown = f'"{value}"' if isinstance(value, str) else repr(value)
            raise ValueError(f"unknown value {shown} (expected {names})")
        return cls(value)

    return BeforeValidator(check)


def _sha(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class PosIn(BaseModel):
    """Inbound POS payload: unknown keys ignored, numbers coerced to strings for id fields."""

    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, coerce_numbers_to_str=True, hide_input_in_errors=True
    )


class FulfillmentType(StrEnum):
    IN_STORE = "IN_STORE"
    ONLINE = "ONLINE"


class FulfillmentSubType(StrEnum):
    DEFAULT = "DEFAULT"
    PICKUP_LATER = "PICKUP_LATER"


class PaymentMethod(StrEnum):
    CREDIT_CARD = "CreditCard"
    DIGITAL_WALLET = "DigitalWallet"
    CASH = "Cash"


class WalletType(StrEnum):
    APPLE_PAY = "ApplePay"
    GOOGLE_PAY = "GooglePay"


class EventType(StrEnum):
    PACK = "PACK"
    DELIVERED = "DELIVERED"
    SHIPPED = "SHIPPED"
    CANCELED = "CANCELED"


class OrderType(StrEnum):
    BOPIS = "BOPIS"
    BOFIS = "BOFIS"


# ------------------------------------------------------------- POS -> worker: store-fulfilment event (§8.4)


class EventItem(PosIn):
    orderItemId: Id
    quantity: InQty
    reason: Text255 = None
    trackingNumber: Text255 = None
    carrier: Text255 = None


class StoreFulfillmentEvent(PosIn):
    """A store-fulfilment webhook body; ``CANCELLED`` is accepted and normalised to ``CANCELED``.

    An empty ``items`` list means the event is about the whole order (every remaining line).
    """

    eventType: Annotated[EventType, _enum(EventType, {"CANCELLED": "CANCELED"})]
    orderType: Annotated[OrderType, _enum(OrderType)]
    orderId: Id
    externalOrderId: Annotated[str, Field(min_length=1), AfterValidator(f.salesforce_id)]  # the FO Id
    storeId: Annotated[str, text_of(80)]  # not sent to Salesforce: any short text
    eventDate: EpochMs
    storeAssociateId: Text255 = None
    items: list[EventItem] = Field(default_factory=list)

    def dedupe_key(self, endpoint_name: str) -> str:
        """sha256(endpointName | orderId | eventType | sorted(orderItemId:quantity) | eventDate), §8.4.

        There is no vendor event id and reposts arrive as exact duplicates; quantities are normalised
        (1 == 1.0) and the event type is the normalised spelling, so a repost always hashes the same.
        """
        items = ",".join(sorted(f"{i.orderItemId}:{i.quantity.normalize():f}" for i in self.items))
        return _sha(endpoint_name, self.orderId, self.eventType.value, items, str(self.eventDate))


# ---------------------------------------------------------------- POS -> worker: order export (CustomerOrder)


class SaleAddress(PosIn):
    """Lengths of the Salesforce address fields the parts land in (street 255, city 40, ...)."""

    firstName: Text80 = None
    lastName: Text80 = None
    addressLine1: Text255 = None
    addressLine2: Text255 = None
    city: Annotated[str | None, text_of(40)] = None
    state: Text80 = None
    postalCode: Annotated[str | None, text_of(20)] = None
    country: Text80 = None

    @model_validator(mode="after")
    def _street(self) -> SaleAddress:
        if len(self.addressLine1 or "") + len(self.addressLine2 or "") > 254:
            raise ValueError("addressLine2: addressLine1 and addressLine2 together exceed the 255-character street")
        return self


class SaleCustomer(PosIn):
    customerId: Text255 = None
    email: Email = None
    firstName: Text80 = None
    lastName: Text80 = None
    phoneMobile: Annotated[str | None, text_of(40)] = None


class PriceAdjustment(PosIn):
    id: Text255 = None
    price: InMoney
    description: Text255 = None
    priceAdjustmentType: Text80 = None


class ProductTax(PosIn):
    rate: Annotated[Decimal, BeforeValidator(f.tax_rate), PlainSerializer(float, when_used="json")] | None = None
    amount: InMoney | None = None


class BaseLine(PosIn):
    orderItemId: Id
    externalId: Text255 = None
    productId: Id
    gtin: Text80 = None
    name: Text255 = None
    quantity: InQty
    price: InMoney
    subTotal: InMoney
    discount: InMoney = ZERO
    tax: InMoney = ZERO
    total: InMoney
    omniFulfillmentType: Text80 = None
    priceAdjustments: list[PriceAdjustment] = Field(default_factory=list)
    productTax: ProductTax | None = None

    @model_validator(mode="after")
    def _total(self) -> BaseLine:
        expected = self.subTotal - self.discount + self.tax
        if not close(self.total, expected):
            raise ValueError(f"total: {self.total} is not subTotal - discount + tax = {expected}")
        return self


SUBTYPE_ALIASES = AliasChoices("fulfillmentSubType", "fulfillmentsubtype")  # §3.4: the doc table spells it so


class SaleLine(BaseLine):
    """A sold line (``orderProductList``)."""

    fulfillmentType: Annotated[FulfillmentType, _enum(FulfillmentType)]
    fulfillmentSubType: Annotated[FulfillmentSubType, _enum(FulfillmentSubType)] = Field(
        default=FulfillmentSubType.DEFAULT, validation_alias=SUBTYPE_ALIASES
    )

    @property
    def delivery_key(self) -> str:
        """``<fulfillmentType>-<fulfillmentSubType>``: the OrderDeliveryMethod name (seed rule)."""
        return f"{self.fulfillmentType.value}-{self.fulfillmentSubType.value}"


class ReturnLine(BaseLine):
    """A returned line (``returnProductList``): positive quantities and amounts."""

    fulfillmentType: Annotated[FulfillmentType | None, _enum(FulfillmentType, optional=True)] = None
    fulfillmentSubType: Annotated[FulfillmentSubType | None, _enum(FulfillmentSubType, optional=True)] = (
        Field(default=None, validation_alias=SUBTYPE_ALIASES)
    )
    originalOrderId: OptId = None
    originalOrderItemId: OptId = None
    returnReason: Text255 = None


class Tender(PosIn):
    paymentId: Text255 = None
    transactionId: Text255 = None
    paymentMethod: Annotated[PaymentMethod, _enum(PaymentMethod)]
    cardType: Text80 = None
    lastFour: str | None = None
    walletType: Annotated[WalletType | None, _enum(WalletType, optional=True)] = None
    amountAuthorized: InMoney
    paymentStatus: Text80 = None

    @model_validator(mode="after")
    def _method_fields(self) -> Tender:
        if self.paymentMethod is PaymentMethod.CREDIT_CARD:
            if not self.cardType:
                raise ValueError("cardType: required when paymentMethod is CreditCard")
            if not (self.lastFour and len(self.lastFour) == 4 and self.lastFour.isdigit()):
                raise ValueError("lastFour: expected the last four digits of the card")
        if self.paymentMethod is PaymentMethod.DIGITAL_WALLET and self.walletType is None:
            raise ValueError("walletType: required when paymentMethod is DigitalWallet")
        return self


class PosSale(PosIn):
    """The order-export webhook body (POS CustomerOrder): sale, return or exchange."""

    orderId: Id
    displayOrderId: Text255 = None
    orderSource: Text80 = None
    orderStatus: Annotated[str, Field(min_length=1), text_of(80)]
    orderDate: EpochMs
    currency: Annotated[str, AfterValidator(f.currency)]
    storeId: Annotated[str, Field(min_length=1), AfterValidator(f.store_id)]  # in pos-<storeId>@no-email.invalid
    email: Email = None
    customerProfile: SaleCustomer | None = None
    billingAddress: SaleAddress | None = None
    shippingAddress: SaleAddress | None = None
    orderProductList: list[SaleLine] = Field(default_factory=list)
    returnProductList: list[ReturnLine] = Field(default_factory=list)
    tenders: list[Tender] = Field(default_factory=list)
    orderSubTotal: InMoney
    discount: InMoney = ZERO
    taxSubTotal: InMoney = ZERO
    shippingCharge: InMoney = ZERO
    totalAmount: InMoney
    transactionDiscountAmount: InMoney = ZERO

    @model_validator(mode="after")
    def _tenders_cover_total(self) -> PosSale:
        paid = sum((t.amountAuthorized for t in self.tenders), ZERO)
        if not close(paid, self.totalAmount):
            raise ValueError(
                f"tenders: amountAuthorized adds up to {paid}, not totalAmount {self.totalAmount}"
            )
        return self

    def posting_problem(self) -> str | None:
        """Why the sale graph could not be built from this sale (checked at the edge for ORDER exports), else None.

        A line shipped to the customer (ONLINE) needs the shipping address for its OrderDeliveryGroup.
        """
        if self.shippingAddress is None and any(
            line.fulfillmentType is FulfillmentType.ONLINE for line in self.orderProductList
        ):
            return "shippingAddress: required when a line's fulfillmentType is ONLINE"
        return None

    def dedupe_key(self, endpoint_name: str) -> str:
        """sha256(endpoint | orderId | orderStatus | totalAmount | number of lines).

        Reposts of a failed export are exact duplicates and must collapse to one job; an ORDER_UPDATE of the
        same order (another endpoint, usually another status, total or line count) must NOT be dropped as a
        duplicate of the ORDER export, so the key includes the endpoint and the fields an update changes. Not
        the whole body: the POS may add or reorder fields in a repost.
        """
        lines = len(self.orderProductList) + len(self.returnProductList)
        return _sha(endpoint_name, self.orderId, self.orderStatus, f"{self.totalAmount:f}", str(lines))

    @property
    def customer_email(self) -> str | None:
        email = self.email or (self.customerProfile.email if self.customerProfile else None)
        return email.strip() if email and email.strip() else None

    def __repr__(self) -> str:  # keep personal data out of reprs and logs
        return f"PosSale(orderId={self.orderId!r}, lines={len(self.orderProductList)})"


def dump_json(model: BaseModel) -> dict[str, Any]:
    """The wire JSON of a model (exact camelCase names, amounts as numbers, nulls left out)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
