"""What must be resolved in Salesforce before a POS sale becomes a composite graph (DESIGN flow 2).

Pure: names only. The flow looks them up (cached) and hands the ids back in a ``SaleContext``.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.config import PosConfig, SalesforceConfig
from worker.pos.models import PaymentMethod, PosSale, SaleLine, Tender

from .errors import NothingToPost
from .money import ZERO

DELIVERY_CHARGE_SKU = (
    "POS-DELIVERY-CHARGE"  # Product2 of the delivery-charge OrderItem (created when missing)
)


@dataclass(frozen=True)
class SaleLookups:
    email: str | None
    account_name: str
    pricebook_name: str
    sales_channel_names: tuple[str, ...]
    delivery_methods: tuple[str, ...]
    skus: tuple[str, ...]
    gateways: tuple[str, ...]


def sold_lines(sale: PosSale) -> list[SaleLine]:
    """Lines the sale graph posts (returned lines are the returns flow's); none -> ``NothingToPost``."""
    if not sale.orderProductList:
        raise NothingToPost(
            f"sale {sale.orderId}: no sold lines (a pure return is handled by the returns flow)"
        )
    return list(sale.orderProductList)


def paid_tenders(sale: PosSale) -> list[Tender]:
    """Tenders paying for the sold lines; negative ones (exchange refunds) are the returns flow's."""
    return [t for t in sale.tenders if t.amountAuthorized > ZERO]


def gateway_name(tender: Tender, *, sf: SalesforceConfig) -> str | None:
    """The PaymentGateway name of a tender's payment records: OMSCashPaymentGatewayName for cash, the configured
    card gateway for cards and wallets; None (no gateway set) when that one is not configured."""
    name = sf.OMSCashPaymentGatewayName if tender.paymentMethod is PaymentMethod.CASH else sf.card_payment_gateway_name
    return name or None


def sale_skus(sale: PosSale) -> list[str]:
    skus = [line.productId for line in sold_lines(sale)]
    if sale.shippingCharge > ZERO:
        skus.append(DELIVERY_CHARGE_SKU)
    return list(dict.fromkeys(skus))


def sale_lookup_keys(sale: PosSale, *, pos: PosConfig, sf: SalesforceConfig) -> SaleLookups:
    """Names to resolve before building the graph; raises ``NothingToPost`` for a pure return."""
    lines = sold_lines(sale)
    seed = pos.seed_name
    return SaleLookups(
        email=sale.customer_email,
        account_name=seed,
        pricebook_name=seed,
        sales_channel_names=("POS", f"{seed}-POS"),
        delivery_methods=tuple(dict.fromkeys(sf.delivery_method_name(line.delivery_key) for line in lines)),
        skus=tuple(sale_skus(sale)),
        gateways=tuple(
            dict.fromkeys(name for t in paid_tenders(sale) if (name := gateway_name(t, sf=sf)) is not None)
        ),
    )
