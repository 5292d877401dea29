"""The import payload the worker sends the POS for one FulfillmentOrder (pos-api.md §8.3).

Field names are the POS's own camelCase names; amounts are exact ``Decimal`` cents inside and JSON numbers outside
(``Money`` and ``Qty`` of :mod:`worker.pos.models`). Unknown keys are ignored when one is read back.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from worker.mapping.money import ZERO
from worker.pos.models import FulfillmentSubType, FulfillmentType, Money, Qty


class PosOut(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class PosCustomerProfile(PosOut):
    customerId: str | None = None
    firstName: str = ""
    lastName: str = ""
    displayName: str | None = None
    email: str | None = None
    phoneMobile: str | None = None


class PosAddress(PosOut):
    firstName: str = ""
    lastName: str = ""
    addressLine1: str = ""
    addressLine2: str | None = None
    city: str = ""
    state: str = ""
    postalCode: str = ""
    country: str = ""


class PosOrderLine(PosOut):
    orderItemId: str
    externalId: str
    lineNumber: int
    productId: str
    gtin: str | None = None
    name: str = ""
    quantity: Qty
    price: Money
    subTotal: Money
    discount: Money
    tax: Money
    total: Money
    omniFulfillmentType: str
    fulfillmentType: str = FulfillmentType.ONLINE.value
    fulfillmentSubType: str = FulfillmentSubType.DEFAULT.value


class PosOrderTender(PosOut):
    paymentMethod: str
    amountAuthorized: Money
    paymentStatus: str
    transactionId: str | None = None


class PosFulfillmentOrder(PosOut):
    """One Salesforce FulfillmentOrder as a POS store-fulfilment order (import payload, §8.3)."""

    externalOrderId: str
    orderId: str
    displayOrderId: str
    storeId: str
    omniFulfillmentType: str
    orderDate: int
    currency: str
    customerProfile: PosCustomerProfile
    shippingAddress: PosAddress
    orderProductList: list[PosOrderLine]
    tenders: list[PosOrderTender] = Field(default_factory=list)
    shippingCharge: Money = ZERO
    orderSubTotal: Money
    discount: Money
    taxSubTotal: Money
    totalAmount: Money
