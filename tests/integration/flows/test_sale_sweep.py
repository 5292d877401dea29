"""The sale sweep on a real SQLite store: the search window follows the stored cursor less the overlap, each page
is stored before the next is asked for, the cursor moves only after the last page, and the loop outlives a POS
outage."""

from __future__ import annotations

import asyncio
import copy
import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from worker.errors import TransientError
from worker.flows.sale_sweep import META_KEY, SaleSweep
from worker.metrics import Metrics
from worker.refused_sales import refused_of
from worker.store import Store

_CONFTEST = Path(__file__).parents[2] / "unit" / "mapping" / "conftest.py"
_spec = importlib.util.spec_from_file_location("mapping_conftest", _CONFTEST)
assert _spec and _spec.loader
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)
NOW_MS = 1_800_000_000_000


def sale(n: int) -> dict[str, Any]:
    return {**copy.deepcopy(_conftest.SALE), "orderId": f"S-256-{n:06d}"}


class FakePos:
    """``sale_pages`` answering the given pages; ``fail`` = raise instead of these page numbers (1-based)."""

    def __init__(self, pages: list[list[dict[str, Any]]], fail: set[int] | None = None, outages: int = 0) -> None:
        self.pages, self.fail, self.outages, self.queries = pages, fail or set(), outages, []

    async def sale_pages(self, query: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
        self.queries.append(query)
        if self.outages:
            self.outages -= 1
            raise TransientError("pos", "could not connect (ClientConnectorError)")
        for number, page in enumerate(self.pages, start=1):
            if number in self.fail:
                raise TransientError("pos", "no answer (ServerDisconnectedError)")
            yield page


async def test_window_cursor_and_pages(store: Store) -> None:
    """First sweep: overlap before now; a failed page keeps the stored pages and the old cursor; the next sweep
    re-reads from the cursor less the overlap and stores only what is new."""
    clock = [NOW_MS / 1000]
    pos = FakePos([[sale(1), sale(2)], [sale(3)]])
    sweep = SaleSweep(store, pos, interval_seconds=60, overlap_seconds=120, clock=lambda: clock[0])
    assert await sweep.sweep() == 3
    assert pos.queries[-1] == {"fromDate": NOW_MS - 120_000, "pageSize": 200}
    assert await store.meta_get(META_KEY) == str(NOW_MS)

    clock[0] += 60
    pos.pages.append([sale(4)])
    pos.fail = {3}
    try:
        await sweep.sweep()
        raise AssertionError("the failed page must fail the sweep")
    except TransientError:
        pass
    assert await store.meta_get(META_KEY) == str(NOW_MS)  # not moved past the failed page
    pos.fail = set()
    assert await sweep.sweep() == 1  # sale 4; sales 1-3 are duplicates of stored rows
    assert pos.queries[-1]["fromDate"] == NOW_MS - 120_000
    assert (await store.queue_counts())["sale"]["pending"] == 4


async def test_the_loop_backs_off_through_a_pos_outage(store: Store) -> None:
    """The POS refuses the first searches; the loop keeps going and stores the sale once the POS answers."""
    pos = FakePos([[sale(1)]], outages=2)
    sweep = SaleSweep(store, pos, interval_seconds=0.05, overlap_seconds=60)
    stop = asyncio.Event()
    task = asyncio.create_task(sweep.run(stop))

    async def swept() -> None:
        while sweep.sweeps < 1:
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(swept(), timeout=30)  # a bound, not a speed test
    finally:
        stop.set()
        await task
    assert len(pos.queries) >= 3 and (await store.queue_counts())["sale"]["pending"] == 1


async def test_a_refused_sale_is_stored_once_with_its_body_and_counted(store: Store) -> None:
    """A sale the webhook model refuses becomes one refused row (field named, export body kept, metric 1), even
    when the next sweep's overlap sees it again; the page's other sales get their normal rows."""
    clock = [NOW_MS / 1000]
    bad = {**sale(2), "currency": None}
    metrics = Metrics()
    sweep = SaleSweep(store, FakePos([[sale(1), bad, sale(3)]]), interval_seconds=60, overlap_seconds=120,
                      clock=lambda: clock[0], metrics=metrics)
    assert await sweep.sweep() == 2
    clock[0] += 60
    assert await sweep.sweep() == 0
    jobs = await store.claim("sale", 100, worker_id="t", lease_seconds=60)
    refused = [r for job in jobs if (r := refused_of(job.payload)) is not None]
    assert sorted(job.payload["sale"]["orderId"] for job in jobs if "sale" in job.payload) == [
        "S-256-000001", "S-256-000003"]
    assert [(r["sale_id"], r["field"], r["kind"], r["data"]) for r in refused] == [
        ("S-256-000002", "currency", "export", bad)]
    assert metrics.registry.get_sample_value("oms_sales_refused_total", {"source": "sale_sweep"}) == 1
