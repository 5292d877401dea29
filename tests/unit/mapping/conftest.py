"""Shared builders for the mapping tests: configs, a REST-shaped FulfillmentOrder record, a POS sale body."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from worker.config import PosConfig, SalesforceConfig
from worker.mapping.sale import DELIVERY_CHARGE_SKU, ProductRef, SaleContext, SaleGraph, sale_to_graph
from worker.pos.models import PosSale

STORE_FIELD = "POS_Store_Id__c"


@pytest.fixture
def sf() -> SalesforceConfig:
    return SalesforceConfig.model_validate(
        {
            "UrlBase": "https://acme.my.salesforce.com",
            "OMSCustomField": [
                {"omsFieldName": STORE_FIELD, "posField": "ORDER_STORE_ID", "applyTo": "LOCATION"}
            ],
            "OMSStatusCanceledValue": "Cancelled",
            "OMSCashPaymentGatewayName": "CashGW",
            "card_payment_gateway_name": "POS",
        }
    )


@pytest.fixture
def pos() -> PosConfig:
    return PosConfig.model_validate(
        {
            "merchant_id": "ACME",
            "locale": "en-US",
            "region": "US",
            "auth": {"client_id": "c", "client_secret": "s", "pos_secret": "p", "api_key": "k"},
        }
    )


SALE: dict[str, Any] = {
    "orderId": "S-256-000001",
    "displayOrderId": "S-256-000001",
    "orderSource": "IN_STORE",
    "orderStatus": "COMPLETED",
    "orderDate": 1717168580000,
    "currency": "USD",
    "storeId": "256",
    "email": "a@example.com",
    "customerProfile": {
        "customerId": "C1",
        "email": "a@example.com",
        "firstName": "Ann",
        "lastName": "Lee",
        "phoneMobile": "+15550100",
    },
    "billingAddress": {
        "firstName": "Ann",
        "lastName": "Lee",
        "addressLine1": "1 Main St",
        "addressLine2": None,
        "city": "Austin",
        "state": "TX",
        "postalCode": "78701",
        "country": "US",
    },
    "shippingAddress": None,
    "orderProductList": [
        {
            "orderItemId": "1",
            "externalId": "S-256-000001-1",
            "productId": "SKU-0001",
            "name": "Tee",
            "quantity": 2,
            "price": 20.00,
            "subTotal": 40.00,
            "discount": 4.00,
            "tax": 2.97,
            "total": 38.97,
            "fulfillmentType": "IN_STORE",
            "fulfillmentSubType": "DEFAULT",
            "omniFulfillmentType": "IN_STORE",
            "priceAdjustments": [
                {
                    "id": "PROMO-1",
                    "price": 4.00,
                    "description": "Spring promo",
                    "priceAdjustmentType": "PROMOTION",
                }
            ],
            "productTax": {"rate": 0.0825, "amount": 2.97},
        }
    ],
    "returnProductList": [],
    "tenders": [
        {
            "paymentId": "7d1c0d3e",
            "transactionId": "256-20240531-1",
            "paymentMethod": "CreditCard",
            "cardType": "Visa",
            "lastFour": "4242",
            "walletType": None,
            "amountAuthorized": 38.97,
            "paymentStatus": "APPROVED",
        }
    ],
    "orderSubTotal": 40.00,
    "discount": 4.00,
    "taxSubTotal": 2.97,
    "shippingCharge": 0.00,
    "totalAmount": 38.97,
    "transactionDiscountAmount": 0.00,
}


def sale_line(
    item_id: str,
    sku: str,
    *,
    ftype: str = "IN_STORE",
    sub: str = "DEFAULT",
    qty: int = 1,
    price: str = "10.00",
    discount: str = "0.00",
    tax: str = "0.00",
) -> dict[str, Any]:
    from decimal import Decimal

    sub_total = Decimal(price) * qty
    total = sub_total - Decimal(discount) + Decimal(tax)
    return {
        "orderItemId": item_id,
        "productId": sku,
        "name": f"Item {sku}",
        "quantity": qty,
        "price": price,
        "subTotal": str(sub_total),
        "discount": discount,
        "tax": tax,
        "total": str(total),
        "fulfillmentType": ftype,
        "fulfillmentSubType": sub,
    }


@pytest.fixture
def sale_body() -> Callable[..., dict[str, Any]]:
    """A deep copy of the reference sale body with top-level overrides."""

    def build(**overrides: Any) -> dict[str, Any]:
        body = copy.deepcopy(SALE)
        body.update(overrides)
        return body

    return build


@pytest.fixture
def builders() -> Any:
    """The sale line builder above, as a fixture (test modules cannot import conftest)."""

    class Builders:
        sale_line = staticmethod(sale_line)

    return Builders


BASE = "/services/data/v62.0/sobjects/"


def _ctx(*, products: dict[str, ProductRef] | None = None, standard: str | None = None) -> SaleContext:
    known = {
        "SKU-0001": ProductRef("01tP1", "01uE1"),
        "SKU-0002": ProductRef("01tP2", "01uE2"),
        DELIVERY_CHARGE_SKU: ProductRef("01tDC", "01uDC"),
    }
    return SaleContext(
        account_id="001A",
        pricebook_id="01sPB",
        sales_channel_id="0bIPOS",
        delivery_method_ids={
            "IN_STORE-DEFAULT": "2DmIS",
            "IN_STORE-PICKUP_LATER": "2DmPL",
            "ONLINE-DEFAULT": "2DmON",
        },
        products=known if products is None else products,
        gateway_ids={"POS": "0b0CARD", "CashGW": "0b0CASH"},
        standard_pricebook_id=standard,
    )


def build(body: dict[str, Any], sf: Any, pos: Any, context: SaleContext | None = None) -> SaleGraph:
    return sale_to_graph(PosSale.model_validate(body), context or _ctx(), api_version="v62.0", sf=sf, pos=pos)


def kinds(graph: SaleGraph) -> list[str]:
    return [f"{n['method']} {n['url'].removeprefix(BASE).split('/')[0]}" for n in graph.nodes]


def nodes_of(graph: SaleGraph, sobject: str, method: str = "POST") -> list[dict[str, Any]]:
    return [n for n in graph.nodes if n["method"] == method and n["url"] == BASE + sobject]


def ref(node: dict[str, Any]) -> str:
    return f"@{{{node['referenceId']}.id}}"


SHIP_TO = {
    "firstName": "Bo",
    "lastName": "Ray",
    "addressLine1": "9 Elm Rd",
    "addressLine2": "Unit 2",
    "city": "Dallas",
    "state": "TX",
    "postalCode": "75201",
    "country": "US",
}


def with_lines(
    sale_body: Any, lines: list[dict[str, Any]], tenders: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    """A sale body whose totals and (single card, unless given) tender match the given lines."""
    from decimal import Decimal

    total = sum((Decimal(str(ln["total"])) for ln in lines), Decimal(0)) + Decimal(
        str(extra.get("shippingCharge", 0))
    )
    card = {
        "transactionId": "T1",
        "paymentMethod": "CreditCard",
        "cardType": "Visa",
        "lastFour": "4242",
        "amountAuthorized": str(total),
        "paymentStatus": "APPROVED",
    }
    return sale_body(
        orderProductList=lines,
        tenders=tenders if tenders is not None else [card],
        orderSubTotal=str(sum(Decimal(str(ln["subTotal"])) for ln in lines)),
        totalAmount=str(total),
        **extra,
    )


@pytest.fixture
def kit() -> Any:
    """Sale-graph helpers (context, builder, node filters) as a fixture."""

    class Kit:
        BASE = BASE
        SHIP_TO = SHIP_TO
        ctx = staticmethod(_ctx)
        build = staticmethod(build)
        kinds = staticmethod(kinds)
        nodes_of = staticmethod(nodes_of)
        ref = staticmethod(ref)
        with_lines = staticmethod(with_lines)

    return Kit
