"""POS sale -> composite graph (Order ... Activated) -> OrderSummary -> sale record. Never posted twice.

``Order.OrderReferenceNumber`` = POS order id makes a post detectable. First attempts go out together: the
graphs of a claimed batch share ``/composite/graph`` requests (up to 75 graphs / 500 nodes / 15 node types, each
graph atomic on its own), so a burst costs one graph call per request plus one OrderSummary call per sale. The
store's sale record and the outbox's unique key already stop duplicates on a first attempt; any later attempt —
after a crash, a lost answer or an error — first looks the Order up by OrderReferenceNumber and only posts if it
is absent. A graph is atomic, so "absent" means nothing of the sale exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from worker.config import Config
from worker.errors import SALESFORCE_TRANSIENT_CODES, OutcomeUnknown, PermanentError, TransientError
from worker.mapping.graph_limits import next_graph_batch
from worker.mapping.sale import (
    NothingToPost,
    ProductRef,
    SaleContext,
    SaleGraph,
    sale_lookup_keys,
    sale_to_graph,
)
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

    def __init__(self, store: Store, salesforce: PostingApi, config: Config, metrics: Metrics,
                 *, summary_concurrency: int = 8) -> None:
        self.store, self.salesforce, self.config, self.metrics = store, salesforce, config, metrics
        self.cache = SaleLookupCache(salesforce, config)
        self.api_version = config.salesforce.ApiVersion
        self.summary_slots = asyncio.Semaphore(summary_concurrency)

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        """First attempts go out together (many graphs per request); retries one by one, looking up first."""
        first: list[_Pending] = []
        for job in jobs:
            try:
                sale = PosSale.model_validate(job.payload["sale"])
                bound = log.bind(pos_order_id=sale.orderId, endpoint=job.payload.get("endpoint"))
                if await self.store.sale_get(sale.orderId):
                    bound.info("sale_already_posted")
                    outcome.complete(job)
                elif job.attempts > 1:
                    await self._post_again(sale, bound)
                    outcome.complete(job)
                else:
                    first.append(_Pending(job, sale, bound))
            except Exception as exc:
                outcome.fail(job, exc)
        while first:
            first = await self._post_round(first, outcome)

    async def _post_round(self, pending: list[_Pending], outcome: Outcome) -> list[_Pending]:
        """Build every pending sale's graph, send the ones that fit one request; return the ones that wait."""
        built: list[tuple[_Pending, SaleGraph, tuple[str, ...]]] = []
        for item in pending:
            try:
                graph, skus = await self._build(item.sale)
                built.append((item, graph, skus))
            except NothingToPost:
                item.bound.info("sale_nothing_to_post")
                outcome.complete(item.job)
            except Exception as exc:
                outcome.fail(item.job, exc)
        if not built:
            return []
        # A graph creating a Product2 or PricebookEntry waits when another graph of the request creates it too;
        # so does one whose graphId (derived from the POS order id) is already taken in the request.
        chosen = next_graph_batch([(graph.nodes, frozenset([*graph.created_products, f"graphId:{graph.graph_id}"]))
                                   for _, graph, _ in built])
        batch = [built[i] for i in chosen]
        waiting = [item for i, (item, _, _) in enumerate(built) if i not in set(chosen)]
        try:
            results = await self.salesforce.composite_graph(
                [{"graphId": graph.graph_id, "compositeRequest": graph.nodes} for _, graph, _ in batch])
            if len(results) != len(batch):
                raise OutcomeUnknown("salesforce", f"{len(results)} graph results for {len(batch)} graphs")
        except Exception as exc:  # the whole request failed or its answer was lost: each sale looks up first
            for item, graph, _ in batch:
                self.cache.forget_products(graph.created_products)  # they may exist now: look them up again
                outcome.fail(item.job, exc)
            return waiting
        committed: list[tuple[_Pending, str]] = []
        for (item, graph, skus), result in zip(batch, results, strict=True):
            try:
                committed.append((item, self._committed(graph, result, skus, item.bound)))
            except Exception as exc:
                outcome.fail(item.job, exc)

        async def finish(item: _Pending, order_id: str) -> None:
            try:
                async with self.summary_slots:
                    await self._finish(item.sale, order_id, None, item.bound)
                outcome.complete(item.job)
            except Exception as exc:
                outcome.fail(item.job, exc)

        async with asyncio.TaskGroup() as group:
            for item, order_id in committed:
                group.create_task(finish(item, order_id))
        return waiting

    async def _post_again(self, sale: PosSale, bound: Any) -> None:
        """A later attempt: the earlier one may have committed, so look the Order up before posting."""
        existing = await self.find_order(sale.orderId)
        if existing is not None:
            bound.info("sale_found_posted", order_id=existing[0])
            await self._finish(sale, existing[0], existing[1], bound)
            return
        try:
            graph, skus = await self._build(sale)
        except NothingToPost:
            bound.info("sale_nothing_to_post")
            return
        await self._finish(sale, await self._send_one(graph, skus, bound), None, bound)

    async def _send_one(self, graph: SaleGraph, skus: tuple[str, ...], bound: Any) -> str:
        try:
            results = await self.salesforce.composite_graph(
                [{"graphId": graph.graph_id, "compositeRequest": graph.nodes}])
        except Exception:
            self.cache.forget_products(graph.created_products)  # they may exist now: look them up again
            raise
        return self._committed(graph, results[0], skus, bound)

    async def _finish(self, sale: PosSale, order_id: str, summary_id: str | None, bound: Any) -> None:
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

    async def _build(self, sale: PosSale) -> tuple[SaleGraph, tuple[str, ...]]:
        """The sale's graph from cached lookups (NothingToPost for a pure return) and the SKUs it sells."""
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
        return graph, tuple(keys.skus)

    def _committed(self, graph: SaleGraph, result: Any, skus: tuple[str, ...], bound: Any) -> str:
        """The Order id of a committed graph (learning the products it created); the right error otherwise."""
        if not result.is_successful:
            error = graph_failure(result)
            if getattr(error, "code", None) == "DUPLICATE_VALUE":
                self.cache.forget_products(skus)
            raise error
        for sku, (product_ref, entry_ref) in graph.created_products.items():
            product = result.responses.get(product_ref) if product_ref else None
            entry = result.responses.get(entry_ref) if entry_ref else None
            known = self.cache.known_product(sku)
            product_id = str(product.body["id"]) if product is not None else known
            if product_id:
                self.cache.learn_product(sku, product_id, str(entry.body["id"]) if entry is not None else None)
        order_id = str(result.responses[graph.order_ref].body["id"])
        bound.info("sale_graph_committed", order_id=order_id, nodes=len(graph.nodes))
        return order_id


@dataclass
class _Pending:
    job: Job
    sale: PosSale
    bound: Any
