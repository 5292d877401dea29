"""POS sale -> ONE Salesforce composite graph (DESIGN flow 2; salesforce-wire.md §1 and §5.6), pure.

Node order follows §5.6, with the one documented nuance that OrderDeliveryGroup must exist before the
OrderItems that reference it: Product2 -> PricebookEntry (only for SKUs missing from the context) ->
CardPaymentMethod/DigitalWallet -> Order (Draft) -> OrderDeliveryGroup (one per delivery method used) ->
OrderItem (per sold line, then the delivery charge) -> OrderAdjustmentGroup (transaction discounts) ->
OrderItemAdjustmentLineItem -> OrderItemTaxLineItem -> PaymentGroup -> Payment (per tender) -> PATCH Order
Activated. References use ``@{ref.id}`` (lower-case ``id`` after a POST).

Scope: only ``orderProductList`` is posted. Returned lines (``returnProductList``) belong to the returns flow,
so a pure return raises ``NothingToPost``; for an exchange, only tenders with a positive amount become
Payments (the refund side and any exchange credit are the returns flow's). Cash tenders have no payment method
record (the POS sends none) and their Payment has no ``PaymentMethodId``. The graph is checked against the
Composite Graph limits; a sale that would break them raises ``SaleTooLarge`` rather than being split (see that
class).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from worker.config import PosConfig, SalesforceConfig
from worker.pos.models import PosSale

from . import sale_nodes as n
from .errors import MappingError, NothingToPost
from .graph_limits import check_graph_limits
from .money import ZERO, money_json
from .sale_keys import (
    DELIVERY_CHARGE_SKU,
    SaleLookups,
    gateway_name,
    paid_tenders,
    sale_lookup_keys,
    sale_skus,
    sold_lines,
)

__all__ = [
    "DELIVERY_CHARGE_SKU",
    "NothingToPost",
    "ProductRef",
    "SaleContext",
    "SaleGraph",
    "SaleLookups",
    "sale_lookup_keys",
    "sale_to_graph",
]
ORDER_REF = "refOrder"


@dataclass(frozen=True)
class ProductRef:
    product2_id: str
    pricebook_entry_id: str | None = None


@dataclass(frozen=True)
class SaleContext:
    """Salesforce ids resolved by the flow for one sale (see ``sale_lookup_keys``)."""

    account_id: str
    pricebook_id: str
    sales_channel_id: str
    delivery_method_ids: Mapping[str, str]
    products: Mapping[str, ProductRef]
    gateway_ids: Mapping[str, str]
    standard_pricebook_id: str | None = None  # when set, created products also get a standard price first
    bill_to_contact_id: str | None = None  # the customer's Person Account contact (PersonContactId), when known


@dataclass(frozen=True)
class SaleGraph:
    graph_id: str
    nodes: list[dict[str, Any]]
    order_ref: str
    created_products: Mapping[str, tuple[str | None, str | None]] = field(
        default_factory=dict
    )  # sku -> (Product2 ref or None when the product already existed, PricebookEntry ref)


class _Graph:
    def __init__(self, api_version: str) -> None:
        self.base = f"/services/data/{api_version}/sobjects"
        self.nodes: list[dict[str, Any]] = []

    def post(self, sobject: str, ref: str, body: dict[str, Any]) -> str:
        self.nodes.append(
            {"url": f"{self.base}/{sobject}", "method": "POST", "referenceId": ref, "body": body}
        )
        return f"@{{{ref}.id}}"

    def patch(self, sobject: str, record: str, ref: str, body: dict[str, Any]) -> None:
        self.nodes.append(
            {"url": f"{self.base}/{sobject}/{record}", "method": "PATCH", "referenceId": ref, "body": body}
        )


def graph_id_for(order_id: str) -> str:
    """A valid graphId (alphanumeric start, < 40 chars, no '.') derived from the POS order id."""
    return ("sale_" + re.sub(r"[^A-Za-z0-9_-]", "_", order_id))[:39]


def _products(
    g: _Graph, sale: PosSale, ctx: SaleContext
) -> tuple[dict[str, tuple[str, str]], dict[str, Any]]:
    """sku -> (Product2Id expr, PricebookEntryId expr); Product2/PricebookEntry nodes for what ctx lacks."""
    names = {line.productId: (line.name or line.productId, line.price) for line in sale.orderProductList}
    names.setdefault(DELIVERY_CHARGE_SKU, ("Delivery Charge", sale.shippingCharge))
    refs: dict[str, tuple[str, str]] = {}
    created: dict[str, Any] = {}
    for i, sku in enumerate(sale_skus(sale), start=1):
        name, price = names[sku]
        known = ctx.products.get(sku)
        product = (
            known.product2_id if known else g.post("Product2", f"refProduct{i}", n.product_body(sku, name))
        )
        entry = known.pricebook_entry_id if known else None
        if entry is None:
            if known is None and ctx.standard_pricebook_id:
                g.post(
                    "PricebookEntry",
                    f"refStdPrice{i}",
                    n.pricebook_entry_body(ctx.standard_pricebook_id, product, price),
                )
            entry = g.post(
                "PricebookEntry", f"refPrice{i}", n.pricebook_entry_body(ctx.pricebook_id, product, price)
            )
        if known is None:
            created[sku] = (f"refProduct{i}", f"refPrice{i}")
        elif known.pricebook_entry_id is None:
            created[sku] = (None, f"refPrice{i}")  # only the price book entry is new: the flow learns it too
        refs[sku] = (product, entry)
    return refs, created


def _gateway(ctx: SaleContext, name: str | None) -> str | None:
    if name is None:
        return None  # no gateway configured for this tender kind: the records carry none
    gateway = ctx.gateway_ids.get(name)
    if not gateway:
        raise MappingError(f"PaymentGateway {name!r} was not resolved", fields=["gateway_ids"])
    return gateway


def _payment_methods(g: _Graph, sale: PosSale, ctx: SaleContext, gateways: list[str | None]) -> list[str | None]:
    """One CardPaymentMethod (card) or DigitalWallet (wallet, cash) node per tender."""
    methods: list[str | None] = []
    for i, (tender, gateway) in enumerate(zip(paid_tenders(sale), gateways, strict=True), start=1):
        sobject, body = n.payment_method(tender, sale, account_id=ctx.account_id, gateway_id=gateway)
        methods.append(g.post(sobject, f"refPayMethod{i}", body))
    return methods


def _delivery_groups(
    g: _Graph, sale: PosSale, ctx: SaleContext, order: str, pos: PosConfig, sf: SalesforceConfig
) -> dict[str, str]:
    """One OrderDeliveryGroup per delivery method used, in first-use order: key -> reference."""
    groups: dict[str, str] = {}
    for line in sold_lines(sale):
        key = line.delivery_key
        if key in groups:
            continue
        name = sf.delivery_method_name(key)
        method_id = ctx.delivery_method_ids.get(name)
        if not method_id:
            raise MappingError(
                f"OrderDeliveryMethod {name!r} was not resolved", fields=["delivery_method_ids"]
            )
        if line.fulfillmentType.value == "ONLINE" and sale.shippingAddress is None:
            raise MappingError(
                f"sale {sale.orderId}: shippingAddress is required for ONLINE lines",
                fields=["shippingAddress"],
            )
        body = n.delivery_group_body(sale, line, order=order, method_id=method_id, pos=pos)
        groups[key] = g.post("OrderDeliveryGroup", f"refDeliveryGroup{len(groups) + 1}", body)
    return groups


def _order_items(
    g: _Graph, sale: PosSale, order: str, groups: Mapping[str, str], products: Mapping[str, tuple[str, str]]
) -> list[str]:
    """OrderItem per sold line, then the delivery charge item; returns the line items' references."""
    items: list[str] = []
    for i, line in enumerate(sold_lines(sale), start=1):
        product, entry = products[line.productId]
        body = n.order_item_body(
            order=order,
            group=groups[line.delivery_key],
            product=product,
            entry=entry,
            quantity=line.quantity,
            price=line.price,
            line_amount=line.subTotal,
            description=line.name or line.productId,
        )
        items.append(g.post("OrderItem", f"refItem{i}", body))
    if sale.shippingCharge > ZERO:
        product, entry = products[DELIVERY_CHARGE_SKU]
        online = [ref for key, ref in groups.items() if key.startswith("ONLINE-")]
        body = n.order_item_body(
            order=order,
            group=(online or list(groups.values()))[0],
            product=product,
            entry=entry,
            quantity=Decimal(1),
            price=sale.shippingCharge,
            line_amount=sale.shippingCharge,
            description="Delivery Charge",
            kind="Delivery Charge",
        )
        g.post("OrderItem", "refDeliveryCharge", body)
    return items


