"""POS sale -> composite graph: node order, references, required fields (salesforce-wire §5.6), sale kinds."""

from __future__ import annotations

import re
from typing import Any

import pytest

from worker.mapping.errors import SaleTooLarge
from worker.mapping.sale import (
    ProductRef,
)

REQUIRED = {  # salesforce-wire.md §5.6 "OMS-required fields" (Order*Id references included)
    "Product2": {"Description", "IsActive", "Name", "ProductCode", "StockKeepingUnit"},
    "CardPaymentMethod": {
        "AccountId",
        "CardCategory",
        "CardHolderName",
        "CardType",
        "ExpiryMonth",
        "ExpiryYear",
        "InputCardNumber",
        "ProcessingMode",
        "Status",
    },
    "Order": {
        "AccountId",
        "BillingCity",
        "BillingCountry",
        "BillingCountryCode",
        "BillingEmailAddress",
        "BillingState",
        "BillingStreet",
        "EffectiveDate",
        "Name",
        "OrderedDate",
        "OrderReferenceNumber",
        "SalesChannelId",
        "Status",
    },
    "OrderItem": {
        "Description",
        "GrossUnitPrice",
        "OrderDeliveryGroupId",
        "OrderId",
        "PricebookEntryId",
        "Product2Id",
        "Quantity",
        "TotalLineAmount",
        "Type",
        "UnitPrice",
    },
    "OrderItemAdjustmentLineItem": {"Amount", "Description", "Name", "OrderItemId"},
    "OrderItemTaxLineItem": {
        "Amount",
        "Description",
        "Name",
        "OrderItemId",
        "Rate",
        "TaxEffectiveDate",
        "Type",
    },
    "OrderDeliveryGroup": {
        "DeliverToCity",
        "DeliverToCountry",
        "DeliverToName",
        "DeliverToPostalCode",
        "DeliverToState",
        "DeliverToStreet",
        "EmailAddress",
        "OrderDeliveryMethodId",
        "OrderId",
    },
    "PaymentGroup": {"SourceObjectId"},
    "Payment": {
        "AccountId",
        "Amount",
        "Date",
        "Email",
        "PaymentGatewayId",
        "PaymentGroupId",
        "PaymentMethodId",
        "Phone",
        "ProcessingMode",
        "Status",
        "Type",
    },
}


def test_in_store_card_sale_node_order(kit: Any, sale_body: Any, sf: Any, pos: Any) -> None:
    """Reference sale: §5.6 order with the ODG before its items, and the activation PATCH last."""
    graph = kit.build(sale_body(), sf, pos)
    assert kit.kinds(graph) == [
        "POST CardPaymentMethod",
        "POST Order",
        "POST OrderDeliveryGroup",
        "POST OrderItem",
        "POST OrderItemAdjustmentLineItem",
        "POST OrderItemTaxLineItem",
        "POST PaymentGroup",
        "POST Payment",
        "PATCH Order",
    ]
    assert graph.nodes[-1] == {
        "url": kit.BASE + "Order/@{refOrder.id}",
        "method": "PATCH",
        "referenceId": "refActivateOrder",
        "body": {"Status": "Activated"},
    }
    assert graph.order_ref == "refOrder" and graph.created_products == {}
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,38}", graph.graph_id)


def test_every_node_has_required_fields_and_valid_references(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any
) -> None:
    """All §5.6 required fields are present; references are @{earlierRef.id} (lower-case id after POST)."""
    body = kit.with_lines(
        sale_body,
        [
            builders.sale_line("1", "NEW-SKU", price="10.00", discount="1.00", tax="0.74"),
            builders.sale_line("2", "SKU-0002", ftype="ONLINE", tax="0.83"),
        ],
        shippingAddress=kit.SHIP_TO,
        shippingCharge="5.00",
    )
    graph = kit.build(body, sf, pos)
    seen: set[str] = set()
    for node in graph.nodes:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_]*", node["referenceId"])
        sobject = node["url"].removeprefix(kit.BASE).split("/")[0]
        if node["method"] == "POST" and sobject in REQUIRED:
            assert REQUIRED[sobject] <= set(node["body"]), (sobject, REQUIRED[sobject] - set(node["body"]))
        text = repr(node)
        for used, field in re.findall(r"@\{(\w+)\.(\w+)\}", text):
            assert used in seen and field == "id", (node["referenceId"], used, field)
        seen.add(node["referenceId"])
    assert len(seen) == len(graph.nodes)


