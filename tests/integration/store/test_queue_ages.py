"""Store.queue_ages on both engines: seconds the oldest live (pending or processing) job of each queue has waited."""

from __future__ import annotations

from typing import Any

from worker.store import QUEUES, NewJob, Store


async def backdate(store: Store, dedupe_key: str, seconds: float) -> None:
    """Move a job's enqueue time ``seconds`` into the past (the test's hook into each engine)."""
    engine: Any = store
    if hasattr(engine, "pool"):
        await engine.pool.execute("UPDATE jobs SET created_at = created_at - make_interval(secs => $1) "
                                  "WHERE dedupe_key = $2", float(seconds), dedupe_key)
    else:
        await engine.db.execute("UPDATE jobs SET created_at = created_at - ? WHERE dedupe_key = ?",
                                (seconds, dedupe_key))


async def test_queue_ages_are_zero_for_every_queue_of_an_empty_store(store: Store) -> None:
    """An empty store reports every queue, each at 0.0 (nothing waits, which is known, not unknown)."""
    assert await store.queue_ages() == dict.fromkeys(QUEUES, 0.0)


async def test_queue_age_follows_the_oldest_live_job_until_it_is_done_or_dead(store: Store) -> None:
    """The age is the oldest pending or processing job's; done and dead jobs stop counting; queues are separate."""
    await store.enqueue([NewJob("sale", "s1", {"n": 1}), NewJob("sale", "s2", {"n": 2}),
                         NewJob("status", "t1", {"n": 3})])
    await backdate(store, "s1", 7200)
    await backdate(store, "s2", 3600)
    await backdate(store, "t1", 600)
    ages = await store.queue_ages()
    assert 7200 <= ages["sale"] < 7260 and 600 <= ages["status"] < 660, ages
    assert all(ages[q] == 0.0 for q in QUEUES if q not in ("sale", "status")), ages

    first = await store.claim("sale", 1, worker_id="w", lease_seconds=60)
    assert [job.dedupe_key for job in first] == ["s1"]
    assert (await store.queue_ages())["sale"] >= 7200  # processing: still not done
    assert await store.complete(first) == 1
    assert 3600 <= (await store.queue_ages())["sale"] < 3660
    second = await store.claim("sale", 1, worker_id="w", lease_seconds=60)
    assert await store.dead_letter(second[0], "boom")
    assert (await store.queue_ages())["sale"] == 0.0
