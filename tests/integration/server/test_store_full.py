"""Issue 15, store outage on SQLite: a full disk, made with ``PRAGMA max_page_count`` on the store's own connection
(SQLite then refuses every write that needs a page with "database or disk is full", as on a full file system),
while a real QueueRunner claims from a backlog. The readiness ping alone (an UPDATE of one existing row) still
succeeds on a full disk, so ``/readyz`` must learn from the real claims and inserts that fail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from worker.flows.runner import Outcome, Pause, QueueRunner
from worker.health import Health
from worker.metrics import Metrics
from worker.retry import RetryPolicy
from worker.store import Job, NewJob, open_store
from worker.store_health import StoreHealth, guard_store, store_check

from .conftest import Served


class Completes:
    queue = "sale"

    def __init__(self) -> None:
        self.handled: list[str] = []

    async def handle(self, jobs: Sequence[Job], outcome: Outcome) -> None:
        for job in jobs:
            self.handled.append(job.dedupe_key)
            outcome.complete(job)


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _ready(served: Served) -> tuple[int, dict[str, Any]]:
    async with served.http.get(f"{served.url}/readyz") as resp:
        return resp.status, await resp.json()


async def test_full_sqlite_disk_fails_readiness_while_claims_fail_and_recovers_when_space_returns(
    tmp_path: Path, serve: Callable[..., Awaitable[Served]], sale_body: Callable[..., dict[str, Any]],
) -> None:
    """Disk full: /readyz 503 (store check failing) and webhooks 503 while claims fail; space back: 200, work done."""
    raw = await open_store(f"sqlite:///{tmp_path / 'state.db'}")
    tracker = StoreHealth()
    store = guard_store(raw, tracker)
    health = Health(cache_seconds=0)
    health.checks["store"] = store_check(store, tracker)
    served = await serve(store=store, health=health)
    backlog = [NewJob(queue="sale", dedupe_key=f"s{i}", payload={"n": i}, ordering_key=f"S-{i}") for i in range(40)]
    assert await raw.enqueue(backlog) == 40
    assert (await _ready(served))[0] == 200

    db: Any = raw.db  # the SQLite engine's connection: the test's hook
    pages = (await (await db.execute("PRAGMA page_count")).fetchone())[0]
    await db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: fill what is left in it
    await _fill(raw)

    handler, stop = Completes(), asyncio.Event()
    runner = QueueRunner(store, handler, worker_id="w1", retry=RetryPolicy(attempts=5), metrics=Metrics(),
                         pause=Pause(), batch_size=5, concurrency=1, lease_seconds=30, poll_seconds=0.05)
    running = asyncio.ensure_future(runner.run(stop))
    try:
        await _until(lambda: _claim_failed(tracker), "a claim to fail on the full disk")
        assert handler.handled == []
        status, body = await _ready(served)
        assert status == 503 and "store" in body["failing"], body
        assert "claim" in body["failing"]["store"] and "full" in body["failing"]["store"], body
        code, answer = await served.post("ORDER", sale_body(orderId="S-FULL-1"))
        assert code == 503 and answer["errorCode"] == "UNAVAILABLE", answer
        assert not running.done(), "the claim loop must keep retrying"

        await db.execute("PRAGMA max_page_count = 1073741823")  # space is back

        async def accepted() -> bool:
            return (await served.post("ORDER", sale_body(orderId="S-FULL-1")))[0] == 200

        await _until(accepted, "the webhook accepted again")

        async def ready() -> bool:
            return (await _ready(served))[0] == 200

        await _until(ready, "/readyz 200 again")
        await _until(lambda: _done(handler, 41), "the backlog and the new sale handled")
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        await raw.close()


async def _fill(store: Any) -> None:
    """Insert padding jobs (a queue nobody claims here) until SQLite says the disk is full."""
    n = 0
    for size in (4000, 1000, 200, 50, 1):
        while True:
            try:
                await store.enqueue([NewJob(queue="cancel", dedupe_key=f"pad{n}", payload={"p": "x" * size})])
            except Exception as exc:
                assert "full" in str(exc), exc
                break
            n += 1


async def _claim_failed(tracker: StoreHealth) -> bool:
    problem = tracker.problem()
    return problem is not None and "claim" in problem


async def _done(handler: Completes, count: int) -> bool:
    return len(set(handler.handled)) >= count
