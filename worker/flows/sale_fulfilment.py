"""Take-with lines of a POS sale fulfilled in Order Management right after its OrderSummary exists, once.

Why: Order Management returns only fulfilled quantity (``QuantityAvailableToReturn = QuantityFulfilled -
QuantityReturnInitiated``, submit-return refuses more), and goods handed over at the till are fulfilled by nothing
else, so without this step every BORIS return of an in-store sale would be refused. Take-with lines (POS order
type ``IN_STORE-DEFAULT``, posted in the delivery group of the OrderDeliveryMethod ``salesforce.delivery_methods``
names for it) get a FulfillmentOrder from the sale's store (``POST /commerce/fulfillment/fulfillment-orders``,
Fulfillment Order Input: ``orderSummaryId``, ``orderDeliveryGroupSummaryId``, ``fulfillmentGroups[]``), which is
then set to the fulfilled status (``worker.status_mapping.DELIVERED``, default ``Fulfilled``). Pickup-later and
endless-aisle lines are left alone: the store fulfils those later.

Per claimed batch: one SOQL reads the summaries' delivery groups, item summaries and existing FulfillmentOrders;
the store's Location (``OMSCustomField`` ORDER_STORE_ID on Location) is looked up once per store and cached; one
create call per sale, noted in the store before it leaves; one sObject Collections PATCH sets the batch's status.
From API v50.0 the creates of a batch go out as one ``POST /commerce/fulfillment/actions/create-multiple`` (per
50 sales; each input is created or refused alone, matched back by the fulfillment group's ``referenceId`` = POS
order id), so a warm take-with burst costs a few calls per batch instead of one per sale.
A later attempt (a lost answer, a crash, ``dlq retry``) waits out the settle window, then finds the
FulfillmentOrder of the take-with delivery group by ``DeliveryMethodId`` and only closes it: never a second one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from worker.config import Config
from worker.errors import OutcomeUnknown, PermanentError, TransientError, salesforce_error
from worker.mapping.sale_keys import sold_lines
from worker.pos.models import PosSale
from worker.salesforce.soql import in_list

from .effects import Effects, settling_error

log = structlog.get_logger(__name__)
TAKE_WITH = "IN_STORE-DEFAULT"  # the POS order type of goods handed over at the till
FO_EFFECT = "take_with_fo"  # store.note_effects kind: the sale's take-with FO create was sent (key: POS order id)
FO_PATH = "commerce/fulfillment/fulfillment-orders"
FO_TYPE = "Retail Store"  # FulfillmentOrder.Type (Physical) of a sale fulfilled at the store itself
DONE_CATEGORIES = frozenset({"closed", "cancelled", "canceled", "rejected"})  # StatusCategory: leave it alone
CHUNK = 200  # summaries per SOQL and records per Collections PATCH
MULTIPLE_PATH = "commerce/fulfillment/actions/create-multiple"
MULTIPLE_SINCE = 50.0  # the create-multiple resource's first API version
MULTIPLE_CHUNK = 50  # inputs per create-multiple request: Salesforce publishes no maximum, so stay modest


class FulfilmentApi(Protocol):
    async def query(self, soql: str) -> list[dict[str, Any]]: ...
    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...
    async def collections_update(self, records: list[dict[str, Any]], all_or_none: bool = False) -> list[Any]: ...


def has_take_with(sale: PosSale) -> bool:
    """True when some sold line is handed over at the till (delivery method IN_STORE-DEFAULT)."""
    return any(line.delivery_key == TAKE_WITH for line in sold_lines(sale))


def summaries_soql(ids: Sequence[str], field: str = "Id") -> str:
    """ONE SOQL for a batch: each OrderSummary's delivery groups, item summaries and FulfillmentOrders, by summary
    Id (or ``field="OriginalOrderId"``: by Order Id, the org_flow check, which hands its rows on)."""
    return ("SELECT Id, OriginalOrderId, "
            "(SELECT Id, OrderDeliveryMethodId, OrderDeliveryMethod.Name FROM OrderDeliveryGroupSummaries), "
            "(SELECT Id, OrderDeliveryGroupSummaryId, QuantityAvailableToFulfill FROM OrderItemSummaries), "
            "(SELECT Id, Status, StatusCategory, DeliveryMethodId FROM FulfillmentOrders) "
            f"FROM OrderSummary WHERE {field} IN {in_list(ids)}")


def locations_soql(field: str, store_ids: Sequence[str]) -> str:
    """Locations whose store id field holds one of ``store_ids``, oldest first (the oldest one wins)."""
    return f"SELECT Id, {field} FROM Location WHERE {field} IN {in_list(store_ids)} ORDER BY CreatedDate, Id"


def _records(row: dict[str, Any], relationship: str) -> list[dict[str, Any]]:
    return list((row.get(relationship) or {}).get("records") or [])


@dataclass(frozen=True)
class TakeWithPlan:
    """What one summary's take-with group needs: close existing FOs, or create one for ``lines`` first."""

    group_id: str
    open_fos: tuple[str, ...]  # FOs of the group not yet fulfilled (or cancelled): set them to fulfilled
    lines: tuple[tuple[str, float], ...]  # (OrderItemSummary Id, quantity) to allocate; empty when an FO exists


