"""RETURN webhooks -> submit-return -> create-credit-memo -> ensure-refunds-async, once per POS return.

Each step's result is recorded (store meta keyed by the POS return id) before the next step, so a retry after a
crash or a lost answer resumes at the first unfinished step instead of returning the goods twice. Return lines
are matched to OrderItemSummaries by the POS line's original id when it is one (BORIS: the POS got it from our
order-detail SPI), else by SKU with quantity still returnable (never trusting a POS line id alone). Returnable is
OMS's own ``QuantityAvailableToReturn`` (fulfilled - return initiated): asking for more is refused with a clear
permanent error before any call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from worker.config import DEFAULT_RETURN_REASONS, ReturnsConfig
from worker.errors import PermanentError, TransientError
from worker.metrics import Metrics
from worker.order_history import OrderApi, detail_query, returnable
from worker.salesforce.soql import quote_soql
from worker.store import Job, Store

from .effects import Effects
from .runner import Outcome

log = structlog.get_logger(__name__)
ACTIONS = "commerce/order-management/order-summaries/{id}"
RETURN_EFFECT = "submit_return"
MEMO_EFFECT = "credit_memo"


def _ambiguous(action: str, key: str, found: int) -> PermanentError:
    return PermanentError("salesforce", f"{action} for {key} was sent before but {found} records match it; check "
                          "the OrderSummary and finish the refund by hand", code="RETURN_AMBIGUOUS")


def _returned(item: dict[str, Any]) -> Decimal:
    """Quantity returned or pending return: ``QuantityReturnInitiated`` includes the returned quantity (Object
    Reference, OrderItemSummary); the larger of the two in case an org counts only ``QuantityReturned``."""
    return max(Decimal(str(item.get(k) or 0)) for k in ("QuantityReturnInitiated", "QuantityReturned"))
# POS return reason codes -> OrderItemSummaryChange.Reason picklist values (salesforce-wire.md 5.5: reason must be
# a picklist value). A value that already is one of these labels passes through; anything else becomes Unknown.
def change_reason(pos_reason: Any, reasons: Mapping[str, str] = DEFAULT_RETURN_REASONS,
                  default: str = "Unknown") -> str:
    """The Salesforce change reason for a POS return reason (code or label); ``default`` when not recognised."""
    text = str(pos_reason or "").strip()
    if text in reasons.values():
        return text
    return reasons.get(text.upper().replace(" ", "_"), default)


def plan_return(lines: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]], *,
                reasons: Mapping[str, str] = DEFAULT_RETURN_REASONS, default_reason: str = "Unknown",
                ) -> list[dict[str, Any]]:
    """Pure: POS return lines + OrderItemSummary rows -> changeItems; raises PermanentError on over-return."""
    left = {str(i["Id"]): returnable(i) for i in items if i.get("Type") in (None, "Order Product")}
    by_sku: dict[str, list[str]] = {}
    for item in items:
        if str(item["Id"]) in left and item.get("StockKeepingUnit"):
            by_sku.setdefault(str(item["StockKeepingUnit"]), []).append(str(item["Id"]))
    chosen: dict[str, Decimal] = {}
    chosen_reasons: dict[str, str] = {}
    for line in lines:
        qty = Decimal(str(line.get("quantity") or 0))
        if qty <= 0:
            raise PermanentError("pos", f"return line {line.get('orderItemId')}: quantity must be positive")
        original = str(line.get("originalOrderItemId") or "")
        candidates = [original] if original in left else by_sku.get(str(line.get("productId") or ""), [])
        remaining = qty
        for item_id in candidates:
            take = min(remaining, left[item_id] - chosen.get(item_id, Decimal(0)))
            if take > 0:
                chosen[item_id] = chosen.get(item_id, Decimal(0)) + take
                chosen_reasons[item_id] = change_reason(line.get("returnReason"), reasons, default_reason)
                remaining -= take
            if remaining == 0:
                break
        if remaining > 0:
            raise PermanentError("pos", f"over-return: {line.get('productId') or original} asks {qty}, only "
                                 f"{qty - remaining} returnable", code="OVER_RETURN")
    return [{"orderItemSummaryId": item_id, "quantity": float(qty), "reason": chosen_reasons[item_id],
             "shippingReductionFlag": False} for item_id, qty in chosen.items()]


class ReturnProcessor:
    queue = "return"

    def __init__(self, store: Store, salesforce: OrderApi, metrics: Metrics,
                 returns: ReturnsConfig | None = None, *, settle_seconds: float = 60.0) -> None:
        self.store, self.salesforce, self.metrics = store, salesforce, metrics
        self.returns = returns or ReturnsConfig()
        self.effects = Effects(store, settle_seconds)

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        for job in jobs:
            try:
                if not await outcome.confirm([job]):
                    continue  # the lease was lost: its new holder resumes from the recorded steps
                await self.process(job.payload["sale"])
                outcome.complete(job)
            except Exception as exc:
                outcome.fail(job, exc)

    async def _summary_for(self, original_order_id: str) -> dict[str, Any]:
        sale = await self.store.sale_get(original_order_id)  # a POS sale we posted, else an online order number
        if sale and sale.order_summary_id:
            rows = await self.salesforce.query(detail_query(sale.order_summary_id, by="Id"))
        else:
            rows = await self.salesforce.query(detail_query(original_order_id))
        if not rows:
            # A POS sale whose own posting is still queued (or retrying) has no OrderSummary yet: its return waits
            # for it; one that never posts ends in the dead letters with this reason after the retry budget.
            raise TransientError("salesforce", f"no OrderSummary for original order {original_order_id} yet (not "
                                 "posted, or not an order of this org)", code="ORDER_NOT_FOUND")
        return rows[0]

    async def _submit_return(self, key: str, state: dict[str, Any], lines: Sequence[dict[str, Any]],
                             summary: dict[str, Any], base: str) -> str:
        """submit-return exactly once. The plan and each line's returnable quantity *after* it (the target) are
        stored before the call, and the call is noted; a later attempt waits out the settle window, then sends
        only what is still above the target, and when nothing is, finds the change order that landed.

        The target is also kept as the line's returned quantity after the call (``initiated``), and a resume
        measures that: only returns move it, while fulfilment between attempts (a BOPIS line picked up) raises
        the available quantity and would otherwise look like a return that never landed."""
        items = ((summary.get("OrderItemSummaries") or {}).get("records")) or []
        current = {str(i["Id"]): returnable(i) for i in items}
        returned = {str(i["Id"]): _returned(i) for i in items}
        if "targets" not in state:
            change = plan_return(lines, items, reasons=self.returns.reason_map,
                                 default_reason=self.returns.default_reason)
            state["change"] = change
            state["targets"] = {c["orderItemSummaryId"]: str(current[c["orderItemSummaryId"]]
                                                             - Decimal(str(c["quantity"]))) for c in change}
            state["initiated"] = {c["orderItemSummaryId"]: str(returned[c["orderItemSummaryId"]]
                                                               + Decimal(str(c["quantity"]))) for c in change}
            await self.store.meta_set(key, json.dumps(state))
        else:
            await self.effects.check(RETURN_EFFECT, key, "the submit-return call")
        send = []
        for item in state["change"]:
            item_id = item["orderItemSummaryId"]
            if "initiated" in state:
                left = Decimal(state["initiated"][item_id]) - returned.get(item_id, Decimal(0))
            else:  # a return planned by an older version: available-to-return targets only
                left = current.get(item_id, Decimal(0)) - Decimal(state["targets"][item_id])
            left = min(left, Decimal(str(item["quantity"])))  # never more than was planned
            if left > 0:
                send.append({**item, "quantity": float(left)})
        if not send:  # an earlier call landed and its answer was lost
            return await self._landed_change_order(summary, key)
        await self.effects.note(RETURN_EFFECT, [key])
        result = await self.salesforce.connect(f"{base}/actions/submit-return", {"changeItems": send})
        return str(result["changeOrderId"])

    async def _credit_memo(self, key: str, state: dict[str, Any], summary: dict[str, Any], base: str) -> str:
        """create-credit-memo once: noted before the call; a later attempt finds the memo a lost answer made."""
        memo_key = f"{key}:memo"
        if await self.effects.check(MEMO_EFFECT, memo_key, "the create-credit-memo call"):
            since = await self._since(MEMO_EFFECT, memo_key)
            memos = await self.salesforce.query(quote_soql(
                "SELECT Id FROM CreditMemo WHERE ReferenceEntityId = {} AND CreatedDate >= " + since
                + " ORDER BY CreatedDate DESC LIMIT 2", str(summary["Id"])))
            if len(memos) == 1:
                return str(memos[0]["Id"])
            if memos:
                raise _ambiguous("create-credit-memo", key, len(memos))
        await self.effects.note(MEMO_EFFECT, [memo_key])
        memo = await self.salesforce.connect(f"{base}/actions/create-credit-memo",
                                             {"changeOrderIds": [state["changeOrderId"]]})
        return str(memo["creditMemoId"])

    async def _since(self, kind: str, key: str) -> str:
        """SOQL datetime literal a few seconds before the effect was first noted (clock skew margin)."""
        started = (await self.store.effects_started(kind, [key])).get(key) or datetime.now(UTC)
        return (started - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def _landed_change_order(self, summary: dict[str, Any], key: str) -> str:
        """The reduction order our lost submit-return created: the newest one of the original order since it was
        sent (a return or cancel made elsewhere in those seconds would be ambiguous: refused, for a person)."""
        rows = await self.salesforce.query(quote_soql("SELECT OriginalOrderId FROM OrderSummary WHERE Id = {}",
                                                      str(summary["Id"])))
        original = str(rows[0]["OriginalOrderId"]) if rows else ""
        orders = await self.salesforce.query(quote_soql(
            "SELECT Id FROM Order WHERE RelatedOrderId = {} AND IsReductionOrder = true AND CreatedDate >= "
            + await self._since(RETURN_EFFECT, key) + " ORDER BY CreatedDate DESC LIMIT 2", original))
        if len(orders) != 1:
            raise _ambiguous("submit-return", key, len(orders))
        return str(orders[0]["Id"])

    async def process(self, sale: dict[str, Any]) -> None:
        return_id = str(sale["orderId"])
        bound = log.bind(pos_order_id=return_id)
        groups: dict[str, list[dict[str, Any]]] = {}
        for line in sale.get("returnProductList") or []:
            groups.setdefault(str(line.get("originalOrderId") or ""), []).append(line)
        if "" in groups:
            raise PermanentError("pos", "return line without originalOrderId", code="INVALID_FIELD")
        for original, lines in groups.items():
            key = f"return:{return_id}:{original}"
            state: dict[str, Any] = json.loads(await self.store.meta_get(key) or "{}")
            if state.get("done"):
                continue
            summary = await self._summary_for(original)
            base = ACTIONS.format(id=summary["Id"])
            if "changeOrderId" not in state:
                state["changeOrderId"] = await self._submit_return(key, state, lines, summary, base)
                await self.store.meta_set(key, json.dumps(state))
            if "creditMemoId" not in state:
                state["creditMemoId"] = await self._credit_memo(key, state, summary, base)
                await self.store.meta_set(key, json.dumps(state))
            await self.salesforce.connect(f"{base}/async-actions/ensure-refunds-async",
                                          {"creditMemoId": state["creditMemoId"]})
            state["done"] = True
            await self.store.meta_set(key, json.dumps(state))
            bound.info("return_refunded", order_summary_id=summary["Id"], credit_memo_id=state["creditMemoId"])
