"""Object specifications of the emulated OMS org (one compact line per field).

Line format: ``Name type[:arg] [flags...]`` where type is one of string, textarea, email, phone, url, boolean,
double, currency, percent, int, date, datetime, ref:<Target>[|<Target>...], pick:<PICKLIST>, auto:<prefix>:<width>.
Flags: ``req`` required on create, ``ro`` read-only (system/formula), ``noupd`` create-only, ``unique``,
``ext`` usable as external id for upsert, ``default=<value>``, ``open`` picklist accepts any value.
"""

from __future__ import annotations

PICKLISTS: dict[str, tuple[str, ...]] = {
    "ORDER_STATUS": ("Draft", "Activated"),
    "ITEM_TYPE": ("Order Product", "Delivery Charge", "Fee"),
    "TYPE_CODE": ("Product", "Charge"),
    "TAX_TYPE": ("Actual", "Estimated"),
    "ADJ_GROUP_TYPE": ("Header", "SplitLine"),
    "PROCESSING_MODE": ("External", "Salesforce"),
    "PAYMENT_STATUS": ("Draft", "Processed", "Canceled"),
    "PAYMENT_TYPE": ("Capture", "Sale"),
    "AUTH_STATUS": ("Draft", "Pending", "Processed", "Failed", "Canceled"),
    "PM_STATUS": ("Active", "Inactive", "Canceled"),
    "CARD_CATEGORY": ("CreditCard", "DebitCard"),
    "CARD_TYPE": ("Visa", "MasterCard", "AmericanExpress", "DinersClub", "JCB", "Maestro", "Discover", "UnionPay"),
    "FO_TYPE": ("Download", "Email", "In Store Pickup", "Retail Store", "Supplier", "Warehouse"),
    "FO_TYPE_CATEGORY": ("Digital", "Drop Ship", "Physical"),
    "LOCATION_TYPE": ("Store", "Warehouse", "Site", "Van", "Plant", "Virtual"),
    "OS_STATUS": ("Created", "Approved", "Waiting to Fulfill", "Fulfilled", "Cancelled", "Canceled"),
    "OS_LIFECYCLE": ("MANAGED", "UNMANAGED"),
    # OrderItemSummary.Status API values; derived from the quantities (oms_quantities.ois_status)
    "OIS_STATUS": ("ORDERED", "ALLOCATED", "PARTIALLYALLOCATED", "FULFILLED", "PARTIALLYFULFILLED", "CANCELED",
                   "RETURNINITIATED", "RETURNED", "RESHIPPED", "PAID"),
    "CHANGE_REASON": ("Unknown", "Damaged", "Defective", "Wrong Item", "Not Satisfied", "Changed Mind",
                      "Customer Changed Mind", "Duplicate Order", "Store Return", "Unavailable", "Other"),
    # OrderItemSummaryChange.ChangeType, a restricted picklist (Object Reference, OrderItemSummaryChange, v54..v64:
    # Add, Cancel, DeliveryChargeAdjustment, ProductAdjustment, Return; later releases add fee and group kinds).
    # Whether the change came before fulfilment is the separate IsPreFulfillment flag.
    "CHANGE_TYPE": ("Add", "Cancel", "DeliveryChargeAdjustment", "ProductAdjustment", "Return"),
    "TAX_LOCALE": ("Gross", "Net"),
    "REJECT_REASON": ("Damaged", "Just Sold", "Other", "Out of Packing Supplies", "Out of Stock"),
    "SIMPLE_STATUS": ("Active", "Inactive"),
    "SHIPMENT_STATUS": ("Shipped", "Delivered", "Canceled"),
    "CREDIT_MEMO_STATUS": ("Draft", "Posted"),
    "BGOP_STATUS": ("New", "Running", "Complete", "Error"),
}

_ADDRESS = "\n".join(("Street textarea", "City string", "State string", "PostalCode string", "Country string",
                      "StateCode string", "CountryCode string"))


def address(prefix: str) -> str:
    """Spec lines for a compound address (Street/City/State/PostalCode/Country + codes)."""
    return "\n".join(prefix + line for line in _ADDRESS.split("\n"))


