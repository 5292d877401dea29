"""POS sale -> composite graph (Order ... Activated), then finished (:mod:`.sale_finishing`). Never posted twice.

``Order.OrderReferenceNumber`` = POS order id makes a post detectable. Sales never sent go out together: the
graphs of a claimed batch share ``/composite/graph`` requests (up to 75 graphs / 500 nodes / 15 node types, each
graph atomic on its own), so a burst costs one graph call per request. Each committed sale is then finished
(:mod:`.sale_finishing`: its OrderSummary — one Connect call per sale, or with ``salesforce.order_summary:
org_flow`` one SOQL per batch —, the batch's take-with fulfilment, then the sale record, written last so a retry
resumes the step).

Whether a sale may already be in Salesforce is decided from durable records, never from attempt counters: right
before a graph request (after confirming the jobs' leases) the store notes that the sale's graph was sent. Any
later handling of a noted sale — after a crash, a lost answer, a drain, a lost lease or ``dlq retry`` — waits out
the settle window (a call still in flight may yet land), then looks the batch's Orders up by OrderReferenceNumber
in one SOQL (plus one for their OrderSummaries) and posts only the ones absent. A graph is atomic, so "absent"
means nothing of the sale exists. The OrderSummary call is noted the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
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
from worker.refused_sales import refused_of
from worker.salesforce.soql import in_list
from worker.store import Job, Store

from .effects import Effects, settle_seconds, settling_error
from .runner import Outcome
from .sale_finishing import SALE_EFFECT, FinishingApi, Pending, SaleFinisher
from .sale_lookups import LookupApi, SaleLookupCache
from .sale_refused import handle_refused

log = structlog.get_logger(__name__)
LOOKUP_CHUNK = 200  # references per look-up SOQL (well inside the URI and IN-list limits)
ROLLED_BACK_KEPT = 10_000  # bound on remembered rolled-back graphs (dead-lettered sales would stay otherwise)


class PostingApi(LookupApi, FinishingApi, Protocol):
    async def composite_graph(self, graphs: list[dict[str, Any]]) -> list[Any]: ...


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
        self.api_version = config.salesforce.graph_api_version  # node URLs match the graph request's version
        self.effects = Effects(store, settle_seconds(config))
        self.finisher = SaleFinisher(store, salesforce, config, metrics, self.effects,
                                     summary_concurrency=summary_concurrency)
        # POS order id -> the durable note of the graph Salesforce answered as failed (atomic: nothing of the sale
        # exists). While that note is still the last one, this process posts again without the settle wait; a newer
        # note means another process sent the sale since, so the usual wait and look-up apply (as after a restart).
        self.rolled_back: dict[str, datetime] = {}

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        """Sales never sent go out together; sales whose graph may have been sent are looked up first (batched)."""
        pending: list[Pending] = []
        for job in jobs:
            try:
                if (refused := refused_of(job.payload)) is not None:  # a sale the sources could not turn into rows
                    await handle_refused(self.store, job, refused, outcome)
                    continue
                sale = PosSale.model_validate(job.payload["sale"])
                bound = log.bind(pos_order_id=sale.orderId, endpoint=job.payload.get("endpoint"))
                if await self.store.sale_get(sale.orderId):
                    bound.info("sale_already_posted")
                    outcome.complete(job)
                else:
                    pending.append(Pending(job, sale, bound))
            except Exception as exc:
                outcome.fail(job, exc)
        try:
            fresh = await self._resume(pending, outcome)
        except Exception as exc:  # the look-up failed: every sale that needed it waits for the next attempt
            for item in pending:
                outcome.fail(item.job, exc)
            return
        while fresh:
            fresh = await self._post_round(fresh, outcome)

    async def _resume(self, pending: list[Pending], outcome: Outcome) -> list[Pending]:
        """Split by the durable record of sent graphs: never sent -> post; sent long enough ago -> one batched
        look-up by OrderReferenceNumber (found: finish it; absent: post, a graph is atomic); sent recently -> the
        call may still land, so wait (retry after the settle window) rather than guess."""
        split = await self.effects.split(SALE_EFFECT, [item.sale.orderId for item in pending])
        fresh: list[Pending] = []
        look: list[Pending] = []
        for item in pending:
            wait = split.settling.get(item.sale.orderId)
            noted = self.rolled_back.pop(item.sale.orderId, None)
            if noted is not None and noted == split.started.get(item.sale.orderId):  # rolled back, nobody sent since
                fresh.append(item)
            elif wait is not None:
                item.bound.info("sale_settling", wait_s=round(wait, 2))
                outcome.fail(item.job, settling_error("the sale's graph", wait))
            elif item.sale.orderId in split.look:
                look.append(item)
            else:
                fresh.append(item)
        if not look:
            return fresh
        found = await self.find_orders([item.sale.orderId for item in look])
        finishing: list[tuple[Pending, str, str | None]] = []
        for item in look:
            if item.sale.orderId in found:
                order_id, summary_id = found[item.sale.orderId]
                item.bound.info("sale_found_posted", order_id=order_id)
                finishing.append((item, order_id, summary_id))
            else:
                fresh.append(item)
        await self.finisher.finish_all(finishing, outcome)
        return fresh

    async def _post_round(self, pending: list[Pending], outcome: Outcome) -> list[Pending]:
        """Build every pending sale's graph, send the ones that fit one request; return the ones that wait."""
        built: list[tuple[Pending, SaleGraph, tuple[str, ...]]] = []
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
        waiting = [item for i, (item, _, _) in enumerate(built) if i not in set(chosen)]
        try:
            # Fence, then note, then send: a job whose lease was lost is dropped before the call, and the note
            # (durable before the request leaves) makes every later attempt look the Order up first.
            held = {job.id for job in await outcome.confirm([built[i][0].job for i in chosen])}
            batch = [built[i] for i in chosen if built[i][0].job.id in held]
            if not batch:
                return waiting
            await self.effects.note(SALE_EFFECT, [item.sale.orderId for item, _, _ in batch])
        except Exception as exc:  # the store failed: nothing was sent
            for i in chosen:
                outcome.fail(built[i][0].job, exc)
            return waiting
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
        committed: list[tuple[Pending, str, str | None]] = []
        rolled_back: list[str] = []
        for (item, graph, skus), result in zip(batch, results, strict=True):
            try:
                committed.append((item, self._committed(graph, result, skus, item.bound), None))
            except Exception as exc:
                if not result.is_successful:  # Salesforce answered that this graph rolled back whole
                    rolled_back.append(item.sale.orderId)
                outcome.fail(item.job, exc)
        await self._remember_rolled_back(rolled_back)
        await self.finisher.finish_all(committed, outcome)
        return waiting

    async def _remember_rolled_back(self, order_ids: list[str]) -> None:
        """Keep the durable note of each rolled-back graph (ours: the job's lease was held when it was sent)."""
        if not order_ids:
            return
        try:
            notes = await self.store.effects_started(SALE_EFFECT, order_ids)
        except Exception:  # not remembered: the retry waits out the settle window and looks first, as a restart
            return
        if len(self.rolled_back) + len(notes) > ROLLED_BACK_KEPT:  # forgetting only means waiting the settle window
            self.rolled_back.clear()
        self.rolled_back.update(notes)

    async def find_orders(self, references: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """Orders posted for these POS order ids: {reference: (Order Id, OrderSummary Id | None)}; two SOQL."""
        found: dict[str, tuple[str, str | None]] = {}
        for start in range(0, len(references), LOOKUP_CHUNK):
            chunk = list(references[start:start + LOOKUP_CHUNK])
            rows = await self.salesforce.query(
                f"SELECT Id, OrderReferenceNumber FROM Order WHERE OrderReferenceNumber IN {in_list(chunk)}")
            orders = {str(r["OrderReferenceNumber"]): str(r["Id"]) for r in rows}
            summaries: dict[str, str] = {}
            if orders:
                rows = await self.salesforce.query("SELECT Id, OriginalOrderId FROM OrderSummary WHERE "
                                                   f"OriginalOrderId IN {in_list(sorted(orders.values()))}")
                summaries = {str(r["OriginalOrderId"]): str(r["Id"]) for r in rows}
            found.update({ref: (order, summaries.get(order)) for ref, order in orders.items()})
        return found

    async def _build(self, sale: PosSale) -> tuple[SaleGraph, tuple[str, ...]]:
        """The sale's graph from cached lookups (NothingToPost for a pure return) and the SKUs it sells."""
        keys = sale_lookup_keys(sale, pos=self.config.pos, sf=self.config.salesforce)
        await self.cache.stable(keys.delivery_methods, keys.gateways)
        account = await self.cache.account_for(keys.email)
        products = await self.cache.products_for(keys.skus)
        assert self.cache.pricebook is not None and self.cache.channel is not None
        ctx = SaleContext(
            account_id=account.account_id, pricebook_id=self.cache.pricebook, sales_channel_id=self.cache.channel,
            delivery_method_ids=dict(self.cache.delivery_methods), gateway_ids=dict(self.cache.gateways),
            products={sku: ProductRef(product2_id=p, pricebook_entry_id=e) for sku, (p, e) in products.items()},
            standard_pricebook_id=self.cache.standard_pricebook, bill_to_contact_id=account.contact_id,
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