def _adjustments_and_taxes(g: _Graph, sale: PosSale, order: str, items: list[str]) -> None:
    lines = sold_lines(sale)
    adjustments = [
        (item, adj) for item, line in zip(items, lines, strict=True) for adj in n.line_adjustments(line)
    ]
    header = None
    if any(adj.transaction for _, adj in adjustments):
        header = g.post(
            "OrderAdjustmentGroup",
            "refAdjustmentGroup",
            {
                "OrderId": order,
                "Name": "POS transaction discount",
                "Description": "POS transaction discount",
                "Type": "Header",
            },
        )
    for k, (item, adj) in enumerate(adjustments, start=1):
        body: dict[str, Any] = {
            "OrderItemId": item,
            "Name": adj.name,
            "Description": adj.description,
            "Amount": money_json(-adj.amount),
        }
        if adj.transaction and header:
            body["OrderAdjustmentGroupId"] = header
        g.post("OrderItemAdjustmentLineItem", f"refAdjustment{k}", body)
    for i, (item, line) in enumerate(zip(items, lines, strict=True), start=1):
        if line.tax != ZERO:
            g.post(
                "OrderItemTaxLineItem",
                f"refTax{i}",
                n.tax_body(line, item=item, order_date_ms=sale.orderDate),
            )


def sale_to_graph(
    sale: PosSale,
    ctx: SaleContext,
    *,
    api_version: str,
    sf: SalesforceConfig,
    pos: PosConfig,
) -> SaleGraph:
    """Build the composite graph that creates and activates the Order of a POS sale."""
    sold_lines(sale)  # NothingToPost for a pure return
    g = _Graph(api_version)
    products, created = _products(g, sale, ctx)
    tenders = paid_tenders(sale)
    gateways = [_gateway(ctx, gateway_name(t, sf=sf)) for t in tenders]
    methods = _payment_methods(g, sale, ctx, gateways)
    order_body = n.order_body(
        sale,
        account_id=ctx.account_id,
        channel_id=ctx.sales_channel_id,
        pricebook_id=ctx.pricebook_id,
        pos=pos,
        contact_id=ctx.bill_to_contact_id,
    )
    order = g.post("Order", ORDER_REF, order_body)
    groups = _delivery_groups(g, sale, ctx, order, pos, sf)
    items = _order_items(g, sale, order, groups, products)
    _adjustments_and_taxes(g, sale, order, items)
    payment_group = g.post("PaymentGroup", "refPaymentGroup", {"SourceObjectId": order})
    for i, (tender, gateway, method) in enumerate(zip(tenders, gateways, methods, strict=True), start=1):
        body = n.payment_body(
            tender, sale, account_id=ctx.account_id, gateway_id=gateway, group=payment_group, method=method
        )
        g.post("Payment", f"refPayment{i}", body)
    g.patch("Order", order, "refActivateOrder", {"Status": "Activated"})

    check_graph_limits(g.nodes, f"sale {sale.orderId}")
    return SaleGraph(
        graph_id=graph_id_for(sale.orderId), nodes=g.nodes, order_ref=ORDER_REF, created_products=created
    )
