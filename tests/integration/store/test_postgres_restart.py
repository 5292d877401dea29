"""Issue 15, store outage on PostgreSQL: the server of the test's own (``private_pg``) is stopped and started again
under the worker's guarded store. Calls fail fast with a clear transient error while it is down, the readiness
check fails, and the same store (its asyncpg pool) works again once the server is back: dead connections are
replaced, nobody has to reopen anything.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from worker.errors import TransientError
from worker.store import NewJob, open_store
from worker.store_health import StoreHealth, StoreUnavailable, guard_store, store_check


def _job(n: int) -> NewJob:
    return NewJob(queue="sale", dedupe_key=f"k{n}", payload={"n": n}, ordering_key=f"S-{n}")


async def test_postgres_restart_fails_calls_fast_and_the_same_pool_works_again(private_pg: Any) -> None:
    """PostgreSQL stopped: calls raise StoreUnavailable within 5 s, readiness fails; restarted: same pool works."""
    raw = await open_store(private_pg.url)
    tracker = StoreHealth()
    store = guard_store(raw, tracker)
    check = store_check(store, tracker)
    try:
        assert await store.enqueue([_job(1)]) == 1
        assert await check() is None

        await asyncio.to_thread(private_pg.stop)
        calls = {
            "enqueue": lambda: store.enqueue([_job(2)]),
            "claim": lambda: store.claim("sale", 5, worker_id="w1", lease_seconds=30),
            "get_cursor": lambda: store.get_cursor("/event/FOStatusChangedEvent"),
            "queue_counts": store.queue_counts,
        }
        for name, call in calls.items():
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as raised:
                await asyncio.wait_for(call(), 5)
            assert isinstance(raised.value, TransientError) and name in str(raised.value)
            assert time.monotonic() - started < 5
        problem = await check()
        assert problem is not None and "enqueue" in problem and "claim" in problem, problem

        await asyncio.to_thread(private_pg.start)
        deadline = time.monotonic() + 10
        while True:  # a pooled connection that died with the old server fails once, then is replaced
            try:
                assert await store.enqueue([_job(3)]) == 1
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the pool did not reconnect within 10 s"
                await asyncio.sleep(0.2)
        jobs = await store.claim("sale", 5, worker_id="w1", lease_seconds=30)
        assert sorted(job.dedupe_key for job in jobs) == ["k1", "k3"]
        await store.queue_counts()
        await store.get_cursor("/event/FOStatusChangedEvent")
        assert await check() is None
    finally:
        await raw.close()


def test_store_health_clears_each_kind_of_call_on_its_own_success_or_after_the_window() -> None:
    """An empty claim that succeeds does not hide a failing insert; failures older than the window are forgotten."""
    now = [100.0]
    health = StoreHealth(window=15.0, clock=lambda: now[0])
    health.failed("enqueue", "OperationalError: database or disk is full")
    health.succeeded("claim")
    assert health.problem() == "store calls failing (enqueue): OperationalError: database or disk is full"
    now[0] += 16
    assert health.problem() is None
    health.failed("claim", "ConnectionRefusedError")
    health.succeeded("claim")
    assert health.problem() is None
