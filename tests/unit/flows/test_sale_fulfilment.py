"""Take-with fulfilment: the pure plan and request shape, and the batched calls of the step (Salesforce faked)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from worker.config import Config
from worker.config_load import parse_config
from worker.errors import OutcomeUnknown, salesforce_error
from worker.flows.effects import SETTLING, Effects
from worker.flows.sale_fulfilment import (
    FO_EFFECT,
    FO_PATH,
    MULTIPLE_PATH,
    TakeWithFulfiller,
    TakeWithPlan,
    create_body,
    has_take_with,
    plan_take_with,
)
from worker.pos.models import PosSale
from worker.salesforce.results import SaveResult

TAKE_WITH_METHOD, PICKUP_METHOD = "2DmTAKE", "2DmPICKUP"


def config(salesforce: dict[str, Any] | None = None, **worker: Any) -> Config:
    return parse_config({
        "salesforce": {"UrlBase": "https://acme.my.salesforce.com",
                       "OMSCustomField": [{"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID",
                                           "applyTo": ["LOCATION"]}], **(salesforce or {})},
        "auth": {"flow": "client_credentials", "client_id": "c", "client_secret": "s"},
        "pos": {"merchant_id": "acme", "auth": {"client_id": "c", "client_secret": "s", "pos_secret": "p",
                                                 "api_key": "k"}},
        "worker": {"webhook": {"api_key": "k"}, **worker},
    }, {})


def sale(order_id: str, *subtypes: str, store: str = "256") -> PosSale:
    """A POS sale with one IN_STORE line per subtype (DEFAULT = take-with, PICKUP_LATER)."""
    lines = [{"orderItemId": str(n), "productId": f"SKU-{n}", "name": "Tee", "quantity": 1, "price": 10.0,
              "subTotal": 10.0, "discount": 0.0, "tax": 0.0, "total": 10.0, "fulfillmentType": "IN_STORE",
              "fulfillmentSubType": sub, "omniFulfillmentType": "IN_STORE"} for n, sub in enumerate(subtypes, 1)]
    return PosSale.model_validate({
        "orderId": order_id, "orderSource": "IN_STORE", "orderStatus": "COMPLETED", "orderDate": 1717168580000,
        "currency": "USD", "storeId": store, "orderProductList": lines, "returnProductList": [],
        "tenders": [{"paymentId": "p1", "transactionId": "t1", "paymentMethod": "Cash", "amountAuthorized": 10.0,
                     "paymentStatus": "APPROVED"}],
        "orderSubTotal": 10.0, "discount": 0.0, "taxSubTotal": 0.0, "shippingCharge": 0.0, "totalAmount": 10.0})


def summary_row(summary_id: str, *, fos: list[dict[str, Any]] | None = None,
                available: float = 2.0) -> dict[str, Any]:
    """An OrderSummary row of summaries_soql: a take-with group and a pickup-later group, one item each."""
    return {
        "Id": summary_id,
        "OrderDeliveryGroupSummaries": {"records": [
            {"Id": f"{summary_id}-G1", "OrderDeliveryMethodId": TAKE_WITH_METHOD,
             "OrderDeliveryMethod": {"Name": "IN_STORE-DEFAULT"}},
            {"Id": f"{summary_id}-G2", "OrderDeliveryMethodId": PICKUP_METHOD,
             "OrderDeliveryMethod": {"Name": "IN_STORE-PICKUP_LATER"}}]},
        "OrderItemSummaries": {"records": [
            {"Id": f"{summary_id}-I1", "OrderDeliveryGroupSummaryId": f"{summary_id}-G1",
             "QuantityAvailableToFulfill": available},
            {"Id": f"{summary_id}-I2", "OrderDeliveryGroupSummaryId": f"{summary_id}-G2",
             "QuantityAvailableToFulfill": 1.0}]},
        "FulfillmentOrders": {"records": fos} if fos else None,
    }


class FakeOrg:
    """Answers the summaries and Location SOQL; records every call."""

    def __init__(self, summaries: dict[str, dict[str, Any]], locations: dict[str, str]) -> None:
        self.summaries, self.locations = summaries, locations
        self.queries: list[str] = []
        self.creates: list[dict[str, Any]] = []
        self.patches: list[list[dict[str, Any]]] = []
        self.paths: list[str] = []  # Connect calls made, in order
        self.refuse: set[str] = set()  # summaries create-multiple refuses

    async def query(self, soql: str) -> list[dict[str, Any]]:
        self.queries.append(soql)
        wanted = re.findall(r"'([^']*)'", soql)
        if "FROM Location" in soql:
            return [{"Id": self.locations[s], "WarehouseID__c": s} for s in wanted if s in self.locations]
        return [self.summaries[s] for s in wanted if s in self.summaries]

    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.paths.append(path)
        if path == FO_PATH:
            self.creates.append(body)
            return {"fulfillmentOrderIds": [f"0a3-{len(self.creates)}"], "errors": [], "success": True}
        assert path == MULTIPLE_PATH
        out = []
        for entry in body["fulfillmentOrders"]:
            group = entry["fulfillmentGroups"][0]
            if entry["orderSummaryId"] in self.refuse:
                out.append({**group, "orderItemSummaries": [{**group["orderItemSummaries"][0], "errors": [
                    {"errorCode": "INVALID_API_INPUT", "message": "quantity too high"}]}]})
                continue
            self.creates.append(entry)
            out.append({"fulfillmentOrderId": f"0a3-{len(self.creates)}", "referenceId": group["referenceId"]})
        return {"fulfillmentOrders": out, "errors": [], "success": True}

    async def collections_update(self, records: list[dict[str, Any]], all_or_none: bool = False) -> list[Any]:
        self.patches.append(records)
        return [SaveResult(id=r["id"], success=True, errors=[]) for r in records]


class FakeStore:
    def __init__(self, started: dict[str, datetime] | None = None) -> None:
        self.started = dict(started or {})

    async def effects_started(self, kind: str, keys: Any) -> dict[str, datetime]:
        assert kind == FO_EFFECT
        return {k: self.started[k] for k in keys if k in self.started}

    async def note_effects(self, kind: str, keys: Any) -> None:
        self.started.update(dict.fromkeys(keys, datetime.now(UTC)))


def fulfiller(org: FakeOrg, store: FakeStore | None = None, **worker: Any) -> TakeWithFulfiller:
    return TakeWithFulfiller(org, config(**worker), Effects(store or FakeStore(), 60.0))  # type: ignore[arg-type]


@pytest.mark.parametrize(("fos", "available", "expected"), [
    (None, 2.0, TakeWithPlan("1Os-G1", (), (("1Os-I1", 2.0),))),
    (None, 0.0, None),  # nothing left to fulfil (canceled, or allocated elsewhere)
    ([{"Id": "0a3A", "DeliveryMethodId": TAKE_WITH_METHOD, "StatusCategory": "Activated"}], 0.0,
     TakeWithPlan("1Os-G1", ("0a3A",), ())),
    ([{"Id": "0a3A", "DeliveryMethodId": TAKE_WITH_METHOD, "StatusCategory": "CLOSED"}], 0.0, None),
    ([{"Id": "0a3A", "DeliveryMethodId": TAKE_WITH_METHOD, "StatusCategory": "Cancelled"}], 2.0, None),
    ([{"Id": "0a3B", "DeliveryMethodId": PICKUP_METHOD, "StatusCategory": "Activated"}], 2.0,
     TakeWithPlan("1Os-G1", (), (("1Os-I1", 2.0),))),  # another group's FO is not ours
])
def test_plan_creates_once_closes_what_exists_and_skips_the_rest(
        fos: list[dict[str, Any]] | None, available: float, expected: TakeWithPlan | None) -> None:
    """Only the take-with group counts: no FO -> create one for its available lines; an FO of it -> only close it
    (never a second one); closed, cancelled or nothing available -> nothing."""
    assert plan_take_with(summary_row("1Os", fos=fos, available=available)) == expected


def test_a_summary_without_a_take_with_group_needs_nothing() -> None:
    """A summary whose groups are all pickup-later or online has no take-with step."""
    row = summary_row("1Os")
    row["OrderDeliveryGroupSummaries"]["records"] = row["OrderDeliveryGroupSummaries"]["records"][1:]
    assert plan_take_with(row) is None


def test_create_body_is_the_fulfillment_order_input() -> None:
    """The create call sends Connect's Fulfillment Order Input: summary, delivery group summary, one group."""
    plan = TakeWithPlan("0agG", (), (("10uA", 2.0), ("10uB", 1.0)))
    assert create_body("1OsA", plan, "131L") == {
        "orderSummaryId": "1OsA", "orderDeliveryGroupSummaryId": "0agG", "fulfillmentGroups": [{
            "fulfilledFromLocationId": "131L", "fulfillmentType": "Retail Store",
            "orderItemSummaries": [{"orderItemSummaryId": "10uA", "quantity": 2.0},
                                   {"orderItemSummaryId": "10uB", "quantity": 1.0}]}]}


