"""Seeding the org (locations, products, price books, channels, methods, gateways) and generating OMS orders."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from .oms_build import create_fulfillment_order, create_order_summary
from .org import Org

KIND_METHOD = {"BOPIS": "BOPIS", "BOFIS": "BOFIS", "SHIP": "Standard Ground"}
KIND_FO_TYPE = {"BOPIS": "In Store Pickup", "BOFIS": "Retail Store", "SHIP": "Warehouse"}
STANDARD_PRICEBOOK = "Standard Price Book"
DELIVERY_SKU = "DELIVERY-CHARGE"
_FIRST = ("Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Ken", "Radia", "Dennis", "Frances")
_LAST = ("Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Liskov", "Thompson", "Perlman", "Ritchie", "Allen")

DEMO_SEED: dict[str, Any] = {
    "locations": [{"Name": f"Store {n}", "LocationType": "Store", "warehouseID__c": str(n),
                   "ExternalReference": f"STORE-{n}", "IsInventoryLocation": True} for n in (256, 257, 258)],
    "products": [{"sku": f"SKU-{n:04d}", "name": f"Demo Product {n}", "price": round(9.99 + 5 * n, 2)}
                 for n in range(1, 11)] + [{"sku": DELIVERY_SKU, "name": "Delivery Charge", "price": 5.99}],
    "sales_channels": [{"SalesChannelName": "Web"}],
    "delivery_methods": [{"Name": "BOPIS", "ReferenceNumber": "BOPIS", "Description": "In Store Pickup"},
                         {"Name": "BOFIS", "ReferenceNumber": "BOFIS", "Description": "Ship from store"},
                         {"Name": "Standard Ground", "ReferenceNumber": "STANDARD", "Carrier": "UPS"}],
    "payment_gateways": [{"PaymentGatewayName": "Cash"}, {"PaymentGatewayName": "Adyen"}],
}

# A fresh Order Management org on day one: stores (Locations) and the catalog (Product2 with standard prices) exist,
# none of the records a POS integration sets up does -- no custom price book, SalesChannel, OrderDeliveryMethod,
# PaymentGateway or default Account. Every org has exactly one standard price book ("Pricebook2",
# https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_pricebook2.htm:
# IsStandard), which ``apply_seed`` always ensures. The Order Management import guide lists SalesChannel,
# OrderDeliveryMethod, the payment records and Account as records the integration creates ("Importing Data into
# Order Management", https://developer.salesforce.com/docs/commerce/salesforce-order-management/guide/order-management-importing-data-into-data-mgmt.html).
BARE_SEED: dict[str, Any] = {"locations": DEMO_SEED["locations"], "products": DEMO_SEED["products"]}

# The seeds ``python -m emulator --seed`` (and ``SfEmulatorSettings.seed``) offer, with a one-line description.
SEEDS: dict[str, tuple[dict[str, Any], str]] = {
    "demo": (DEMO_SEED, "stores 256-258, 11 products, sales channel Web, delivery methods BOPIS/BOFIS/Standard "
                        "Ground, gateways Cash/Adyen"),
    "bare": (BARE_SEED, "a day-one org: the same stores and products with standard prices, and no price book, sales "
                        "channel, delivery method, payment gateway or account"),
}


def _find_or_insert(org: Org, sobject: str, key: str, values: dict[str, Any]) -> str:
    if values.get(key) is not None:
        found = org.find(sobject, key, values[key])
        if found:
            return str(found[0]["Id"])
    return org.insert(sobject, values)


def _standard_pricebook(org: Org) -> str:
    found = org.find("Pricebook2", "IsStandard", True)
    if found:
        return str(found[0]["Id"])
    return org.insert("Pricebook2", {"Name": STANDARD_PRICEBOOK, "IsActive": True, "IsStandard": True}, system=True)


def _entry(org: Org, pricebook_id: str, product_id: str, price: float) -> str:
    for entry in org.children(product_id, "PricebookEntry", "Product2Id"):
        if entry["Pricebook2Id"] == pricebook_id:
            return str(entry["Id"])
    return org.insert("PricebookEntry", {"Pricebook2Id": pricebook_id, "Product2Id": product_id,
                                         "UnitPrice": price, "IsActive": True})


def apply_seed(org: Org, body: dict[str, Any]) -> dict[str, Any]:
    """Create (or find, by name/SKU) the setup records of ``body``; returns their ids."""
    out: dict[str, Any] = {}
    with org.atomic():
        standard = _standard_pricebook(org)
        out["standard_pricebook_id"] = standard
        pricebook = None
        if body.get("pricebook"):
            pricebook = _find_or_insert(org, "Pricebook2", "Name", {"IsActive": True, **body["pricebook"]})
            out["pricebook_id"] = pricebook
        custom = set(org.schema.objects["Location"].fields)
        out["locations"] = [
            _find_or_insert(org, "Location", "Name", {k: v for k, v in loc.items() if k in custom})
            for loc in body.get("locations", [])]
        products: dict[str, Any] = {}
        for item in body.get("products", []):
            sku, price = item["sku"], float(item.get("price", 0.0))
            product = _find_or_insert(org, "Product2", "StockKeepingUnit", {
                "Name": item.get("name", sku), "ProductCode": sku, "StockKeepingUnit": sku, "IsActive": True,
                "Description": item.get("description", item.get("name", sku))})
            entry = _entry(org, standard, product, price)
            products[sku] = {"product_id": product, "pricebook_entry_id": entry}
            if pricebook:
                products[sku]["custom_pricebook_entry_id"] = _entry(org, pricebook, product, price)
        out["products"] = products
        for key, sobject, name in (("sales_channels", "SalesChannel", "SalesChannelName"),
                                   ("delivery_methods", "OrderDeliveryMethod", "Name"),
                                   ("payment_gateways", "PaymentGateway", "PaymentGatewayName")):
            out[key] = [_find_or_insert(org, sobject, name, dict(values)) for values in body.get(key, [])]
        out["accounts"] = [org.insert("Account", dict(values)) for values in body.get("accounts", [])]
    return out


def _location(org: Org, store: str) -> dict[str, Any]:
    fields = [f.name for f in org.schema.objects["Location"].fields.values() if f.name.endswith("__c")]
    for fname in [*fields, "ExternalReference", "Name"]:
        found = org.find("Location", fname, store)
        if found:
            return found[0]
    raise ValueError(f"no Location with store id {store!r} (seed the org first)")


def _named(org: Org, sobject: str, fname: str, value: str) -> dict[str, Any]:
    found = org.find(sobject, fname, value)
    if not found:
        raise ValueError(f"no {sobject} named {value!r} (seed the org first)")
    return found[0]


def _customer(rng: random.Random, given: dict[str, Any] | None, n: int) -> dict[str, Any]:
    given = dict(given or {})
    first = given.pop("first_name", None) or rng.choice(_FIRST)
    last = given.pop("last_name", None) or rng.choice(_LAST)
    email = given.pop("email", None) or f"{first}.{last}.{n}@example.com".lower()
    phone = given.pop("phone", None) or f"+1555{rng.randrange(1000000, 9999999)}"
    return {"FirstName": first, "LastName": last, "PersonEmail": email, "Phone": phone,
            "BillingStreet": f"{rng.randrange(1, 999)} Main St", "BillingCity": "Springfield",
            "BillingState": "IL", "BillingPostalCode": "62701", "BillingCountry": "United States",
            "BillingCountryCode": "US", "AccountNumber": f"C-{n:06d}", **given}


def create_orders(org: Org, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Create ``count`` orders the way OMS would, each with a FulfillmentOrder at the store; see module doc."""
    kind = str(spec.get("kind", "BOPIS")).upper()
    if kind not in KIND_METHOD:
        raise ValueError(f"kind must be one of {sorted(KIND_METHOD)}")
    count = int(spec.get("count", 1))
    if not 1 <= count <= 10000:
        raise ValueError("count must be between 1 and 10000")
    rng = random.Random(spec.get("seed"))
    location = _location(org, str(spec.get("store", "256")))
    # the storefront's delivery method: ``method`` names one (created if the org lacks it, as a storefront setup
    # would have), else the kind's default name, which must exist
    method = (org.get(_find_or_insert(org, "OrderDeliveryMethod", "Name", {"Name": str(spec["method"])})) or {}
              if spec.get("method") else _named(org, "OrderDeliveryMethod", "Name", KIND_METHOD[kind]))
    channel = org.find("SalesChannel", "SalesChannelName", "Web")
    gateway = org.find("PaymentGateway", "PaymentGatewayName", "Adyen") or org.find("PaymentGateway", "Status",
                                                                                      "Active")
    pricebook = _standard_pricebook(org)
    products = [p for p in org.records("Product2") if p["StockKeepingUnit"] and p["StockKeepingUnit"] != DELIVERY_SKU]
    if not products and not spec.get("lines"):
        raise ValueError("no products (seed the org first)")
    status = str(spec.get("status", "Allocated"))
    orders = []
    for _ in range(count):
        with org.atomic():
            orders.append(_one_order(org, rng, spec, kind, location, method, channel, gateway, pricebook, products,
                                     status))
    return orders