def plan_take_with(row: dict[str, Any], method_name: str = TAKE_WITH) -> TakeWithPlan | None:
    """Pure: the OrderSummary row of ``summaries_soql`` -> the take-with step still to do; None: nothing.
    ``method_name``: the OrderDeliveryMethod name take-with lines were posted with (salesforce.delivery_methods)."""
    group = next((g for g in _records(row, "OrderDeliveryGroupSummaries")
                  if str((g.get("OrderDeliveryMethod") or {}).get("Name") or "") == method_name), None)
    if group is None:
        return None
    fos = [fo for fo in _records(row, "FulfillmentOrders")
           if str(fo.get("DeliveryMethodId") or "") == str(group.get("OrderDeliveryMethodId") or "")]
    if fos:  # one exists already (ours, from an attempt whose answer was lost): never a second one
        open_fos = tuple(str(fo["Id"]) for fo in fos
                         if str(fo.get("StatusCategory") or "").casefold() not in DONE_CATEGORIES)
        return TakeWithPlan(str(group["Id"]), open_fos, ()) if open_fos else None
    lines = tuple((str(item["Id"]), float(item.get("QuantityAvailableToFulfill") or 0))
                  for item in _records(row, "OrderItemSummaries")
                  if item.get("OrderDeliveryGroupSummaryId") == group["Id"]
                  and float(item.get("QuantityAvailableToFulfill") or 0) > 0)
    return TakeWithPlan(str(group["Id"]), (), lines) if lines else None


def create_body(summary_id: str, plan: TakeWithPlan, location_id: str, reference: str | None = None,
                ) -> dict[str, Any]:
    """Fulfillment Order Input: one fulfillment group, from the sale's store, with every take-with line
    (``reference``: the group's ``referenceId``, which create-multiple answers with)."""
    group: dict[str, Any] = {
        "fulfilledFromLocationId": location_id, "fulfillmentType": FO_TYPE,
        "orderItemSummaries": [{"orderItemSummaryId": ois, "quantity": qty} for ois, qty in plan.lines]}
    if reference is not None:
        group["referenceId"] = reference
    return {"orderSummaryId": summary_id, "orderDeliveryGroupSummaryId": plan.group_id, "fulfillmentGroups": [group]}


def read_multiple(answer: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, tuple[str, str]]]:
    """Pure: a Multiple Fulfillment Order Output -> ({referenceId: created FO Ids}, {referenceId: (code, message)}
    of the refused ones)."""
    created: dict[str, list[str]] = {}
    refused: dict[str, tuple[str, str]] = {}
    for group in answer.get("fulfillmentOrders") or []:
        reference = str(group.get("referenceId") or "")
        if group.get("fulfillmentOrderId"):
            created.setdefault(reference, []).append(str(group["fulfillmentOrderId"]))
            continue
        problems = [e for item in group.get("orderItemSummaries") or [] for e in item.get("errors") or []]
        first = problems[0] if problems else {}
        refused[reference] = (str(first.get("errorCode") or "UNKNOWN_ERROR"),
                              str(first.get("message") or "create-multiple refused this fulfillment order"))
    return created, refused


