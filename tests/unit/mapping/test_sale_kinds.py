"""POS sale kinds -> composite graph: tenders, pickup later, endless aisle, mixed cart, exchange, return."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from worker.mapping.errors import MappingError, NothingToPost
from worker.mapping.sale import DELIVERY_CHARGE_SKU, SaleContext, sale_lookup_keys, sale_to_graph
from worker.pos.models import PosSale


@pytest.mark.parametrize(
    ("tenders", "methods", "gateways"),
    [
        ([{"paymentMethod": "Cash", "amountAuthorized": "10.00"}], ["DigitalWallet"], ["0b0CASH"]),
        (
            [
                {
                    "paymentMethod": "DigitalWallet",
                    "walletType": "ApplePay",
                    "transactionId": "W1",
                    "amountAuthorized": "10.00",
                }
            ],
            ["DigitalWallet"],
            ["0b0CARD"],
        ),
        (
            [
                {
                    "paymentMethod": "CreditCard",
                    "cardType": "mastercard",
                    "lastFour": "0005",
                    "amountAuthorized": "6.00",
                },
                {"paymentMethod": "Cash", "amountAuthorized": "4.00"},
            ],
            ["CardPaymentMethod", "DigitalWallet"],
            ["0b0CARD", "0b0CASH"],
        ),
        (
            [
                {"paymentMethod": "DigitalWallet", "walletType": "GooglePay", "amountAuthorized": "3.00"},
                {
                    "paymentMethod": "CreditCard",
                    "cardType": "Amex",
                    "lastFour": "0001",
                    "amountAuthorized": "7.00",
                },
            ],
            ["DigitalWallet", "CardPaymentMethod"],
            ["0b0CARD", "0b0CARD"],
        ),
    ],
)
def test_tender_kinds(
    kit: Any,
    sale_body: Any,
    sf: Any,
    pos: Any,
    builders: Any,
    tenders: list[dict[str, Any]],
    methods: list[str],
    gateways: list[str],
) -> None:
    """Cash, wallet, card and split tenders: one Payment and one payment method each (cash is a DigitalWallet, as
    the guide says), with the configured gateways."""
    graph = kit.build(kit.with_lines(sale_body, [builders.sale_line("1", "SKU-0001")], tenders), sf, pos)
    assert [
        k.split()[1] for k in kit.kinds(graph) if k.split()[1] in ("CardPaymentMethod", "DigitalWallet")
    ] == methods
    payments = [n["body"] for n in kit.nodes_of(graph, "Payment")]
    assert [p["PaymentGatewayId"] for p in payments] == gateways
    assert sum(p["Amount"] for p in payments) == 10.0
    assert all("PaymentMethodId" in payment for payment in payments)


@pytest.mark.parametrize(("cash_gateway", "card_gateway"), [(None, None), ("CashGW", None), (None, "POS")])
def test_unset_gateways_are_simply_not_set(kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any,
                                           cash_gateway: str | None, card_gateway: str | None) -> None:
    """With OMSCashPaymentGatewayName (or the card gateway) unset, the cash (card) records carry no
    PaymentGatewayId and nothing is looked up for it; the sale still posts."""
    sf = sf.model_copy(update={"OMSCashPaymentGatewayName": cash_gateway, "card_payment_gateway_name": card_gateway})
    tenders = [{"paymentMethod": "CreditCard", "cardType": "visa", "lastFour": "1111", "amountAuthorized": "6.00"},
               {"paymentMethod": "Cash", "amountAuthorized": "4.00"}]
    body = kit.with_lines(sale_body, [builders.sale_line("1", "SKU-0001")], tenders)
    graph = kit.build(body, sf, pos)
    payments = [n["body"] for n in kit.nodes_of(graph, "Payment")]
    methods = [n["body"] for kind in ("CardPaymentMethod", "DigitalWallet") for n in kit.nodes_of(graph, kind)]
    expected = ["0b0CARD" if card_gateway else None, "0b0CASH" if cash_gateway else None]
    assert [p.get("PaymentGatewayId") for p in payments] == expected
    assert [m.get("PaymentGatewayId") for m in methods] == expected
    keys = sale_lookup_keys(PosSale.model_validate(body), pos=pos, sf=sf)
    assert keys.gateways == tuple(g for g in (card_gateway, cash_gateway) if g)


def test_wallet_and_card_type_bodies(kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any) -> None:
    """DigitalWallet names the wallet and token; card types are normalised to Salesforce picklist values."""
    tenders = [
        {
            "paymentMethod": "DigitalWallet",
            "walletType": "ApplePay",
            "transactionId": "W1",
            "amountAuthorized": "4.00",
        },
        {"paymentMethod": "CreditCard", "cardType": "amex", "lastFour": "0001", "amountAuthorized": "6.00"},
    ]
    graph = kit.build(kit.with_lines(sale_body, [builders.sale_line("1", "SKU-0001")], tenders), sf, pos)
    wallet = kit.nodes_of(graph, "DigitalWallet")[0]["body"]
    assert (wallet["NickName"], wallet["GatewayToken"], wallet["ProcessingMode"]) == (
        "ApplePay",
        "W1",
        "External",
    )
    assert kit.nodes_of(graph, "CardPaymentMethod")[0]["body"]["CardType"] == "AmericanExpress"


def test_pickup_later_uses_its_delivery_method(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any
) -> None:
    """IN_STORE/PICKUP_LATER lines go to an ODG with the IN_STORE-PICKUP_LATER method."""
    graph = kit.build(
        kit.with_lines(sale_body, [builders.sale_line("1", "SKU-0001", sub="PICKUP_LATER")]), sf, pos
    )
    groups = kit.nodes_of(graph, "OrderDeliveryGroup")
    assert [g["body"]["OrderDeliveryMethodId"] for g in groups] == ["2DmPL"]
    assert groups[0]["body"]["DeliverToStreet"] == "1 Main St"


def test_endless_aisle_ships_to_shipping_address_with_charge(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any
) -> None:
    """ONLINE lines ship to shippingAddress; shippingCharge is a Delivery Charge OrderItem in that group."""
    body = kit.with_lines(
        sale_body,
        [builders.sale_line("1", "SKU-0001", ftype="ONLINE")],
        shippingAddress=kit.SHIP_TO,
        shippingCharge="5.00",
    )
    graph = kit.build(body, sf, pos)
    group = kit.nodes_of(graph, "OrderDeliveryGroup")[0]["body"]
    assert (
        group["OrderDeliveryMethodId"],
        group["DeliverToName"],
        group["DeliverToStreet"],
        group["DeliverToCity"],
        group["DeliverToPostalCode"],
    ) == ("2DmON", "Bo Ray", "9 Elm Rd\nUnit 2", "Dallas", "75201")
    charge = [n for n in kit.nodes_of(graph, "OrderItem") if n["body"]["Type"] == "Delivery Charge"]
    assert [c["body"]["TotalLineAmount"] for c in charge] == [5.0]
    assert charge[0]["body"]["Product2Id"] == "01tDC"
    assert kit.nodes_of(graph, "Payment")[0]["body"]["Amount"] == 15.0


def test_online_line_without_shipping_address_is_rejected(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any
) -> None:
    """An endless-aisle line without shippingAddress is a permanent MappingError naming the field."""
    with pytest.raises(MappingError, match="shippingAddress is required for ONLINE lines"):
        kit.build(kit.with_lines(sale_body, [builders.sale_line("1", "SKU-0001", ftype="ONLINE")]), sf, pos)


def test_mixed_cart_has_one_group_per_method(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any
) -> None:
    """A mixed cart gets an ODG per delivery method and each item points at its own group."""
    lines = [
        builders.sale_line("1", "SKU-0001"),
        builders.sale_line("2", "SKU-0002", ftype="ONLINE"),
        builders.sale_line("3", "SKU-0001", sub="PICKUP_LATER"),
        builders.sale_line("4", "SKU-0002"),
    ]
    graph = kit.build(kit.with_lines(sale_body, lines, shippingAddress=kit.SHIP_TO), sf, pos)
    groups = {
        kit.ref(n): n["body"]["OrderDeliveryMethodId"] for n in kit.nodes_of(graph, "OrderDeliveryGroup")
    }
    assert list(groups.values()) == ["2DmIS", "2DmON", "2DmPL"]
    assert [groups[n["body"]["OrderDeliveryGroupId"]] for n in kit.nodes_of(graph, "OrderItem")] == [
        "2DmIS",
        "2DmON",
        "2DmPL",
        "2DmIS",
    ]


def test_exchange_posts_only_sold_lines_and_positive_tenders(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any
) -> None:
    """An exchange's returned lines and refund tender are left to the returns flow."""
    sold = builders.sale_line("1", "SKU-0002", price="30.00")
    returned = {
        **builders.sale_line("1", "SKU-0001", price="20.00"),
        "originalOrderId": "S-0",
        "originalOrderItemId": "1",
        "returnReason": "SIZE",
    }
    tenders = [
        {"paymentMethod": "CreditCard", "cardType": "Visa", "lastFour": "4242", "amountAuthorized": "30.00"},
        {"paymentMethod": "Cash", "amountAuthorized": "-20.00"},
    ]
    body = kit.with_lines(sale_body, [sold], tenders, returnProductList=[returned])
    body["totalAmount"] = "10.00"
    graph = kit.build(body, sf, pos)
    assert [n["body"]["Product2Id"] for n in kit.nodes_of(graph, "OrderItem")] == ["01tP2"]
    assert [n["body"]["Amount"] for n in kit.nodes_of(graph, "Payment")] == [30.0]
    keys = sale_lookup_keys(PosSale.model_validate(body), pos=pos, sf=sf)
    assert (keys.skus, keys.gateways) == (("SKU-0002",), ("POS",))


