"""POS sale -> one composite graph (Order ... Activated) -> OrderSummary -> sale record. Never posted twice.

``Order.OrderReferenceNumber`` = POS order id makes a post detectable. The first attempt posts directly (the
store's sale record and the outbox's unique key already stop duplicates); any later attempt — after a crash, a
lost answer or an error — first looks the Order up by OrderReferenceNumber and only posts if it is absent.
A graph is atomic, so "absent" means nothing of the sale exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import structlog

from worker.config import Config
from worker.errors import SALESFORCE_TRANSIENT_CODES, PermanentError, TransientError
from worker.mapping.sale import NothingToPost, ProductRef, SaleContext, sale_lookup_keys, sale_to_graph
from worker.metrics import Metrics
from worker.pos.models import PosSale
from worker.salesforce.soql import quote_soql
from worker.store import Job, SaleRecord, Store

from .runner import Outcome
from .sale_lookups import LookupApi, SaleLookupCache

log = structlog.get_logger(__name__)
SUMMARY_PATH = "commerce/order-management/order-summaries"


class PostingApi(LookupApi, Protocol):
    async def composite_graph(self, graphs: list[dict[str, Any]]) -> list[Any]: ...
    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...


def graph_failure(result: Any) -> Exception:
    """Turn a failed graph into the right error kind, naming the node that failed."""
    halted = "PROCESSING_HALTED"
    for ref, node in result.responses.items():
        body = node.body if isinstance(node.body, list) else []
        for err in body:
            code = str(err.get("errorCode") or "")
            if code and code != halted:
                message = f"graph node {ref} failed: {code}: {err.get('message', '')}"
                if code in SALESFORCE_TRANSIENT_CODES:
                    return TransientError("salesforce", message, code=code)
                if code == "DUPLICATE_VALUE":  # our product cache was stale; look again next attempt
                    return TransientError("salesforce", message, code=code)
                return PermanentError("salesforce", message, code=code, fields=list(err.get("fields") or []))
    return TransientError("salesforce", "graph failed without a node error: " + "; ".join(result.errors or []))


class SalePoster:
    queue = "sale"

    def __init__(self, store: Store, salesforce: PostingApi, config: Config, metrics: Metrics) -> None:
        self.store, self.salesforce, self.config, self.metrics = store, salesforce, config, metrics
        self.cache = SaleLookupCache(salesforce, config)
        self.api_version = config.salesforce.ApiVersion

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        for job in jobs:
            try:
                await self.post(job)
                outcome.complete(job)
            except Exception as exc:
                outcome.fail(job, exc)

    async def post(self, job: Job) -> None:
        sale = PosSale.model_validate(job.payload["sale"])
        bound = log.bind(pos_order_id=sale.orderId, endpoint=job.payload.get("endpoint"))
        if await self.store.sale_get(sale.orderId):
            bound.info("sale_already_posted")
            return
        existing = await self.find_order(sale.orderId) if job.attempts > 1 else None
        if existing is None:
            try:
                order_id, summary_id = await self._post_graph(sale, bound), None
            except NothingToPost:
                bound.info("sale_nothing_to_post")
                return
        else:
            order_id, summary_id = existing
            bound.info("sale_found_posted", order_id=order_id)
        if summary_id is None:
            answer = await self.salesforce.connect(SUMMARY_PATH, {
                "orderId": order_id, "orderLifeCycleType": "MANAGED", "name": sale.orderId})
            summary_id = str(answer.get("orderSummaryId") or "") or None
        await self.store.sale_put(SaleRecord(pos_order_id=sale.orderId, order_id=order_id,
                                             order_summary_id=summary_id))
        self.metrics.sales_posted.inc()
        bound.info("sale_posted", order_id=order_id, order_summary_id=summary_id)

    async def find_order(self, reference: str) -> tuple[str, str | None] | None:
        rows = await self.salesforce.query(quote_soql(
            "SELECT Id, Status FROM Order WHERE OrderReferenceNumber = {} LIMIT 1", reference))
        if not rows:
            return None
        order_id = str(rows[0]["Id"])
        summaries = await self.salesforce.query(quote_soql(
            "SELECT Id FROM OrderSummary WHERE OriginalOrderId = {} LIMIT 1", order_id))
        return order_id, (str(summaries[0]["Id"]) if summaries else None)

    async def _post_graph(self, sale: PosSale, bound: Any) -> str:
        keys = sale_lookup_keys(sale, pos=self.config.pos, sf=self.config.salesforce)
        await self.cache.stable(keys.delivery_methods, keys.gateways)
        account_id = await self.cache.account_for(keys.email)
        products = await self.cache.products_for(keys.skus)
        assert self.cache.pricebook is not None and self.cache.channel is not None
        ctx = SaleContext(
            account_id=account_id, pricebook_id=self.cache.pricebook, sales_channel_id=self.cache.channel,
            delivery_method_ids=dict(self.cache.delivery_methods), gateway_ids=dict(self.cache.gateways),
            products={sku: ProductRef(product2_id=p, pricebook_entry_id=e) for sku, (p, e) in products.items()},
            standard_pricebook_id=self.cache.standard_pricebook,
        )
        graph = sale_to_graph(sale, ctx, api_version=self.api_version, sf=self.config.salesforce, pos=self.config.pos)
        results = await self.salesforce.composite_graph([{"graphId": graph.graph_id, "compositeRequest": graph.nodes}])
        result = results[0]
        if not result.is_successful:
            error = graph_failure(result)
            if getattr(error, "code", None) == "DUPLICATE_VALUE":
                self.cache.forget_products(keys.skus)
            raise error
        for sku, (product_ref, entry_ref) in graph.created_products.items():
            product = result.responses.get(product_ref) if product_ref else None
            entry = result.responses.get(entry_ref) if entry_ref else None
            product_id = str(product.body["id"]) if product is not None else ctx.products[sku].product2_id
            self.cache.learn_product(sku, product_id, str(entry.body["id"]) if entry is not None else None)
        order_id = str(result.responses[graph.order_ref].body["id"])
        bound.info("sale_graph_committed", order_id=order_id, nodes=len(graph.nodes))
        return order_id