def test_only_take_with_lines_want_fulfilment() -> None:
    """A sale with an IN_STORE-DEFAULT line wants the step; a pickup-later-only sale does not."""
    assert has_take_with(sale("S1", "DEFAULT")) and has_take_with(sale("S2", "PICKUP_LATER", "DEFAULT"))
    assert not has_take_with(sale("S3", "PICKUP_LATER"))


async def test_a_batch_costs_one_query_one_create_multiple_and_one_patch() -> None:
    """Two take-with sales and a pickup-later one: one summaries SOQL, one Location SOQL (cached after), ONE
    create-multiple request creating an FO per take-with sale, one PATCH to Fulfilled for both; the next batch of
    the store skips the Location look-up."""
    org = FakeOrg({"1OsA": summary_row("1OsA"), "1OsB": summary_row("1OsB"), "1OsC": summary_row("1OsC")},
                  {"256": "131L"})
    step = fulfiller(org)
    errors = await step.fulfil([(sale("S1", "DEFAULT"), "1OsA"), (sale("S2", "DEFAULT"), "1OsB"),
                                (sale("S3", "PICKUP_LATER"), "1OsC")])
    assert errors == {}
    assert len(org.queries) == 2 and "1OsC" not in org.queries[0]
    assert [c["orderSummaryId"] for c in org.creates] == ["1OsA", "1OsB"] and org.paths == [MULTIPLE_PATH]
    assert all(c["fulfillmentGroups"][0]["fulfilledFromLocationId"] == "131L" for c in org.creates)
    assert [c["fulfillmentGroups"][0]["referenceId"] for c in org.creates] == ["S1", "S2"]
    assert org.patches == [[{"attributes": {"type": "FulfillmentOrder"}, "id": f"0a3-{n}", "Status": "Fulfilled"}
                            for n in (1, 2)]]
    org.summaries["1OsD"] = summary_row("1OsD")
    assert await step.fulfil([(sale("S4", "DEFAULT"), "1OsD")]) == {}
    assert len(org.queries) == 3  # the summaries SOQL only