def test_order_body_values(kit: Any, sale_body: Any, sf: Any, pos: Any) -> None:
    """Order: Draft, POS order id as name/reference, UTC dates, context ids, billing from billingAddress."""
    order = kit.nodes_of(kit.build(sale_body(), sf, pos), "Order")[0]["body"]
    assert order == {
        "Name": "S-256-000001",
        "OrderReferenceNumber": "S-256-000001",
        "Status": "Draft",
        "EffectiveDate": "2024-05-31",
        "OrderedDate": "2024-05-31T15:16:20.000Z",
        "AccountId": "001A",
        "SalesChannelId": "0bIPOS",
        "Pricebook2Id": "01sPB",
        "BillingStreet": "1 Main St",
        "BillingCity": "Austin",
        "BillingState": "TX",
        "BillingPostalCode": "78701",
        "BillingCountry": "US",
        "BillingCountryCode": "US",
        "BillingEmailAddress": "a@example.com",
        "BillingPhoneNumber": "+15550100",
    }


def test_anonymous_sale_gets_placeholders(kit: Any, sale_body: Any, sf: Any, pos: Any) -> None:
    """Without customer, e-mail or address the required fields get the documented placeholders."""
    graph = kit.build(sale_body(email=None, customerProfile=None, billingAddress=None), sf, pos)
    order = kit.nodes_of(graph, "Order")[0]["body"]
    assert (
        order["BillingEmailAddress"],
        order["BillingStreet"],
        order["BillingCity"],
        order["BillingState"],
        order["BillingCountryCode"],
    ) == ("pos-256@no-email.invalid", "UNKNOWN", "UNKNOWN", "NA", "US")
    payment = kit.nodes_of(graph, "Payment")[0]["body"]
    assert (payment["Email"], payment["Phone"]) == ("pos-256@no-email.invalid", "0000000000")
    card = kit.nodes_of(graph, "CardPaymentMethod")[0]["body"]
    assert card["CardHolderName"] == "POS Customer"
    group = kit.nodes_of(graph, "OrderDeliveryGroup")[0]["body"]
    assert (group["DeliverToStreet"], group["DeliverToName"]) == ("POS store 256", "POS Customer")


def test_line_item_adjustment_and_tax_amounts(kit: Any, sale_body: Any, sf: Any, pos: Any) -> None:
    """OrderItem prices, promo adjustment as a negative amount, tax Rate in percent, all JSON numbers."""
    graph = kit.build(sale_body(), sf, pos)
    item = kit.nodes_of(graph, "OrderItem")[0]["body"]
    assert item == {
        "OrderId": "@{refOrder.id}",
        "OrderDeliveryGroupId": "@{refDeliveryGroup1.id}",
        "Product2Id": "01tP1",
        "PricebookEntryId": "01uE1",
        "Type": "Order Product",
        "Quantity": 2,
        "UnitPrice": 20.0,
        "ListPrice": 20.0,
        "GrossUnitPrice": 20.0,
        "TotalLineAmount": 40.0,
        "Description": "Tee",
    }
    adjustment = kit.nodes_of(graph, "OrderItemAdjustmentLineItem")[0]["body"]
    assert adjustment == {
        "OrderItemId": "@{refItem1.id}",
        "Name": "PROMO-1",
        "Description": "Spring promo",
        "Amount": -4.0,
    }
    tax = kit.nodes_of(graph, "OrderItemTaxLineItem")[0]["body"]
    assert tax == {
        "OrderItemId": "@{refItem1.id}",
        "Name": "POS tax",
        "Description": "POS tax on line 1",
        "Type": "Actual",
        "Amount": 2.97,
        "Rate": 8.25,
        "TaxEffectiveDate": "2024-05-31",
    }


