"""The store day of ``oms-worker demo --pos graphql``: the worker on the GraphQL POS back-end
(``config/demo-graphql.yaml``) reads sale history from the emulator's ``/graphql``; in-store sales of every kind,
a return and an exchange are rung up and each must be posted to the Salesforce emulator once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from worker.demo import Demo

SALES = [("in_store", "card"), ("in_store", "cash"), ("pickup_later", "cash"), ("endless_aisle", "wallet"),
         ("mixed_cart", "split")]


async def graphql_store_day(demo: Demo, seed: dict[str, Any]) -> dict[str, Any]:
    from worker.demo import _say

    sf, pos = f"{demo.sf_url}/__admin", f"{demo.pos_url}/__admin"
    await demo.call("POST", f"{sf}/seed", seed)
    if not await demo.until("worker ready (/readyz 200)", lambda: demo._status(f"{demo.worker_url}/readyz", 200),
                            limit=60):
        return {}
    await demo.call("POST", f"{sf}/counters/reset")
    _say("in-store sales of every kind at the GraphQL POS (the worker polls its sale history)")
    sale_ids = [str((await demo.call("POST", f"{pos}/sales", {"kind": k, "tender": t, "store": "256"}))["orderId"])
                for k, t in SALES]

    async def orders() -> list[str]:
        rows = await demo.call("GET", f"{sf}/records/Order")
        return [str(r.get("OrderReferenceNumber")) for r in rows.get("records", rows)]

    async def posted() -> bool:
        return set(sale_ids) <= set(await orders())

    await demo.until(f"{len(sale_ids)} sales posted as Orders with OrderSummaries", posted, 60)
    _say("a return of a card sale and an exchange of a cash sale (both take-with)")
    await demo.call("POST", f"{pos}/sales", {"kind": "return", "tender": "card", "store": "256",
                                             "original_order_id": sale_ids[0],
                                             "return_lines": [{"orderItemId": "1", "quantity": 1}]})
    exchange = await demo.call("POST", f"{pos}/sales", {"kind": "exchange", "tender": "cash", "store": "256",
                                                        "original_order_id": sale_ids[1]})
    sale_ids.append(str(exchange["orderId"]))

    async def refunded() -> bool:
        memos = await demo.call("GET", f"{sf}/records/CreditMemo")
        return len(memos.get("records", memos)) >= 2 and str(exchange["orderId"]) in await orders()

    await demo.until("the return and the exchange refunded, the exchange posted", refunded, 60)
    found = await orders()
    if any(found.count(sale) != 1 for sale in sale_ids):
        demo.failures.append("a sale was posted more than once")
    counters = await demo.call("GET", f"{sf}/counters")
    return {"fulfillment_orders": 0, "sales": len(sale_ids) + 1, "counters": counters}