async def test_a_create_sent_recently_waits_and_one_that_landed_is_only_closed() -> None:
    """Within the settle window nothing is sent (SETTLING); after it an FO found for the group is only set to the
    configured DELIVERED status, never created again."""
    fo = {"Id": "0a3X", "DeliveryMethodId": TAKE_WITH_METHOD, "StatusCategory": "Activated"}
    org = FakeOrg({"1OsA": summary_row("1OsA", fos=[fo], available=0.0)}, {"256": "131L"})
    store = FakeStore({"S1": datetime.now(UTC)})
    errors = await fulfiller(org, store).fulfil([(sale("S1", "DEFAULT"), "1OsA")])
    assert getattr(errors["S1"], "code", None) == SETTLING and org.queries == []  # not even the summaries SOQL
    store.started["S1"] = datetime(2000, 1, 1, tzinfo=UTC)
    step = fulfiller(org, store, status_mapping={"DELIVERED": "Picked Up"})
    assert await step.fulfil([(sale("S1", "DEFAULT"), "1OsA")]) == {}
    assert org.creates == [] and org.patches == [[{"attributes": {"type": "FulfillmentOrder"}, "id": "0a3X",
                                                   "Status": "Picked Up"}]]


async def test_a_store_without_a_location_is_a_permanent_setup_error() -> None:
    """No Location holds the sale's store id: SETUP_MISSING naming the field and store; nothing is created."""
    org = FakeOrg({"1OsA": summary_row("1OsA")}, {})
    errors = await fulfiller(org).fulfil([(sale("S1", "DEFAULT", store="999"), "1OsA")])
    assert getattr(errors["S1"], "code", None) == "SETUP_MISSING" and "warehouseID__c = '999'" in str(errors["S1"])
    assert org.creates == [] and org.patches == []


async def test_turned_off_or_without_take_with_lines_nothing_is_called() -> None:
    """worker.fulfil_take_with false, or no take-with line: no store read, no Salesforce call."""
    org = FakeOrg({"1OsA": summary_row("1OsA")}, {"256": "131L"})
    assert await fulfiller(org, fulfil_take_with=False).fulfil([(sale("S1", "DEFAULT"), "1OsA")]) == {}
    assert await fulfiller(org).fulfil([(sale("S2", "PICKUP_LATER"), "1OsA")]) == {}
    assert org.queries == [] and org.creates == []