def test_card_payment_keeps_only_last_four(kit: Any, sale_body: Any, sf: Any, pos: Any) -> None:
    """The card record holds a zero-filled placeholder with the last four; Payment is an external capture."""
    graph = kit.build(sale_body(), sf, pos)
    card = kit.nodes_of(graph, "CardPaymentMethod")[0]
    assert card["body"]["InputCardNumber"] == "0000000000004242"
    assert (card["body"]["CardType"], card["body"]["ProcessingMode"], card["body"]["ExpiryYear"]) == (
        "Visa",
        "External",
        2024,
    )
    payment = kit.nodes_of(graph, "Payment")[0]["body"]
    assert payment == {
        "AccountId": "001A",
        "Amount": 38.97,
        "Date": "2024-05-31T15:16:20.000Z",
        "Email": "a@example.com",
        "Phone": "+15550100",
        "PaymentGatewayId": "0b0CARD",
        "PaymentGroupId": "@{refPaymentGroup.id}",
        "ProcessingMode": "External",
        "Status": "Processed",
        "Type": "Capture",
        "PaymentMethodId": kit.ref(card),
        "GatewayRefNumber": "256-20240531-1",
    }
    assert kit.nodes_of(graph, "PaymentGroup")[0]["body"] == {"SourceObjectId": "@{refOrder.id}"}


def test_missing_products_are_created_in_the_graph(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any
) -> None:
    """Unknown SKUs get Product2 + standard and custom PricebookEntry nodes first; a known product without an
    entry gets only its PricebookEntry; created_products tells the flow which refs to learn."""
    lines = [builders.sale_line("1", "NEW-1", price="12.50"), builders.sale_line("2", "SKU-0002")]
    context = kit.ctx(products={"SKU-0002": ProductRef("01tP2", None)}, standard="01sSTD")
    graph = kit.build(kit.with_lines(sale_body, lines), sf, pos, context)
    assert kit.kinds(graph)[:4] == [
        "POST Product2",
        "POST PricebookEntry",
        "POST PricebookEntry",
        "POST PricebookEntry",
    ]
    product, std, custom, entry2 = graph.nodes[:4]
    assert product["body"] == {
        "Name": "Item NEW-1",
        "ProductCode": "NEW-1",
        "StockKeepingUnit": "NEW-1",
        "Description": "Item NEW-1",
        "IsActive": True,
    }
    assert std["body"] == {
        "Pricebook2Id": "01sSTD",
        "Product2Id": kit.ref(product),
        "UnitPrice": 12.5,
        "IsActive": True,
    }
    assert custom["body"]["Pricebook2Id"] == "01sPB" and entry2["body"]["Product2Id"] == "01tP2"
    items = kit.nodes_of(graph, "OrderItem")
    assert (items[0]["body"]["Product2Id"], items[0]["body"]["PricebookEntryId"]) == (
        kit.ref(product),
        kit.ref(custom),
    )
    assert items[1]["body"]["PricebookEntryId"] == kit.ref(entry2)
    assert graph.created_products == {
        "NEW-1": (product["referenceId"], custom["referenceId"]),
        "SKU-0002": (None, entry2["referenceId"]),  # known product, new price book entry: reported so it is learnt
    }