def _line_specs(org: Org, rng: random.Random, spec: dict[str, Any], products: list[dict[str, Any]]) -> list[Any]:
    if spec.get("lines"):
        out = []
        for line in spec["lines"]:
            product = _named(org, "Product2", "StockKeepingUnit", line["sku"])
            quantity = float(line.get("quantity", 1))
            price = float(line.get("unit_price", _price(org, product["Id"])))
            out.append((product, quantity, price, float(line.get("tax", 0.0)), float(line.get("discount", 0.0))))
        return out
    chosen = rng.sample(products, k=min(len(products), rng.randint(1, 3)))
    lines = []
    for product in chosen:
        quantity, price = float(rng.randint(1, 3)), _price(org, product["Id"])
        discount = round(price * 0.1, 2) if rng.random() < 0.3 else 0.0
        lines.append((product, quantity, price, round((price * quantity - discount) * 0.08, 2), discount))
    return lines


def _price(org: Org, product_id: str) -> float:
    entries = org.children(product_id, "PricebookEntry", "Product2Id")
    return float(entries[0]["UnitPrice"]) if entries else 10.0


def _one_order(org: Org, rng: random.Random, spec: dict[str, Any], kind: str, location: dict[str, Any],
               method: dict[str, Any], channel: list[dict[str, Any]], gateway: list[dict[str, Any]], pricebook: str,
               products: list[dict[str, Any]], status: str) -> dict[str, Any]:
    n = org.count("Order") + 1
    customer = _customer(rng, spec.get("customer"), n)
    account = org.insert("Account", customer)
    now = dt.datetime.fromtimestamp(org.clock(), dt.UTC)
    billing = {k: v for k, v in customer.items() if k.startswith("Billing")}
    name = f"{customer['FirstName']} {customer['LastName']}"
    order = org.insert("Order", {
        "AccountId": account, "EffectiveDate": now.date().isoformat(), "OrderedDate": now.isoformat(),
        "Status": "Draft", "SalesChannelId": channel[0]["Id"] if channel else None, "Pricebook2Id": pricebook,
        "BillingEmailAddress": customer["PersonEmail"], "BillingPhoneNumber": customer["Phone"],
        "OrderReferenceNumber": f"WEB-{n:07d}-{rng.randrange(16**6):06x}", "Name": f"Web order {n}", **billing})
    group = org.insert("OrderDeliveryGroup", {
        "OrderId": order, "OrderDeliveryMethodId": method["Id"], "DeliverToName": name,
        "EmailAddress": customer["PersonEmail"], "PhoneNumber": customer["Phone"],
        "DeliverToStreet": customer["BillingStreet"], "DeliverToCity": customer["BillingCity"],
        "DeliverToState": customer["BillingState"], "DeliverToPostalCode": customer["BillingPostalCode"],
        "DeliverToCountry": customer["BillingCountry"]})
    lines = _line_specs(org, rng, spec, products)
    if kind != "BOPIS":
        delivery = org.find("Product2", "StockKeepingUnit", DELIVERY_SKU)
        if delivery:
            lines.append((delivery[0], 1.0, _price(org, delivery[0]["Id"]), 0.0, 0.0))
    for product, quantity, price, tax, discount in lines:
        entry = next((e for e in org.children(product["Id"], "PricebookEntry", "Product2Id")
                      if e["Pricebook2Id"] == pricebook), None)
        entry_id = entry["Id"] if entry else org.insert("PricebookEntry", {
            "Pricebook2Id": pricebook, "Product2Id": product["Id"], "UnitPrice": price, "IsActive": True})
        charge = product["StockKeepingUnit"] == DELIVERY_SKU
        item = org.insert("OrderItem", {
            "OrderId": order, "Product2Id": product["Id"], "PricebookEntryId": entry_id, "Quantity": quantity,
            "UnitPrice": price, "ListPrice": price, "GrossUnitPrice": price, "TotalLineAmount": price * quantity,
            "Type": "Delivery Charge" if charge else "Order Product", "OrderDeliveryGroupId": group,
            "Description": product["Name"]})
        if discount:
            org.insert("OrderItemAdjustmentLineItem", {"OrderItemId": item, "Name": "Promotion",
                                                       "Amount": -discount, "Description": "10% off"})
        if tax:
            org.insert("OrderItemTaxLineItem", {"OrderItemId": item, "Name": "Sales Tax", "Type": "Actual",
                                                "Amount": tax, "Rate": 8.0, "TaxEffectiveDate": now.date().isoformat(),
                                                "Description": "Sales tax"})
    org.update(order, {"Status": "Activated"})
    total = (org.get(order) or {}).get("TotalAmount") or 0.0
    payment_group = org.insert("PaymentGroup", {"SourceObjectId": order})
    gateway_id = gateway[0]["Id"] if gateway else None
    card = org.insert("CardPaymentMethod", {
        "AccountId": account, "PaymentGatewayId": gateway_id, "CardCategory": "CreditCard", "CardType": "Visa",
        "CardHolderName": name, "ExpiryMonth": 12, "ExpiryYear": now.year + 3, "CardLastFour": "1111",
        "ProcessingMode": "External", "Status": "Active"})
    org.insert("PaymentAuthorization", {
        "AccountId": account, "Amount": total, "PaymentGatewayId": gateway_id, "PaymentGroupId": payment_group,
        "PaymentMethodId": card, "ProcessingMode": "External", "Status": "Processed", "Date": now.isoformat()})
    flowed = org.children(order, "OrderSummary", "OriginalOrderId")  # the org's flow made it on activation
    summary = flowed[0]["Id"] if flowed else create_order_summary(org, order)
    odgs = org.children(summary, "OrderDeliveryGroupSummary", "OrderSummaryId")[0]
    items = [(s["Id"], s["QuantityOrdered"]) for s in org.children(summary, "OrderItemSummary", "OrderSummaryId")
             if s["TypeCode"] == "Product"]
    fo, folis = create_fulfillment_order(org, summary, odgs["Id"], location["Id"], KIND_FO_TYPE[kind], items,
                                         include_charges=kind != "BOPIS", status=status)
    line_info = []
    for foli_id in folis:
        foli = org.get(foli_id) or {}
        product = org.get(foli.get("Product2Id") or "") or {}
        line_info.append({"foli_id": foli_id, "sku": product.get("StockKeepingUnit"), "quantity": foli["Quantity"]})
    return {"fulfillment_order_id": fo, "order_summary_id": summary, "order_id": order,
            "order_number": (org.get(order) or {})["OrderNumber"], "lines": line_info}
