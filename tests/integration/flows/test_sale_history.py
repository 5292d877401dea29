"""Sale history polling on a real SQLite store: windows from the durable cursor (the newest modifiedAt seen, on
the POS's clock) less the overlap, each page stored before the window moves, a killed window resumed after its
last stored page, a skewed worker clock, lookups and refusals."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from worker.errors import PermanentError, TransientError
from worker.flows.sale_history import CURSOR_KEY, WINDOW_KEY, SaleHistory
from worker.mapping.graphql_sale import epoch_ms
from worker.metrics import Metrics
from worker.refused_sales import GRAPHQL_NODE, refused_of
from worker.store import Store

NOW_MS = 1_800_000_000_000
NODE: dict[str, Any] = {
    "id": "S-1", "number": "S-1", "status": "COMPLETED", "createdAt": "2027-01-15T08:00:00.000Z",
    "modifiedAt": "2027-01-15T08:00:00.000Z", "currency": "USD", "locationId": "LOC-256", "customerId": "C1",
    "shippingAddress": None,
    "lines": [{"id": "1", "itemId": "SKU-1", "sku": "SKU-1", "description": "Tee", "quantity": 1,
               "unitPrice": "20.00", "subtotal": "20.00", "discount": "0.00", "tax": "1.65", "taxRate": 0.0825,
               "total": "21.65", "fulfillment": "TAKE_WITH", "returnOf": None, "returnReason": None}],
    "payments": [{"id": "P1", "method": "CASH", "amount": "21.65", "cardBrand": None, "cardLast4": None,
                  "walletType": None, "reference": "T1", "approved": True}],
    "subtotal": "20.00", "discountTotal": "0.00", "taxTotal": "1.65", "total": "21.65",
}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def node(n: int, *, modified_ms: int | None = None, **changes: Any) -> dict[str, Any]:
    """Sale S-<n>, modified (on the POS's clock) ``50 - n`` seconds before NOW_MS unless told."""
    modified = iso(NOW_MS - 50_000 + n * 1000 if modified_ms is None else modified_ms)
    return {**copy.deepcopy(NODE), "id": f"S-{n}", "number": f"S-{n}", "modifiedAt": modified, **changes}


class FakeHistoryApi:
    """Pages of a window (keyset cursors "p<n>"); ``fail_at`` = raise when asked for that page (0-based)."""

    def __init__(self, pages: list[list[dict[str, Any]]], *, fail_at: int | None = None,
                 schema_error: Exception | None = None) -> None:
        self.pages, self.fail_at, self.schema_error = pages, fail_at, schema_error
        self.asked: list[tuple[int, int, str | None]] = []
        self.schema_checks = 0
        self.customers: list[str] = []
        self.locations: list[str] = []

    async def check_schema(self) -> None:
        self.schema_checks += 1
        if self.schema_error is not None:
            raise self.schema_error

    async def sale_page(self, since_ms: int, until_ms: int, first: int,
                        after: str | None) -> tuple[list[dict[str, Any]], str | None, bool]:
        self.asked.append((since_ms, until_ms, after))
        index = 0 if after is None else int(after[1:]) + 1
        if index == self.fail_at:
            raise TransientError("pos", "GraphQL POS unreachable (ServerDisconnectedError)")
        return self.pages[index], f"p{index}", index + 1 < len(self.pages)

    async def customer(self, customer_id: str) -> dict[str, Any] | None:
        self.customers.append(customer_id)
        return {"id": customer_id, "email": "a@example.com", "firstName": "Ann", "lastName": "Lee", "phone": None}

    async def location(self, location_id: str) -> dict[str, Any] | None:
        self.locations.append(location_id)
        return {"id": location_id, "code": location_id[4:], "name": "x"} if location_id.startswith("LOC-") else None


def history(store: Store, api: FakeHistoryApi, clock: list[float]) -> SaleHistory:
    return SaleHistory(store, api, interval_seconds=30, overlap_seconds=60, lookback_seconds=3600, page_size=2,
                       clock=lambda: clock[0])


async def sale_keys(store: Store) -> list[str]:
    jobs = await store.claim("sale", 100, worker_id="t", lease_seconds=60)
    return sorted(str(job.payload["sale"]["orderId"]) for job in jobs if refused_of(job.payload) is None)


async def claimed(store: Store) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Claim every sale row: the normal rows' sale ids, and the refused rows by sale id (one each, checked)."""
    jobs = await store.claim("sale", 100, worker_id="t", lease_seconds=60)
    normal = sorted(str(job.payload["sale"]["orderId"]) for job in jobs if refused_of(job.payload) is None)
    refused = [r for job in jobs if (r := refused_of(job.payload)) is not None]
    by_sale = {str(r["sale_id"]): r for r in refused}
    assert len(by_sale) == len(refused)
    return normal, by_sale


async def test_the_first_window_looks_back_then_windows_follow_the_cursor_less_the_overlap(store: Store) -> None:
    """No cursor: [now - lookback, now); then the cursor is the newest modifiedAt and windows start 60 s before."""
    clock = [NOW_MS / 1000]
    api = FakeHistoryApi([[node(1), node(2)], [node(3)]])
    assert await history(store, api, clock).poll() == 3
    assert api.asked == [(NOW_MS - 3_600_000, NOW_MS, None), (NOW_MS - 3_600_000, NOW_MS, "p0")]
    newest = epoch_ms(node(3)["modifiedAt"], "modifiedAt")
    assert await store.meta_get(CURSOR_KEY) == str(newest) and await store.meta_get(WINDOW_KEY) == ""
    clock[0] += 30
    api.asked.clear()
    assert await history(store, api, clock).poll() == 0  # the same sales again: same keys, nothing new
    assert api.asked[0] == (newest - 60_000, NOW_MS + 30_000, None)
    assert await sale_keys(store) == ["S-1", "S-2", "S-3"]


async def test_a_failed_page_keeps_the_stored_pages_and_the_next_poll_resumes_after_them(store: Store) -> None:
    """A failed page keeps earlier pages and the old cursor; the next poll resumes the window after them."""
    clock = [NOW_MS / 1000]
    await store.meta_set(CURSOR_KEY, str(NOW_MS - 60_000))
    api = FakeHistoryApi([[node(1), node(2)], [node(3), node(4)], [node(5)]], fail_at=2)
    with pytest.raises(TransientError):
        await history(store, api, clock).poll()
    assert json.loads(await store.meta_get(WINDOW_KEY) or "{}") == {
        "since": NOW_MS - 120_000, "until": NOW_MS, "after": "p1", "seen": epoch_ms(node(4)["modifiedAt"], "m")}
    assert await store.meta_get(CURSOR_KEY) == str(NOW_MS - 60_000)
    clock[0] += 100
    api.fail_at, api.asked = None, []
    assert await history(store, api, clock).poll() == 1
    assert api.asked == [(NOW_MS - 120_000, NOW_MS, "p1")]
    assert await store.meta_get(CURSOR_KEY) == str(epoch_ms(node(5)["modifiedAt"], "modifiedAt"))
    assert await sale_keys(store) == ["S-1", "S-2", "S-3", "S-4", "S-5"]


class PosClockApi(FakeHistoryApi):
    """A POS that stamps ``modifiedAt`` on its own clock and answers ``[since, until)`` oldest first, keyset-paged
    on (modifiedAt, id) like the emulator; ``sales`` can be added between polls."""

    def __init__(self) -> None:
        super().__init__([])
        self.sales: list[dict[str, Any]] = []

    async def sale_page(self, since_ms: int, until_ms: int, first: int,
                        after: str | None) -> tuple[list[dict[str, Any]], str | None, bool]:
        self.asked.append((since_ms, until_ms, after))
        key = None if after is None else tuple(json.loads(after))
        rows = sorted((epoch_ms(s["modifiedAt"], "modifiedAt"), s["id"], s) for s in self.sales)
        rows = [r for r in rows if since_ms <= r[0] < until_ms and (key is None or (r[0], r[1]) > key)]
        page = rows[:first]
        end = json.dumps([page[-1][0], page[-1][1]]) if page else after
        return [r[2] for r in page], end, len(rows) > first


async def test_a_worker_clock_ahead_of_the_pos_by_more_than_the_overlap_loses_no_sale(store: Store) -> None:
    """The worker's clock 10 min ahead (overlap 60 s): a sale the POS stamps after a poll is still read next poll."""
    pos_now = NOW_MS - 600_000  # the POS's clock when the worker's reads NOW_MS
    clock = [NOW_MS / 1000]
    api = PosClockApi()
    api.sales = [node(1, modified_ms=pos_now - 10_000)]
    poller = history(store, api, clock)
    assert await poller.poll() == 1
    api.sales.append(node(2, modified_ms=pos_now + 5_000))  # stamped by the POS just after that poll
    clock[0] += 30
    assert await poller.poll() == 1
    assert await sale_keys(store) == ["S-1", "S-2"]
    assert await store.meta_get(CURSOR_KEY) == str(pos_now + 5_000)


async def test_equal_modification_times_across_pages_and_a_killed_window_skip_nothing(store: Store) -> None:
    """Five sales with one modifiedAt, pages of 2, the poll failing after two pages: all five stored, once each."""
    clock = [NOW_MS / 1000]
    api = PosClockApi()
    api.sales = [node(n, modified_ms=NOW_MS - 5_000) for n in range(1, 6)]
    calls = 0
    read = api.sale_page

    async def failing_third(*args: Any) -> tuple[list[dict[str, Any]], str | None, bool]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise TransientError("pos", "GraphQL POS unreachable (ServerDisconnectedError)")
        return await read(*args)

    api.sale_page = failing_third  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        await history(store, api, clock).poll()
    assert await history(store, api, clock).poll() == 1
    assert await sale_keys(store) == ["S-1", "S-2", "S-3", "S-4", "S-5"]


async def test_a_window_without_sales_leaves_the_cursor_where_it_was(store: Store) -> None:
    """No sale in the window: the cursor stays (unset stays unset), so the next window starts no later."""
    clock = [NOW_MS / 1000]
    api = PosClockApi()
    poller = history(store, api, clock)
    await poller.poll()
    assert await store.meta_get(CURSOR_KEY) is None
    await store.meta_set(CURSOR_KEY, str(NOW_MS - 1_000))
    clock[0] += 30
    await poller.poll()
    assert await store.meta_get(CURSOR_KEY) == str(NOW_MS - 1_000)
    assert api.asked[-1] == (NOW_MS - 61_000, NOW_MS + 30_000, None)


async def test_lookups_are_shared_and_unmappable_sales_are_refused_not_fatal(store: Store) -> None:
    """Lookups are shared per poll; an unmappable sale is refused, the others stored and the cursor moves."""
    clock = [NOW_MS / 1000]
    gift = node(3, payments=[{**NODE["payments"][0], "method": "GIFTCARD"}])
    api = FakeHistoryApi([[node(1), node(2)], [gift, node(4, locationId="NOWHERE")]])
    assert await history(store, api, clock).poll() == 2
    assert api.customers == ["C1"] and sorted(api.locations) == ["LOC-256", "NOWHERE"]
    assert await store.meta_get(CURSOR_KEY) == str(epoch_ms(node(4)["modifiedAt"], "modifiedAt"))
    assert await sale_keys(store) == ["S-1", "S-2"]


async def test_refused_sales_are_stored_once_naming_the_field_with_the_raw_node(store: Store) -> None:
    """An unmappable node and an unknown location each become one refused row (field, raw node, metric); a
    re-poll of the same window stores and counts nothing more; the page's other sales get their normal rows."""
    clock = [NOW_MS / 1000]
    gift = node(3, payments=[{**NODE["payments"][0], "method": "GIFTCARD"}])
    nowhere = node(4, locationId="NOWHERE")
    api = FakeHistoryApi([[node(1), gift], [nowhere, node(5)]])
    metrics = Metrics()
    poller = SaleHistory(store, api, interval_seconds=30, overlap_seconds=60, lookback_seconds=3600, page_size=2,
                         clock=lambda: clock[0], metrics=metrics)
    assert await poller.poll() == 2
    clock[0] += 30
    await store.meta_set(CURSOR_KEY, str(NOW_MS - 3_600_000))  # rewind: the whole window is read again
    assert await poller.poll() == 0
    normal, refused = await claimed(store)
    assert normal == ["S-1", "S-5"] and sorted(refused) == ["S-3", "S-4"]
    assert (refused["S-3"]["field"], refused["S-3"]["kind"], refused["S-3"]["data"]) == (
        "payments.0.method", GRAPHQL_NODE, gift)
    assert (refused["S-4"]["field"], refused["S-4"]["reason"], refused["S-4"]["data"]) == (
        "locationId", "no location NOWHERE", nowhere)
    assert metrics.registry.get_sample_value("oms_sales_refused_total", {"source": "sale_history"}) == 2


async def test_a_schema_mismatch_stops_the_poll_before_any_window(store: Store) -> None:
    """Until the schema check passes no sale is asked for and the cursor stays unset; last_error says why."""
    clock = [NOW_MS / 1000]
    api = FakeHistoryApi([[node(1)]], schema_error=PermanentError("pos", "GraphQL schema mismatch: Sale.total"))
    poller = history(store, api, clock)
    with pytest.raises(PermanentError):
        await poller.poll()
    assert api.asked == [] and await store.meta_get(CURSOR_KEY) is None
    assert poller.last_error is not None and "Sale.total" in poller.last_error


async def test_after_a_permanent_failure_the_next_poll_checks_the_schema_again(store: Store) -> None:
    """A permanent error mid-poll (say a field the server dropped) makes the next poll introspect first."""
    clock = [NOW_MS / 1000]
    api = FakeHistoryApi([[node(1)]])
    poller = history(store, api, clock)
    await poller.poll()
    await poller.poll()
    assert api.schema_checks == 1
    api.pages = [[node(2, payments=[])]]
    api.fail_at = 0

    async def refused(*_: Any) -> Any:
        raise PermanentError("pos", "Cannot query field 'total' on type 'Sale'.")

    api.sale_page = refused  # type: ignore[method-assign]
    with pytest.raises(PermanentError):
        await poller.poll()
    api.schema_error = PermanentError("pos", "GraphQL schema mismatch: Sale.total: no such field on the server")
    with pytest.raises(PermanentError) as caught:
        await poller.poll()
    assert api.schema_checks == 2 and "Sale.total: no such field" in str(caught.value)


async def test_a_server_that_says_more_without_a_new_cursor_is_refused_not_looped(store: Store) -> None:
    """hasNextPage with no (or the same) endCursor is a PermanentError after one page, not an endless loop."""
    clock = [NOW_MS / 1000]
    api = FakeHistoryApi([[node(1)]])

    async def stuck(since_ms: int, until_ms: int, first: int,
                    after: str | None) -> tuple[list[dict[str, Any]], str | None, bool]:
        api.asked.append((since_ms, until_ms, after))
        return [node(1)], None, True

    api.sale_page = stuck  # type: ignore[method-assign]
    with pytest.raises(PermanentError, match="endCursor did not move"):
        await history(store, api, clock).poll()
    assert len(api.asked) == 1 and await sale_keys(store) == ["S-1"]
    assert await store.meta_get(CURSOR_KEY) is None


async def test_a_saved_cursor_the_server_refuses_restarts_the_window_instead_of_wedging_it(store: Store) -> None:
    """A resumed window whose endCursor the server now refuses (BAD_USER_INPUT) is read again from its start."""
    clock = [NOW_MS / 1000]
    await store.meta_set(WINDOW_KEY, json.dumps({"since": NOW_MS - 90_000, "until": NOW_MS, "after": "stale"}))
    api = FakeHistoryApi([[node(1), node(2)], [node(3)]])
    read = api.sale_page

    async def refusing_stale(since_ms: int, until_ms: int, first: int,
                             after: str | None) -> tuple[list[dict[str, Any]], str | None, bool]:
        if after == "stale":
            api.asked.append((since_ms, until_ms, after))
            raise PermanentError("pos", "after: not a cursor of this connection", code="BAD_USER_INPUT")
        return await read(since_ms, until_ms, first, after)

    api.sale_page = refusing_stale  # type: ignore[method-assign]
    assert await history(store, api, clock).poll() == 3
    assert [a for _, _, a in api.asked] == ["stale", None, "p0"]
    assert await sale_keys(store) == ["S-1", "S-2", "S-3"] and await store.meta_get(WINDOW_KEY) == ""
