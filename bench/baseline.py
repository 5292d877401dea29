"""The baseline of issue 21: the POS connector as the integration guide describes it, doing the worker's work.

Per sale, as each webhook arrives: the look-ups (customer account, default account, price book, sales channel,
delivery methods; and the products, without which no graph can be built), then one composite graph for that sale,
one OrderSummary Connect call, and, for take-with lines, the same fulfilment the worker does (the summary's groups,
the store's Location, one FulfillmentOrder create, one status PATCH). Per FulfillmentOrder event: one SOQL, then the
POS import (no payments query: the guide's connector reads the FO with one query).

So the comparison is of approach, not of code: it reuses the worker's own HTTP clients, queries and pure mappings
(``SaleLookupCache`` is built afresh for every sale, so nothing is remembered between sales), and runs against the
same emulators with the same latency profile in the same bench run. Nothing is batched and nothing is cached.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from worker.config import Config
from worker.flows.sale_finishing import SUMMARY_PATH
from worker.flows.sale_fulfilment import (
    FO_PATH,
    TAKE_WITH,
    create_body,
    has_take_with,
    locations_soql,
    plan_take_with,
    summaries_soql,
)
from worker.flows.sale_lookups import SaleLookupCache
from worker.mapping.fulfillment import fo_to_pos_order
from worker.mapping.fulfillment_query import build_fulfillment_query
from worker.mapping.sale import ProductRef, SaleContext, sale_lookup_keys, sale_to_graph
from worker.pos.client import PosClient
from worker.pos.models import PosSale
from worker.retry import RetryPolicy
from worker.salesforce.auth import TokenProvider
from worker.salesforce.rest import SalesforceRest


class GuideConnector:
    def __init__(self, config: Config, http: aiohttp.ClientSession) -> None:
        self.config = config
        tokens = TokenProvider(config.salesforce, config.auth, http)
        self.sf = SalesforceRest(config.salesforce, tokens, http, retry=RetryPolicy(attempts=3, base_delay=0.05))
        self.pos = PosClient(config.pos, http)

    async def post_sale(self, raw: dict[str, Any]) -> str:
        """Post one POS sale the guide's way; its OrderSummary Id."""
        sf, pos = self.config.salesforce, self.config.pos
        sale = PosSale.model_validate(raw)
        keys = sale_lookup_keys(sale, pos=pos, sf=sf)
        lookups = SaleLookupCache(self.sf, self.config)  # afresh: every sale looks everything up again
        await lookups.stable(keys.delivery_methods, keys.gateways)
        account = await lookups.account_for(keys.email)
        products = await lookups.products_for(keys.skus)
        assert lookups.pricebook is not None and lookups.channel is not None
        ctx = SaleContext(
            account_id=account.account_id, pricebook_id=lookups.pricebook, sales_channel_id=lookups.channel,
            delivery_method_ids=dict(lookups.delivery_methods), gateway_ids=dict(lookups.gateways),
            products={sku: ProductRef(product2_id=p, pricebook_entry_id=e) for sku, (p, e) in products.items()},
            standard_pricebook_id=lookups.standard_pricebook, bill_to_contact_id=account.contact_id)
        graph = sale_to_graph(sale, ctx, api_version=sf.graph_api_version, sf=sf, pos=pos)
        [result] = await self.sf.composite_graph([{"graphId": graph.graph_id, "compositeRequest": graph.nodes}])
        if not result.is_successful:
            raise RuntimeError(f"baseline graph failed: {result.errors}")
        order_id = str(result.responses[graph.order_ref].body["id"])
        answer = await self.sf.connect(SUMMARY_PATH, {"orderId": order_id, "orderLifeCycleType": "MANAGED",
                                                      "name": sale.orderId})
        summary_id = str(answer["orderSummaryId"])
        if self.config.worker.fulfil_take_with and has_take_with(sale):
            await self._fulfil(sale, summary_id)
        return summary_id

    async def _fulfil(self, sale: PosSale, summary_id: str) -> None:
        sf = self.config.salesforce
        [row] = await self.sf.query(summaries_soql([summary_id]))
        plan = plan_take_with(row, sf.delivery_method_name(TAKE_WITH))
        if plan is None or not plan.lines:
            return
        locations = await self.sf.query(locations_soql(sf.store_id_field, [sale.storeId]))
        answer = await self.sf.connect(FO_PATH, create_body(summary_id, plan, str(locations[0]["Id"])))
        status = self.config.worker.status_mapping.get("DELIVERED", "Fulfilled")
        await self.sf.collections_update([{"attributes": {"type": "FulfillmentOrder"}, "id": str(fo), "Status": status}
                                          for fo in answer["fulfillmentOrderIds"]])

    async def import_fo(self, fo_id: str) -> None:
        """Import one FulfillmentOrder the guide's way: one SOQL, then the POS import."""
        sf = self.config.salesforce
        [record] = await self.sf.query(build_fulfillment_query([fo_id], sf.FilterQuery, sf.OMSCustomField))
        order = fo_to_pos_order(record, sf=sf, now_ms=int(time.time() * 1000))
        await self.pos.import_fulfillment_order(order.model_dump(mode="json", by_alias=True, exclude_none=True))