def test_transaction_discount_uses_header_adjustment_group(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any
) -> None:
    """TRANSACTION_DISCOUNT adjustments link to one Header OrderAdjustmentGroup; line promos do not."""
    line = builders.sale_line("1", "SKU-0001", price="50.00", discount="8.00")
    line["priceAdjustments"] = [
        {"id": "TXN", "price": 5.0, "description": "10% off", "priceAdjustmentType": "TRANSACTION_DISCOUNT"},
        {"id": "P1", "price": 3.0, "priceAdjustmentType": "PROMOTION"},
    ]
    graph = kit.build(kit.with_lines(sale_body, [line], transactionDiscountAmount="5.00"), sf, pos)
    group = kit.nodes_of(graph, "OrderAdjustmentGroup")
    assert [g["body"]["Type"] for g in group] == ["Header"]
    adjustments = [n["body"] for n in kit.nodes_of(graph, "OrderItemAdjustmentLineItem")]
    assert [(a["Name"], a["Amount"], a.get("OrderAdjustmentGroupId")) for a in adjustments] == [
        ("TXN", -5.0, kit.ref(group[0])),
        ("P1", -3.0, None),
    ]


def test_adjustments_not_matching_discount_become_one(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any
) -> None:
    """When priceAdjustments do not add up to the line discount, one "POS discount" carries the discount."""
    line = builders.sale_line("1", "SKU-0001", price="50.00", discount="8.00")
    line["priceAdjustments"] = [{"id": "P1", "price": 3.0}]
    graph = kit.build(kit.with_lines(sale_body, [line]), sf, pos)
    assert [
        (n["body"]["Name"], n["body"]["Amount"]) for n in kit.nodes_of(graph, "OrderItemAdjustmentLineItem")
    ] == [("POS discount", -8.0)]
    assert kit.nodes_of(graph, "OrderAdjustmentGroup") == []


def test_no_tax_no_discount_no_child_nodes(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any
) -> None:
    """A line without tax or discount gets no tax or adjustment nodes; tax Rate is computed when absent."""
    graph = kit.build(
        kit.with_lines(
            sale_body, [builders.sale_line("1", "SKU-0001"), builders.sale_line("2", "SKU-0002", tax="0.80")]
        ),
        sf,
        pos,
    )
    assert kit.nodes_of(graph, "OrderItemAdjustmentLineItem") == []
    assert [
        (n["body"]["OrderItemId"], n["body"]["Rate"]) for n in kit.nodes_of(graph, "OrderItemTaxLineItem")
    ] == [("@{refItem2.id}", 8.0)]


def test_large_sale_rejected_with_clear_message(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any
) -> None:
    """A sale needing more than 500 nodes raises SaleTooLarge (permanent) explaining why it is not split."""
    lines = [builders.sale_line(str(i), "SKU-0001", discount="1.00", tax="0.50") for i in range(170)]
    with pytest.raises(SaleTooLarge) as caught:
        kit.build(kit.with_lines(sale_body, lines), sf, pos)
    assert "needs 516 composite graph nodes; the limit is 500" in str(caught.value)
    assert "one graph to stay atomic" in str(caught.value)
    assert caught.value.transient is False and caught.value.code == "SALE_TOO_LARGE"


@pytest.mark.parametrize(("taxed_only", "nodes", "fits"), [(1, 500, True), (2, 502, False)])
def test_node_limit_boundary(
    kit: Any, sale_body: Any, sf: Any, pos: Any, builders: Any, taxed_only: int, nodes: int, fits: bool
) -> None:
    """Exactly 500 nodes build; one line more is rejected (6 fixed nodes + 3 per discounted taxed line)."""
    lines = [builders.sale_line(str(i), "SKU-0001", discount="1.00", tax="0.50") for i in range(164)]
    lines += [builders.sale_line(f"t{i}", "SKU-0001", tax="0.50") for i in range(taxed_only)]
    body = kit.with_lines(sale_body, lines)
    if fits:
        assert len(kit.build(body, sf, pos).nodes) == nodes
    else:
        with pytest.raises(SaleTooLarge, match=f"needs {nodes} composite graph nodes"):
            kit.build(body, sf, pos)