OBJECTS: dict[str, tuple[str, str]] = {
    # name: (label, spec); FulfillmentOrder Status and Location custom fields are added from settings.
    "Account": ("Account", f"""
Name string
FirstName string
LastName string
Salutation string
IsPersonAccount boolean noupd default=false
PersonEmail email
PersonMobilePhone phone
PersonContactId ref:Contact ro
AccountNumber string
Phone phone
ParentId ref:Account
Description textarea
{address("Billing")}
{address("Shipping")}"""),
    "Contact": ("Contact", f"""
AccountId ref:Account
FirstName string
LastName string req
Email email
Phone phone
{address("Mailing")}"""),
    "Product2": ("Product", """
Name string req
ProductCode string
Description textarea
IsActive boolean default=false
StockKeepingUnit string unique ext
Family string
QuantityUnitOfMeasure string"""),
    "Pricebook2": ("Price Book", """
Name string req
IsActive boolean default=false
IsStandard boolean ro default=false
Description textarea"""),
    "PricebookEntry": ("Price Book Entry", """
Pricebook2Id ref:Pricebook2 req noupd
Product2Id ref:Product2 req noupd
UnitPrice currency req
IsActive boolean default=false
UseStandardPrice boolean default=false
Name string ro
ProductCode string ro"""),
    "SalesChannel": ("Sales Channel", """
SalesChannelName string req
Description textarea"""),
    "OrderDeliveryMethod": ("Order Delivery Method", """
Name string req
ReferenceNumber string
IsActive boolean default=true
ProductId ref:Product2
Carrier string
ClassOfService string
Description textarea"""),
    "Order": ("Order", f"""
AccountId ref:Account req
Name string
OrderNumber auto::8 ro
Status pick:ORDER_STATUS req default=Draft
EffectiveDate date req
OrderedDate datetime
ActivatedDate datetime ro
OrderReferenceNumber string
SalesChannelId ref:SalesChannel
Pricebook2Id ref:Pricebook2
BillingEmailAddress email
BillingPhoneNumber phone
{address("Billing")}
TotalAmount currency ro
TaxLocaleType pick:TAX_LOCALE
CurrencyIsoCode string default=USD
Description textarea
Type string
RelatedOrderId ref:Order noupd
IsReductionOrder boolean ro default=false"""),
    "OrderItem": ("Order Product", """
OrderId ref:Order req noupd
Product2Id ref:Product2 req
PricebookEntryId ref:PricebookEntry req
OrderDeliveryGroupId ref:OrderDeliveryGroup
OriginalOrderItemId ref:OrderItem noupd
OrderItemNumber auto::10 ro
Quantity double req
UnitPrice currency req
ListPrice currency
GrossUnitPrice currency
TotalLineAmount currency
TotalPrice currency ro
TotalTaxAmount currency ro
TotalAdjustmentAmount currency ro
Type pick:ITEM_TYPE default=Order Product
TypeCode pick:TYPE_CODE ro
Description textarea
ServiceDate date"""),
    "OrderDeliveryGroup": ("Order Delivery Group", f"""
OrderId ref:Order req noupd
OrderDeliveryMethodId ref:OrderDeliveryMethod req
DeliverToName string req
{address("DeliverTo")}
EmailAddress email
PhoneNumber phone
DeliverToCompanyName string
DesiredDeliveryDate date
DeliveryInstructions textarea
IsGift boolean default=false
GiftMessage textarea
OrderDeliveryGroupNumber auto:ODG-:8 ro"""),
    "PaymentGroup": ("Payment Group", """
SourceObjectId ref:Order req
CurrencyIsoCode string default=USD"""),
    "CardPaymentMethod": ("Card Payment Method", """
AccountId ref:Account
PaymentGatewayId ref:PaymentGateway
CardCategory pick:CARD_CATEGORY
CardHolderName string
CardType pick:CARD_TYPE open
ExpiryMonth int
ExpiryYear int
InputCardNumber string
CardLastFour string
DisplayCardNumber string ro
GatewayToken string
NickName string
ProcessingMode pick:PROCESSING_MODE req
Status pick:PM_STATUS req"""),
    "DigitalWallet": ("Digital Wallet", """
AccountId ref:Account
PaymentGatewayId ref:PaymentGateway
GatewayToken string
Type string
PaymentMethodType string
NickName string
ProcessingMode pick:PROCESSING_MODE req
Status pick:PM_STATUS req"""),
    "PaymentGateway": ("Payment Gateway", """
PaymentGatewayName string req
Status pick:SIMPLE_STATUS default=Active
ExternalReference string ext
MerchantCredentialId string
PaymentGatewayProviderId string"""),
    "Payment": ("Payment", """
AccountId ref:Account
Amount currency req
Date datetime
Email email
Phone phone
PaymentGatewayId ref:PaymentGateway
PaymentGroupId ref:PaymentGroup
PaymentMethodId ref:CardPaymentMethod|DigitalWallet
PaymentAuthorizationId ref:PaymentAuthorization
ProcessingMode pick:PROCESSING_MODE req
Status pick:PAYMENT_STATUS req
Type pick:PAYMENT_TYPE req
GatewayRefNumber string
GatewayResultCode string
PaymentNumber auto:P-:9 ro
CurrencyIsoCode string default=USD"""),
    "PaymentAuthorization": ("Payment Authorization", """
AccountId ref:Account
Amount currency req
PaymentGatewayId ref:PaymentGateway
PaymentGroupId ref:PaymentGroup
PaymentMethodId ref:CardPaymentMethod|DigitalWallet
ProcessingMode pick:PROCESSING_MODE req
Status pick:AUTH_STATUS req
Date datetime
ExpirationDate datetime
GatewayRefNumber string
PaymentAuthorizationNumber auto:PA-:9 ro
CurrencyIsoCode string default=USD"""),
    "OrderItemTaxLineItem": ("Order Product Tax Line Item", """
OrderItemId ref:OrderItem req noupd
OrderItemAdjustmentLineItemId ref:OrderItemAdjustmentLineItem
Name string req
Type pick:TAX_TYPE req
Amount currency req
Rate percent
TaxEffectiveDate date req
Description textarea"""),
    "OrderItemAdjustmentLineItem": ("Order Product Adjustment Line Item", """
OrderItemId ref:OrderItem req noupd
OrderAdjustmentGroupId ref:OrderAdjustmentGroup
Name string req
Amount currency req
Description textarea"""),
    "OrderAdjustmentGroup": ("Order Adjustment Group", """
OrderId ref:Order req noupd
Name string req
Type pick:ADJ_GROUP_TYPE req
Description textarea
AdjustmentSource string"""),
    "OrderSummary": ("Order Summary", f"""
OrderNumber string ext
OriginalOrderId ref:Order noupd
AccountId ref:Account
BillToContactId ref:Contact
BillingEmailAddress email
BillingPhoneNumber phone
{address("Billing")}
SalesChannelId ref:SalesChannel
Pricebook2Id ref:Pricebook2
Status pick:OS_STATUS default=Created
OrderLifeCycleType pick:OS_LIFECYCLE noupd default=MANAGED
OrderedDate datetime
GrandTotalAmount currency ro
TotalAdjustedProductAmount currency ro
TotalAdjustedDeliveryAmount currency ro
TotalTaxAmount currency ro
TaxLocaleType pick:TAX_LOCALE
ExternalReferenceIdentifier string
IsSuspended boolean default=false
ActiveProcessExceptionCount int ro default=0
CurrencyIsoCode string default=USD"""),
    "OrderItemSummary": ("Order Product Summary", """
OrderSummaryId ref:OrderSummary noupd
OriginalOrderItemId ref:OrderItem noupd
OrderDeliveryGroupSummaryId ref:OrderDeliveryGroupSummary
Product2Id ref:Product2
Name string
StockKeepingUnit string
ProductCode string
Description textarea
QuantityOrdered double ro
QuantityCanceled double ro default=0
QuantityReturned double ro default=0
QuantityReturnInitiated double ro default=0
QuantityFulfilled double ro default=0
QuantityAllocated double ro default=0
Quantity double ro
QuantityNetOrdered double ro
QuantityAvailableToFulfill double ro
QuantityAvailableToCancel double ro
QuantityAvailableToReturn double ro
UnitPrice currency
ListPrice currency
TotalLineAmount currency
TotalPrice currency
TotalTaxAmount currency
TotalAdjustmentAmount currency
Type pick:ITEM_TYPE
TypeCode pick:TYPE_CODE
Status pick:OIS_STATUS ro default=ORDERED"""),
    "OrderDeliveryGroupSummary": ("Order Delivery Group Summary", f"""
OrderSummaryId ref:OrderSummary noupd
OriginalOrderDeliveryGroupId ref:OrderDeliveryGroup noupd
OrderDeliveryMethodId ref:OrderDeliveryMethod
DeliverToName string
{address("DeliverTo")}
EmailAddress email
PhoneNumber phone"""),
    "OrderItemSummaryChange": ("Order Product Summary Change", """
OrderSummaryId ref:OrderSummary noupd
OrderItemSummaryId ref:OrderItemSummary noupd
ChangeOrderItemId ref:OrderItem noupd
Reason pick:CHANGE_REASON
ChangeType pick:CHANGE_TYPE
IsPreFulfillment boolean default=false"""),
    "FulfillmentOrder": ("Fulfillment Order", f"""
FulfillmentOrderNumber auto:FO-:10 ro
OrderSummaryId ref:OrderSummary
OrderId ref:Order
AccountId ref:Account
BillToContactId ref:Contact
FulfilledFromLocationId ref:Location
DeliveryMethodId ref:OrderDeliveryMethod req
FulfilledToName string req
FulfilledToEmailAddress email
FulfilledToPhone phone
{address("FulfilledTo")}
StatusCategory string ro
Type pick:FO_TYPE
TypeCategory pick:FO_TYPE_CATEGORY ro
TotalProductAmount currency ro
TotalDeliveryAmount currency ro
TotalAdjustmentAmount currency ro
TotalAmount currency ro
TotalTaxAmount currency ro
GrandTotalAmount currency ro
ItemCount double ro
IsSuspended boolean default=false
IsReship boolean default=false
InvoiceId string
ClosedDate datetime ro
DeliveryDate datetime
TaxLocaleType pick:TAX_LOCALE
CurrencyIsoCode string default=USD"""),
    "FulfillmentOrderLineItem": ("Fulfillment Order Product", """
FulfillmentOrderId ref:FulfillmentOrder req noupd
FulfillmentOrderLineItemNumber auto:FOLI-:10 ro
OrderItemSummaryId ref:OrderItemSummary
OrderItemId ref:OrderItem
Product2Id ref:Product2
Quantity double req
OriginalQuantity double noupd
QuantityUnitOfMeasure string
UnitPrice currency
GrossUnitPrice currency
TotalLineAmount currency ro
TotalPrice currency ro
TotalTaxAmount currency ro
TotalAdjustmentAmount currency ro
TotalAmount currency ro
Type pick:ITEM_TYPE default=Order Product
TypeCode pick:TYPE_CODE ro
RejectedQuantity double
RejectReason pick:REJECT_REASON
Description textarea"""),
    "FulfillmentOrderItemTax": ("Fulfillment Order Product Tax", """
FulfillmentOrderId ref:FulfillmentOrder
FulfillmentOrderLineItemId ref:FulfillmentOrderLineItem req noupd
FulfillmentOrderItemAdjustId ref:FulfillmentOrderItemAdjustment
OrderItemTaxLineItemSummaryId string
Name string
Amount currency req
Rate percent
Type pick:TAX_TYPE req
TaxEffectiveDate date req
Description textarea
FulfillmentOrderItemTaxNumber auto:FOIT-:10 ro"""),
    "FulfillmentOrderItemAdjustment": ("Fulfillment Order Product Adjustment", """
FulfillmentOrderId ref:FulfillmentOrder
FulfillmentOrderLineItemId ref:FulfillmentOrderLineItem req noupd
OrderItemAdjustLineSummaryId string
Name string
Amount currency req
TotalTaxAmount currency ro
TotalAmtWithTax currency ro
CampaignName string
CouponName string
PromotionName string
Description textarea
FulfillmentOrderItemAdjustmentNumber auto:FOIA-:10 ro"""),
    "Location": ("Location", """
Name string req
LocationType pick:LOCATION_TYPE req
ExternalReference string ext
IsInventoryLocation boolean default=false
Description textarea"""),
    "Shipment": ("Shipment", f"""
ShipToName string req
FulfillmentOrderId ref:FulfillmentOrder
OrderSummaryId ref:OrderSummary
SourceLocationId ref:Location
DeliveryMethodId ref:OrderDeliveryMethod
TrackingNumber string
TrackingUrl url
Provider string
Status pick:SHIPMENT_STATUS open
ShipmentNumber auto:SH-:8 ro
{address("ShipTo")}"""),
    "CreditMemo": ("Credit Memo", """
AccountId ref:Account
ReferenceEntityId ref:OrderSummary
Status pick:CREDIT_MEMO_STATUS default=Posted
DocumentNumber auto:CM-:8 ro
TotalAmount currency
TotalTaxAmount currency
TotalAmountWithTax currency
Description textarea"""),
    "BackgroundOperation": ("Background Operation", """
Name string
Status pick:BGOP_STATUS default=Complete"""),
}