def test_pure_return_is_nothing_to_post(kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any) -> None:
    """A return (no sold lines) raises NothingToPost from both the look-up keys and the graph builder."""
    returned = {**builders.sale_line("1", "SKU-0001"), "originalOrderId": "S-0", "originalOrderItemId": "1"}
    body = sale_body(
        orderProductList=[],
        returnProductList=[returned],
        orderSubTotal="-10.00",
        discount=0,
        taxSubTotal=0,
        totalAmount="-10.00",
        tenders=[{"paymentMethod": "Cash", "amountAuthorized": "-10.00"}],
    )
    sale = PosSale.model_validate(body)
    with pytest.raises(NothingToPost):
        sale_lookup_keys(sale, pos=pos, sf=sf)
    with pytest.raises(NothingToPost):
        sale_to_graph(sale, kit.ctx(), api_version="v62.0", sf=sf, pos=pos)


def test_lookup_keys_follow_seed_rules(kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any) -> None:
    """E-mail, seed names, channel names, delivery methods, SKUs (+ delivery charge) and gateways."""
    lines = [
        builders.sale_line("1", "SKU-0001"),
        builders.sale_line("2", "SKU-0002", ftype="ONLINE"),
        builders.sale_line("3", "SKU-0001", sub="PICKUP_LATER"),
    ]
    tenders = [
        {"paymentMethod": "Cash", "amountAuthorized": "20.00"},
        {"paymentMethod": "DigitalWallet", "walletType": "GooglePay", "amountAuthorized": "12.00"},
    ]
    body = kit.with_lines(sale_body, lines, tenders, shippingAddress=kit.SHIP_TO, shippingCharge="2.00")
    keys = sale_lookup_keys(PosSale.model_validate(body), pos=pos, sf=sf)
    assert keys.email == "a@example.com"
    assert (keys.account_name, keys.pricebook_name) == ("ACME-en-US-US", "ACME-en-US-US")
    assert keys.sales_channel_names == ("POS", "ACME-en-US-US-POS")
    assert keys.delivery_methods == ("IN_STORE-DEFAULT", "ONLINE-DEFAULT", "IN_STORE-PICKUP_LATER")
    assert keys.skus == ("SKU-0001", "SKU-0002", DELIVERY_CHARGE_SKU)
    assert keys.gateways == ("CashGW", "POS")
    custom = sale_lookup_keys(PosSale.model_validate(body), pos=pos,
                              sf=sf.model_copy(update={"card_payment_gateway_name": "Adyen"}))
    assert custom.gateways == ("CashGW", "Adyen")


