"""The sale poster and refused-sale rows on a real SQLite store: dead-lettered on the first claim with the field
named and no Salesforce call; after ``dlq retry`` a body that now validates becomes its normal rows."""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import sys
from pathlib import Path
from typing import Any

from worker.flows.runner import Outcome, Pause, QueueRunner
from worker.flows.sale_posting import SalePoster
from worker.metrics import Metrics
from worker.refused_sales import EXPORT, GRAPHQL_NODE, Refusal, refused_job
from worker.retry import RetryPolicy
from worker.store import SaleRecord, Store
from worker.webhook_jobs import build_jobs


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_TESTS = Path(__file__).parents[2]
SALE: dict[str, Any] = _load("mapping_conftest", _TESTS / "unit" / "mapping" / "conftest.py").SALE
CONFIG = _load("e2e_harness", _TESTS / "e2e" / "harness.py").worker_config(
    "http://127.0.0.1:9", "http://127.0.0.1:9", "sqlite:///unused.db")


class NoSalesforce:
    """Any Salesforce call is recorded and fails: a refused row must never make one."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        async def call(*_: Any, **__: Any) -> Any:
            self.calls.append(name)
            raise AssertionError(f"Salesforce called: {name}")
        return call


NODE = {"id": "S-9", "locationId": "NOWHERE", "modifiedAt": "2027-01-15T08:00:00.000Z"}
BROKEN = {**copy.deepcopy(SALE), "orderId": "S-256-000009", "currency": None}


async def test_refused_rows_are_dead_lettered_at_once_naming_the_field_without_salesforce(store: Store) -> None:
    """A GraphQL node and an export body row end dead after one claim (permanent), the error names the field (and
    for the node, what the operator does); Salesforce is never called; the dead-letter metric counts both."""
    await store.enqueue([
        refused_job(Refusal("sale_history", "S-9", "locationId", "no location NOWHERE", GRAPHQL_NODE, NODE)),
        refused_job(Refusal("sale_sweep", "S-256-000009", "currency", "Input should be a valid string", EXPORT,
                            BROKEN)),
    ])
    sf, metrics = NoSalesforce(), Metrics()
    runner = QueueRunner(store, SalePoster(store, sf, CONFIG, metrics), worker_id="t",  # type: ignore[arg-type]
                         retry=RetryPolicy(attempts=5, base_delay=0.01), metrics=metrics, pause=Pause(),
                         poll_seconds=0.02)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(10):
            while (await store.queue_counts())["sale"]["dead"] < 2:
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    dead = {job.payload["refused"]["sale_id"]: job for job in await store.dead_letters("sale")}
    assert sf.calls == [] and {job.attempts for job in dead.values()} == {1}
    node_error, body_error = dead["S-9"].last_error or "", dead["S-256-000009"].last_error or ""
    assert "sale_history: locationId: no location NOWHERE" in node_error and "cursor rewind" in node_error
    assert "sale_sweep: currency:" in body_error and "(fields: currency)" in body_error
    assert metrics.registry.get_sample_value("oms_dead_letters_total", {"queue": "sale"}) == 2
    assert (await store.queue_counts())["sale"]["pending"] == 0


async def test_a_retried_refused_body_that_now_validates_becomes_its_normal_rows(store: Store) -> None:
    """A refused row whose kept export body validates today (a fixed worker) is completed and the body's webhook
    rows are stored instead (same keys), without any Salesforce call."""
    good = copy.deepcopy(SALE)
    await store.enqueue([refused_job(Refusal("sale_sweep", str(good["orderId"]), "currency", "old rule", EXPORT,
                                             good))])
    sf = NoSalesforce()
    poster = SalePoster(store, sf, CONFIG, Metrics())  # type: ignore[arg-type]
    outcome = Outcome()
    (job,) = await store.claim("sale", 10, worker_id="t", lease_seconds=60)
    await poster.handle([job], outcome)
    assert outcome.done == [job.id] and outcome.failed == [] and sf.calls == []
    await store.complete([job])  # as the runner settles it (same ordering key: the new row waits for it)
    (normal,) = await store.claim("sale", 10, worker_id="t", lease_seconds=60)
    assert normal.dedupe_key == build_jobs("ORDER", "sale", good)[0].dedupe_key


async def test_a_refused_sale_posted_since_is_finished_not_dead_lettered(store: Store) -> None:
    """Once a corrected version of the sale is posted, retrying its refused row just completes it."""
    await store.enqueue([refused_job(Refusal("sale_history", "S-9", "locationId", "no location NOWHERE",
                                             GRAPHQL_NODE, NODE))])
    await store.sale_put(SaleRecord(pos_order_id="S-9", order_id="801xx0000000001AAA", order_summary_id=None))
    sf = NoSalesforce()
    outcome = Outcome()
    (job,) = await store.claim("sale", 10, worker_id="t", lease_seconds=60)
    await SalePoster(store, sf, CONFIG, Metrics()).handle([job], outcome)  # type: ignore[arg-type]
    assert outcome.done == [job.id] and outcome.failed == [] and sf.calls == []
