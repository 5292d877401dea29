"""Store-fulfilment events -> FulfillmentOrder status PATCH or cancel-item, in order per FO, forward only.

The queue's ordering key is the FO id, so events of one FO apply one at a time in arrival order; the pure
decision (worker.mapping.status) ignores stale and duplicate transitions. Under bursts, status patches of many
FOs go out as one ``/composite/sobjects`` PATCH (up to 200 records).

cancel-item is not idempotent (it subtracts quantities), so before calling it the flow stores the target
remaining quantity per line and notes the call (worker.flows.effects); a retry after an unknown outcome waits out
the settle window, then cancels only what is still above the target.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

import structlog

from worker.config import Config
from worker.errors import PermanentError, TransientError, salesforce_error
from worker.mapping.status import CancelItems, FoState, Ignore, LineState, PatchStatus, decide_status_action
from worker.metrics import Metrics
from worker.pos.models import StoreFulfillmentEvent
from worker.salesforce.soql import in_list
from worker.store import Job, Store

from .effects import Effects, settle_seconds
from .runner import Outcome

log = structlog.get_logger(__name__)
CANCEL_EFFECT = "cancel_item"


class StatusApi(Protocol):
    async def query(self, soql: str) -> list[dict[str, Any]]: ...
    async def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None: ...
    async def collections_update(self, records: list[dict[str, Any]], all_or_none: bool = False) -> list[Any]: ...
    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...


def fo_state_query(fo_ids: Sequence[str]) -> str:
    return (
        "SELECT Id, Status, (SELECT Id, Quantity, Type FROM FulfillmentOrderLineItems) "
        f"FROM FulfillmentOrder WHERE Id IN {in_list(fo_ids)}"
    )


def build_state(fo_id: str, record: dict[str, Any], line_ids: dict[str, str]) -> FoState:
    """FO state keyed by the POS orderItemId (ledger maps FOLI Id -> POS orderItemId; FOLI Id is the fallback)."""
    pos_of = dict(line_ids)
    lines: dict[str, LineState] = {}
    children = (record.get("FulfillmentOrderLineItems") or {}).get("records") or []
    for line in children:
        if line.get("Type") not in (None, "Order Product"):
            continue
        foli_id = str(line["Id"])
        quantity = Decimal(str(line.get("Quantity") or 0))
        lines[pos_of.get(foli_id, foli_id)] = LineState(foli_id=foli_id, quantity_remaining=quantity)
        lines.setdefault(foli_id, LineState(foli_id=foli_id, quantity_remaining=quantity))
    return FoState(fo_id=fo_id, status=str(record.get("Status") or ""), lines=lines)


def not_imported_error(fo_id: str, wait: float | None) -> TransientError:
    """A retry after ``wait`` seconds (job leases): the import that is not recorded yet may sit with a dead
    importer's lease until it expires (then the idempotent import re-runs and writes the record)."""
    return TransientError("pos", f"FulfillmentOrder {fo_id} has no import record yet; retrying once the import "
                          "is recorded", code="NOT_IMPORTED_YET", retry_after=wait)