def test_lookup_email_from_customer_profile(kit: Any, sale_body: Any, sf: Any, pos: Any) -> None:
    """Without a top-level e-mail the customer profile's is used; none at all gives None."""
    assert (
        sale_lookup_keys(PosSale.model_validate(sale_body(email=None)), pos=pos, sf=sf).email
        == "a@example.com"
    )
    anonymous = PosSale.model_validate(sale_body(email=None, customerProfile=None))
    assert sale_lookup_keys(anonymous, pos=pos, sf=sf).email is None


@pytest.mark.parametrize(
    ("what", "context"),
    [
        (
            "OrderDeliveryMethod 'IN_STORE-DEFAULT' was not resolved",
            SaleContext("001A", "01sPB", "0bI", {}, {}, {"POS": "0b0"}),
        ),
        (
            "PaymentGateway 'POS' was not resolved",
            SaleContext("001A", "01sPB", "0bI", {"IN_STORE-DEFAULT": "2Dm"}, {}, {}),
        ),
    ],
)
def test_unresolved_lookups_are_mapping_errors(
    kit: Any, sale_body: Any, sf: Any, pos: Any, what: str, context: SaleContext
) -> None:
    """A delivery method or gateway missing from the context is a permanent MappingError."""
    with pytest.raises(MappingError, match=what):
        kit.build(sale_body(), sf, pos, context)


def test_delivery_method_names_come_from_the_configured_table(kit: Any, sale_body: Any, sf: Any, pos: Any,
                                                              builders: Any) -> None:
    """salesforce.delivery_methods renames an order type's OrderDeliveryMethod (the POS CMS lets merchants do
    so): the look-up asks for the configured name and the delivery group uses its Id; unlisted types keep their
    own key as the name."""
    sf = sf.model_copy(update={"delivery_methods": {"IN_STORE-DEFAULT": "Take With"}})
    lines = [builders.sale_line("1", "SKU-0001"), builders.sale_line("2", "SKU-0002", sub="PICKUP_LATER")]
    body = kit.with_lines(sale_body, lines, [{"paymentMethod": "Cash", "amountAuthorized": "20.00"}])
    keys = sale_lookup_keys(PosSale.model_validate(body), pos=pos, sf=sf)
    assert keys.delivery_methods == ("Take With", "IN_STORE-PICKUP_LATER")
    ctx = dataclasses.replace(kit.ctx(), delivery_method_ids={"Take With": "2DmTW", "IN_STORE-PICKUP_LATER": "2DmPL"})
    graph = kit.build(body, sf, pos, ctx)
    groups = [n["body"]["OrderDeliveryMethodId"] for n in kit.nodes_of(graph, "OrderDeliveryGroup")]
    assert groups == ["2DmTW", "2DmPL"]