async def test_a_renamed_take_with_delivery_method_is_followed() -> None:
    """salesforce.delivery_methods renames IN_STORE-DEFAULT: the group of that name is fulfilled, no other."""
    row = summary_row("1OsA")
    row["OrderDeliveryGroupSummaries"]["records"][0]["OrderDeliveryMethod"]["Name"] = "Take With"
    assert plan_take_with(row) is None
    org = FakeOrg({"1OsA": row}, {"256": "131L"})
    renamed = config(salesforce={"delivery_methods": {"IN_STORE-DEFAULT": "Take With"}})
    step = TakeWithFulfiller(org, renamed, Effects(FakeStore(), 60.0))  # type: ignore[arg-type]
    assert await step.fulfil([(sale("S1", "DEFAULT"), "1OsA")]) == {}
    assert [c["orderDeliveryGroupSummaryId"] for c in org.creates] == ["1OsA-G1"]


async def test_create_multiple_refusing_one_sale_fails_only_that_sale() -> None:
    """create-multiple refuses one input: that sale gets the Salesforce error (permanent), the other is closed."""
    org = FakeOrg({"1OsA": summary_row("1OsA"), "1OsB": summary_row("1OsB")}, {"256": "131L"})
    org.refuse.add("1OsB")
    errors = await fulfiller(org).fulfil([(sale("S1", "DEFAULT"), "1OsA"), (sale("S2", "DEFAULT"), "1OsB")])
    assert list(errors) == ["S2"] and getattr(errors["S2"], "code", None) == "INVALID_API_INPUT"
    assert org.patches == [[{"attributes": {"type": "FulfillmentOrder"}, "id": "0a3-1", "Status": "Fulfilled"}]]


async def test_below_api_v50_each_sale_gets_its_own_create() -> None:
    """ApiVersion v49.0 (the guide's example) has no create-multiple: one fulfillment-orders call per sale."""
    org = FakeOrg({"1OsA": summary_row("1OsA"), "1OsB": summary_row("1OsB")}, {"256": "131L"})
    step = TakeWithFulfiller(org, config(salesforce={"ApiVersion": "v49.0"}),  # type: ignore[arg-type]
                             Effects(FakeStore(), 60.0))
    assert await step.fulfil([(sale("S1", "DEFAULT"), "1OsA"), (sale("S2", "DEFAULT"), "1OsB")]) == {}
    assert org.paths == [FO_PATH, FO_PATH]


async def test_rows_read_just_before_serve_only_sales_never_noted() -> None:
    """Rows handed in (the org_flow check's) replace the summaries SOQL for a sale whose create was never sent;
    a sale noted before (settled) is read again, so an FO that landed since is closed, not created twice."""
    org = FakeOrg({"1OsA": summary_row("1OsA")}, {"256": "131L"})
    assert await fulfiller(org).fulfil([(sale("S1", "DEFAULT"), "1OsA")], {"1OsA": summary_row("1OsA")}) == {}
    assert not any("FROM OrderSummary" in q for q in org.queries) and len(org.creates) == 1
    landed = {"Id": "0a3X", "DeliveryMethodId": TAKE_WITH_METHOD, "StatusCategory": "Activated"}
    org = FakeOrg({"1OsB": summary_row("1OsB", fos=[landed], available=0.0)}, {"256": "131L"})
    store = FakeStore({"S2": datetime(2000, 1, 1, tzinfo=UTC)})
    stale = {"1OsB": summary_row("1OsB")}  # read before the earlier create landed
    assert await fulfiller(org, store).fulfil([(sale("S2", "DEFAULT"), "1OsB")], stale) == {}
    assert any("FROM OrderSummary" in q for q in org.queries) and org.creates == []
    assert org.patches == [[{"attributes": {"type": "FulfillmentOrder"}, "id": "0a3X", "Status": "Fulfilled"}]]


async def test_a_4xx_create_multiple_answer_is_looked_up_not_dead_lettered() -> None:
    """create-multiple answering 4xx ("Error with Output": its output may list FOs it did create) leaves each sale
    of the request OutcomeUnknown (retried, looked up first), never a permanent error that dead-letters sales
    whose FO exists."""
    org = FakeOrg({"1OsA": summary_row("1OsA"), "1OsB": summary_row("1OsB")}, {"256": "131L"})
    real = org.connect

    async def refusing(path: str, body: dict[str, Any]) -> dict[str, Any]:
        await real(path, body)  # the FOs are created, then the request answers 400
        raise salesforce_error(400, [{"errorCode": "INVALID_API_INPUT", "message": "one input was refused"}])

    org.connect = refusing  # type: ignore[method-assign]
    errors = await fulfiller(org).fulfil([(sale("S1", "DEFAULT"), "1OsA"), (sale("S2", "DEFAULT"), "1OsB")])
    assert sorted(errors) == ["S1", "S2"] and all(isinstance(e, OutcomeUnknown) for e in errors.values())
    assert org.patches == []