class StatusSync:
    queue = "status"

    def __init__(self, store: Store, salesforce: StatusApi, config: Config, metrics: Metrics) -> None:
        self.store, self.salesforce, self.metrics = store, salesforce, metrics
        self.mapping = dict(config.worker.status_mapping)
        self.canceled_value = config.salesforce.OMSStatusCanceledValue
        self.effects = Effects(store, settle_seconds(config))
        # An importer killed between the POS import and its ledger write holds the FO's import job until its
        # lease runs out; retrying faster than that spends the event's whole budget before the re-run can land.
        self.import_wait = config.worker.lease_seconds

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        events = [(job, StoreFulfillmentEvent.model_validate(job.payload["event"])) for job in jobs]
        fo_ids = list(dict.fromkeys(event.externalOrderId for _, event in events))
        ledger = await self.store.ledger_get(fo_ids)
        records = {str(r["Id"]): r for r in await self.salesforce.query(fo_state_query(fo_ids))}
        patches: list[tuple[Job, PatchStatus]] = []
        for job, event in events:
            fo_id = event.externalOrderId
            bound = log.bind(fulfillment_order_id=fo_id, pos_order_id=event.orderId, event=event.eventType)
            record = records.get(fo_id)
            if record is None:
                outcome.fail(job, PermanentError("salesforce", f"FulfillmentOrder {fo_id} not found",
                                                 code="NOT_FOUND"))
                continue
            entry = ledger.get(fo_id)
            if entry is None:
                # The POS has the order, so its import ran; its ledger record (FO line -> POS line ids) is written
                # right after and may not be yet (an importer killed in between re-runs the idempotent import).
                # The first retry is quick (the usual gap is the importer's own ledger write, milliseconds); then
                # one more lease per attempt, so the budget outlasts an expired lease plus the import backlog.
                wait = self.import_wait * (job.attempts - 1) if job.attempts > 1 else None
                outcome.fail(job, not_imported_error(fo_id, wait))
                continue
            state = build_state(fo_id, record, entry.line_ids)
            try:
                action = decide_status_action(event, state, status_mapping=self.mapping,
                                              canceled_value=self.canceled_value)
                if isinstance(action, Ignore):
                    self.metrics.statuses_patched.labels("ignored").inc()
                    bound.info("status_event_ignored", reason=action.reason)
                    outcome.complete(job)
                elif isinstance(action, PatchStatus):
                    patches.append((job, action))
                elif isinstance(action, CancelItems):
                    if not await outcome.confirm([job]):
                        continue  # the lease was lost: its new holder cancels what is still above the target
                    await self._cancel(job, action, state, bound)
                    outcome.complete(job)
            except Exception as exc:
                outcome.fail(job, exc)
        await self._patch(patches, outcome)

    async def _patch(self, patches: list[tuple[Job, PatchStatus]], outcome: Outcome) -> None:
        if len(patches) == 1:
            job, action = patches[0]
            try:
                await self.salesforce.update("FulfillmentOrder", action.fo_id, {"Status": action.status})
                await self._done(action.fo_id, action.status)
                outcome.complete(job)
            except Exception as exc:
                outcome.fail(job, exc)
            return
        if not patches:
            return
        records = [{"attributes": {"type": "FulfillmentOrder"}, "id": a.fo_id, "Status": a.status} for _, a in patches]
        results = await self.salesforce.collections_update(records, all_or_none=False)
        for (job, action), result in zip(patches, results, strict=True):
            if result.success:
                await self._done(action.fo_id, action.status)
                outcome.complete(job)
            else:
                code, message = result.errors[0] if result.errors else ("UNKNOWN", "update failed")
                outcome.fail(job, salesforce_error(400, [{"errorCode": code, "message": message}]))

    async def _done(self, fo_id: str, status: str) -> None:
        await self.store.ledger_set_status(fo_id, status)
        self.metrics.statuses_patched.labels("status").inc()
        log.info("fo_status_patched", fulfillment_order_id=fo_id, status=status)

    async def _cancel(self, job: Job, action: CancelItems, state: FoState, bound: Any) -> None:
        key = f"cancel-target:{job.id}"
        stored = await self.store.meta_get(key)
        current = {line.foli_id: line.quantity_remaining for line in state.lines.values()}
        if stored is None:
            targets = {foli: str(current.get(foli, Decimal(0)) - Decimal(str(qty))) for foli, qty in action.items}
            await self.store.meta_set(key, json.dumps(targets))
        else:  # an earlier attempt may have sent it: wait until that call settled, then read what is left
            await self.effects.check(CANCEL_EFFECT, key, "the cancel-item call")
            targets = json.loads(stored)
        items = []
        for foli, target in targets.items():
            still = current.get(foli, Decimal(0)) - Decimal(target)
            if still > 0:
                items.append({"fulfillmentOrderLineItemId": foli, "quantity": float(still)})
        if items:
            path = f"commerce/fulfillment/fulfillment-orders/{action.fo_id}/actions/cancel-item"
            await self.effects.note(CANCEL_EFFECT, [key])
            await self.salesforce.connect(path, {"fulfillmentOrderLineItemsToCancel": items})
            self.metrics.statuses_patched.labels("cancel_item").inc()
            bound.info("fo_lines_canceled", lines=len(items))
        else:
            bound.info("fo_lines_already_canceled")
        if action.then_status:
            await self.salesforce.update("FulfillmentOrder", action.fo_id, {"Status": action.then_status})
            await self._done(action.fo_id, action.then_status)