# Objects that only the org itself (Connect actions, flows) may insert.
NOT_CREATEABLE = {"OrderSummary", "OrderItemSummary", "OrderDeliveryGroupSummary", "OrderItemSummaryChange",
                  "CreditMemo", "BackgroundOperation"}

# Child relationships: (parent, relationship name) -> (child object, foreign key field).
CHILD_RELATIONSHIPS: list[tuple[str, str, str, str]] = [
    ("Account", "Contacts", "Contact", "AccountId"),
    ("Account", "Orders", "Order", "AccountId"),
    ("Product2", "PricebookEntries", "PricebookEntry", "Product2Id"),
    ("Pricebook2", "PricebookEntries", "PricebookEntry", "Pricebook2Id"),
    ("Order", "OrderItems", "OrderItem", "OrderId"),
    ("Order", "OrderDeliveryGroups", "OrderDeliveryGroup", "OrderId"),
    ("Order", "OrderAdjustmentGroups", "OrderAdjustmentGroup", "OrderId"),
    ("Order", "PaymentGroups", "PaymentGroup", "SourceObjectId"),
    ("OrderItem", "OrderItemTaxLineItems", "OrderItemTaxLineItem", "OrderItemId"),
    ("OrderItem", "OrderItemAdjustmentLineItems", "OrderItemAdjustmentLineItem", "OrderItemId"),
    ("PaymentGroup", "Payments", "Payment", "PaymentGroupId"),
    ("PaymentGroup", "PaymentAuthorizations", "PaymentAuthorization", "PaymentGroupId"),
    ("OrderSummary", "OrderItemSummaries", "OrderItemSummary", "OrderSummaryId"),
    ("OrderSummary", "FulfillmentOrders", "FulfillmentOrder", "OrderSummaryId"),
    ("OrderSummary", "OrderDeliveryGroupSummaries", "OrderDeliveryGroupSummary", "OrderSummaryId"),
    ("OrderSummary", "OrderItemSummaryChanges", "OrderItemSummaryChange", "OrderSummaryId"),
    ("OrderSummary", "CreditMemos", "CreditMemo", "ReferenceEntityId"),
    ("FulfillmentOrder", "FulfillmentOrderLineItems", "FulfillmentOrderLineItem", "FulfillmentOrderId"),
    ("FulfillmentOrder", "FulfillmentOrderItemTaxes", "FulfillmentOrderItemTax", "FulfillmentOrderId"),
    ("FulfillmentOrder", "FulfillmentOrderItemAdjustments", "FulfillmentOrderItemAdjustment", "FulfillmentOrderId"),
    ("FulfillmentOrder", "Shipments", "Shipment", "FulfillmentOrderId"),
    ("FulfillmentOrderLineItem", "FulfillmentOrderItemTaxes", "FulfillmentOrderItemTax",
     "FulfillmentOrderLineItemId"),
    ("FulfillmentOrderLineItem", "FulfillmentOrderItemAdjustments", "FulfillmentOrderItemAdjustment",
     "FulfillmentOrderLineItemId"),
    ("Location", "FulfillmentOrders", "FulfillmentOrder", "FulfilledFromLocationId"),
]
