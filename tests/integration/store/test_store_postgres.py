"""PostgreSQL with several replicas: concurrent claims, ordering keys, migrations, duplicate enqueues."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from worker.store import NewJob, Store, open_store
from worker.store.migrations import POSTGRES
from worker.store.postgres import CLAIM_LOCK_CLASS

pytestmark = pytest.mark.postgres
PG = "postgresql://postgres@127.0.0.1:5432/test"


async def open_many(url: str, n: int) -> list[Store]:
    return list(await asyncio.gather(*(open_store(url) for _ in range(n))))  # migrations race on purpose


async def test_concurrent_migrations_run_once(pg_url: str) -> None:
    """Four replicas opening a fresh schema at once all succeed and the schema is migrated exactly once."""
    stores = await open_many(pg_url, 4)
    try:
        conn = await asyncpg.connect(PG, server_settings={"search_path": pg_url.rsplit("=", 1)[1]})
        try:
            versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_version ORDER BY version")]
        finally:
            await conn.close()
        assert versions == list(range(1, len(POSTGRES) + 1))
    finally:
        for store in stores:
            await store.close()


async def test_two_replicas_never_claim_the_same_job_and_keep_key_order(pg_url: str) -> None:
    """Two stores draining 500 jobs get disjoint, complete sets; a key is held once at a time, in order."""
    one, two = await open_many(pg_url, 2)
    try:
        keyed = [NewJob("fo_import", str(i), {"i": i}, ordering_key=f"FO{i % 40}") for i in range(300)]
        await one.enqueue(keyed + [NewJob("fo_import", f"free{i}", {}) for i in range(200)])
        seen: dict[str, list[int]] = {"one": [], "two": []}
        holding: set[str] = set()
        per_key: dict[str, list[int]] = {}
        violations: list[str] = []

        async def drain(name: str, store: Store) -> None:
            idle = 0
            while idle < 3:  # three empty claims in a row after the queue emptied: done
                batch = await store.claim("fo_import", 7, worker_id=name, lease_seconds=300)
                if not batch:
                    counts = (await store.queue_counts())["fo_import"]
                    idle = idle + 1 if counts["pending"] == counts["processing"] == 0 else 0
                    await asyncio.sleep(0)
                    continue
                for job in batch:
                    if job.ordering_key is not None:
                        if job.ordering_key in holding:
                            violations.append(f"{job.ordering_key} claimed twice at once")
                        holding.add(job.ordering_key)
                        per_key.setdefault(job.ordering_key, []).append(job.id)
                seen[name].extend(j.id for j in batch)
                await asyncio.sleep(0)  # let the other replica run while we "work"
                for job in batch:  # stop holding before the commit that lets the next job of the key go
                    holding.discard(job.ordering_key or "")
                await store.complete(batch)

        await asyncio.wait_for(asyncio.gather(drain("one", one), drain("two", two)), timeout=60)
        assert violations == []
        assert not set(seen["one"]) & set(seen["two"])
        assert len(seen["one"]) + len(seen["two"]) == 500
        assert seen["one"] and seen["two"]  # both replicas took part
        assert all(ids == sorted(ids) and len(ids) == len(set(ids)) for ids in per_key.values())
        assert sum(len(ids) for ids in per_key.values()) == 300
    finally:
        await one.close()
        await two.close()


async def test_a_key_locked_by_another_claimer_is_skipped(pg_url: str) -> None:
    """While another transaction holds a key's claim lock, that key's job is skipped; other jobs go."""
    store = await open_store(pg_url)
    try:
        await store.enqueue([NewJob("status", "1", {}, ordering_key="FO1"), NewJob("status", "2", {}),
                             NewJob("status", "3", {}, ordering_key="FO2")])
        other = await asyncpg.connect(PG)
        try:
            async with other.transaction():
                await other.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", CLAIM_LOCK_CLASS,
                                    "status\x1fFO1")
                held = await store.claim("status", 10, worker_id="w", lease_seconds=60)
                assert [j.dedupe_key for j in held] == ["2", "3"]
        finally:
            await other.close()
        after = await store.claim("status", 10, worker_id="w", lease_seconds=60)
        assert [j.dedupe_key for j in after] == ["1"]
    finally:
        await store.close()


async def test_replicas_enqueueing_the_same_events_at_once_insert_each_once(pg_url: str) -> None:
    """Several replicas enqueueing overlapping batches concurrently (any order) insert every job once."""
    stores = await open_many(pg_url, 3)
    try:
        batch = [NewJob("fo_import", f"k{i}", {"i": i}, event_uuid=f"u{i}") for i in range(400)]
        orders = [batch, list(reversed(batch)), batch[200:] + batch[:200]]
        results = await asyncio.gather(*(s.enqueue(o, cursor=("/event/X", 100 + n))
                                         for n, (s, o) in enumerate(zip(stores, orders, strict=True))))
        assert sum(results) == 400
        assert (await stores[0].queue_counts())["fo_import"]["pending"] == 400
        assert await stores[0].get_cursor("/event/X") == 102
    finally:
        for store in stores:
            await store.close()


async def test_connection_failure_never_shows_the_password() -> None:
    """A PostgreSQL store that cannot connect raises ConnectionError without the password in the text."""
    with pytest.raises(ConnectionError) as caught:
        await open_store("postgresql://postgres:s3cr%40tPw@127.0.0.1:1/test")
    text = str(caught.value)
    assert "s3cr" not in text and "tPw" not in text and "127.0.0.1:1" in text