class TakeWithFulfiller:
    def __init__(self, salesforce: FulfilmentApi, config: Config, effects: Effects, *, concurrency: int = 8) -> None:
        self.salesforce, self.effects = salesforce, effects
        self.enabled = config.worker.fulfil_take_with
        self.store_field = config.salesforce.store_id_field
        self.method_name = config.salesforce.delivery_method_name(TAKE_WITH)
        self.status = config.worker.status_mapping.get("DELIVERED", "Fulfilled")
        self.locations: dict[str, str] = {}  # POS storeId -> Location Id (stores never move: cached for good)
        self.slots = asyncio.Semaphore(concurrency)
        self.multiple = float(config.salesforce.ApiVersion[1:]) >= MULTIPLE_SINCE

    def wants(self, sale: PosSale) -> bool:
        return self.enabled and has_take_with(sale)

    async def fulfil(self, sales: Sequence[tuple[PosSale, str | None]],
                     known: Mapping[str, dict[str, Any]] | None = None) -> dict[str, BaseException]:
        """Fulfil the take-with lines of these posted sales ((sale, OrderSummary Id)); {POS order id: error} for
        the ones that could not be finished now (absent: done, or nothing to do). ``known``: summaries_soql rows
        by summary Id read just before; used only for sales never noted (no create of ours can be missing from
        them), the others are read again after the settle check."""
        errors: dict[str, BaseException] = {}
        todo: dict[str, tuple[PosSale, str]] = {}
        for sale, summary_id in sales:
            if not self.wants(sale):
                continue
            if summary_id is None:  # the summary call answered without an id: the next attempt looks it up
                errors[sale.orderId] = OutcomeUnknown("salesforce", "the OrderSummary answer carried no id")
            else:
                todo[sale.orderId] = (sale, summary_id)
        if not todo:
            return errors
        split = await self.effects.split(FO_EFFECT, list(todo))
        for key, wait in split.settling.items():  # a create still in flight may land: look after it settles
            errors[key] = settling_error("the take-with fulfillment order", wait)
            del todo[key]
        if not todo:
            return errors
        known, fresh = known or {}, set(split.fresh)
        reuse = {summary_id for key, (_, summary_id) in todo.items() if key in fresh and summary_id in known}
        rows = {summary_id: known[summary_id] for summary_id in reuse}
        try:
            rows.update(await self._summaries([sid for _, sid in todo.values() if sid not in reuse]))
            await self._load_locations({sale.storeId for sale, _ in todo.values()})
        except Exception as exc:
            return {**errors, **dict.fromkeys(todo, exc)}
        closing: dict[str, list[str]] = {}
        creating: list[tuple[str, str, TakeWithPlan, str]] = []
        for key, (sale, summary_id) in todo.items():
            row = rows.get(summary_id)
            if row is None:
                errors[key] = TransientError("salesforce", f"OrderSummary {summary_id} is not visible yet")
                continue
            plan = plan_take_with(row, self.method_name)
            if plan is None:
                continue
            if plan.open_fos:
                closing[key] = list(plan.open_fos)
            elif sale.storeId in self.locations:
                creating.append((key, summary_id, plan, self.locations[sale.storeId]))
            else:
                errors[key] = PermanentError(
                    "salesforce", f"sale {key} is posted (OrderSummary {summary_id}) but its take-with lines cannot "
                    f"be fulfilled: no Location has {self.store_field} = {sale.storeId!r}; create it, then retry "
                    "the dead letter", code="SETUP_MISSING")
        if creating:
            await self._create(creating, closing, errors)
        if closing:
            await self._close(closing, errors)
        return errors

    async def _summaries(self, summary_ids: list[str]) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        summary_ids = list(dict.fromkeys(summary_ids))
        for start in range(0, len(summary_ids), CHUNK):
            for row in await self.salesforce.query(summaries_soql(summary_ids[start:start + CHUNK])):
                rows[str(row["Id"])] = row
        return rows

    async def _load_locations(self, store_ids: set[str]) -> None:
        missing = sorted(store_ids - set(self.locations))
        if missing:  # not-found stores are not remembered: a Location created later is found on retry
            field = self.store_field.casefold()  # the answer spells the field as the org does
            for row in reversed(await self.salesforce.query(locations_soql(self.store_field, missing))):
                store = next((str(v) for k, v in row.items() if k.casefold() == field and v is not None), None)
                if store is not None:
                    self.locations[store] = str(row["Id"])

    async def _create(self, creating: list[tuple[str, str, TakeWithPlan, str]], closing: dict[str, list[str]],
                      errors: dict[str, BaseException]) -> None:
        try:  # noted durably before any create leaves: a later attempt looks the FO up instead of creating again
            await self.effects.note(FO_EFFECT, [key for key, _, _, _ in creating])
        except Exception as exc:
            errors.update(dict.fromkeys((key for key, _, _, _ in creating), exc))
            return
        if self.multiple:
            for start in range(0, len(creating), MULTIPLE_CHUNK):
                await self._create_many(creating[start:start + MULTIPLE_CHUNK], closing, errors)
            return

        async def create(key: str, summary_id: str, plan: TakeWithPlan, location_id: str) -> None:
            try:
                async with self.slots:
                    answer = await self.salesforce.connect(FO_PATH, create_body(summary_id, plan, location_id))
                ids = [str(fo) for fo in answer.get("fulfillmentOrderIds") or []]
                if not ids:
                    raise OutcomeUnknown("salesforce", "fulfillment-orders answered without fulfillmentOrderIds")
                closing[key] = ids
            except Exception as exc:
                errors[key] = exc

        async with asyncio.TaskGroup() as group:
            for item in creating:
                group.create_task(create(*item))

    async def _create_many(self, chunk: list[tuple[str, str, TakeWithPlan, str]], closing: dict[str, list[str]],
                           errors: dict[str, BaseException]) -> None:
        """One create-multiple request for these sales; each is created or refused on its own."""
        body = {"fulfillmentOrders": [create_body(summary_id, plan, location_id, key)
                                      for key, summary_id, plan, location_id in chunk]}
        try:
            created, refused = read_multiple(await self.salesforce.connect(MULTIPLE_PATH, body))
        except PermanentError as exc:  # a 4xx is "Error with Output": its output may list FOs it did create
            unknown = OutcomeUnknown("salesforce", f"create-multiple answered {exc}; some inputs may have been "
                                     "created, so each sale is looked up on its next attempt")
            unknown.__cause__ = exc
            errors.update(dict.fromkeys((key for key, _, _, _ in chunk), unknown))
            return
        except Exception as exc:  # the whole request failed or its answer was lost: each sale looks first
            errors.update(dict.fromkeys((key for key, _, _, _ in chunk), exc))
            return
        for key, _, _, _ in chunk:
            if key in created:
                closing[key] = created[key]
            elif key in refused:
                code, message = refused[key]
                errors[key] = salesforce_error(400, [{"errorCode": code, "message": message}])
            else:
                errors[key] = OutcomeUnknown("salesforce", "create-multiple answered without this sale's group")

    async def _close(self, closing: dict[str, list[str]], errors: dict[str, BaseException]) -> None:
        """Set the FOs to the fulfilled status, one Collections PATCH per 200 (idempotent: no note needed)."""
        owners = [(key, fo_id) for key, fo_ids in closing.items() for fo_id in fo_ids]
        for start in range(0, len(owners), CHUNK):
            chunk = owners[start:start + CHUNK]
            records = [{"attributes": {"type": "FulfillmentOrder"}, "id": fo_id, "Status": self.status}
                       for _, fo_id in chunk]
            try:
                results = await self.salesforce.collections_update(records, all_or_none=False)
            except Exception as exc:
                errors.update(dict.fromkeys((key for key, _ in chunk), exc))
                continue
            for (key, fo_id), result in zip(chunk, results, strict=True):
                if result.success:
                    log.info("sale_take_with_fulfilled", pos_order_id=key, fulfillment_order_id=fo_id)
                else:
                    code, message = result.errors[0] if result.errors else ("UNKNOWN_ERROR", "update failed")
                    errors[key] = salesforce_error(400, [{"errorCode": code, "message": message}])
