"""One contract suite for both store engines: SQLite (file) and PostgreSQL (127.0.0.1:5432, database test)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from worker.store import LedgerEntry, NewJob, SaleRecord, Store, open_store, redact_url

PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG)
    await conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG}?schema={schema}"
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(store_url)
    try:
        yield opened
    finally:
        await opened.close()


def job(key: str, *, queue: str = "fo_import", order: str | None = None, uuid_: str | None = None) -> NewJob:
    return NewJob(queue=queue, dedupe_key=key, payload={"key": key, "n": [1, 2.5, "x"]}, ordering_key=order,
                  event_uuid=uuid_)


async def test_enqueue_drops_duplicates_by_key_and_event_uuid(store: Store) -> None:
    """Duplicates (same dedupe key, or same EventUuid) are dropped at insert and counted as not inserted."""
    assert await store.enqueue([job("a", uuid_="u1"), job("b", uuid_="u2")]) == 2
    assert await store.enqueue([job("a"), job("c", uuid_="u1"), job("d")]) == 1
    assert await store.enqueue([job("a", queue="sale")]) == 1  # keys are per queue
    claimed = await store.claim("fo_import", 10, worker_id="w", lease_seconds=30)
    assert [j.dedupe_key for j in claimed] == ["a", "b", "d"]
    assert claimed[0].payload == {"key": "a", "n": [1, 2.5, "x"]}


async def test_cursor_advances_with_the_enqueue_and_never_backwards(store: Store) -> None:
    """The replay cursor is written in the enqueue transaction and only moves forward until reset."""
    assert await store.get_cursor("/event/X") is None
    await store.enqueue([job("a")], cursor=("/event/X", 10))
    assert await store.get_cursor("/event/X") == 10
    await store.enqueue([], cursor=("/event/X", 7))
    assert await store.get_cursor("/event/X") == 10
    await store.advance_cursor("/event/X", 15)
    assert await store.get_cursor("/event/X") == 15
    await store.reset_cursor("/event/X")
    assert await store.get_cursor("/event/X") is None


async def test_ordering_key_serialises_jobs_of_one_key(store: Store) -> None:
    """A later job of a key is not claimable while an older one is pending or leased; dead does not block."""
    await store.enqueue([job("1", order="FO1"), job("2", order="FO1"), job("3", order="FO2")])
    first = await store.claim("fo_import", 10, worker_id="w", lease_seconds=30)
    assert [j.dedupe_key for j in first] == ["1", "3"]
    assert await store.claim("fo_import", 10, worker_id="w", lease_seconds=30) == []
    await store.retry_later(first[0].id, "busy", 3600)
    assert await store.claim("fo_import", 10, worker_id="w", lease_seconds=30) == []  # older one still pending
    await store.dead_letter(first[0].id, "gave up")
    second = await store.claim("fo_import", 10, worker_id="w", lease_seconds=30)
    assert [j.dedupe_key for j in second] == ["2"]


async def test_expired_lease_is_reclaimed_and_counts_attempts(store: Store) -> None:
    """A job whose claimer died (lease expired) is claimed again, with its attempt count increased."""
    await store.enqueue([job("a")])
    first = await store.claim("fo_import", 1, worker_id="dead-replica", lease_seconds=0.01)
    await asyncio.sleep(0.05)
    again = await store.claim("fo_import", 1, worker_id="w2", lease_seconds=30)
    assert [j.id for j in again] == [first[0].id]
    assert again[0].attempts == 2


async def test_retry_later_release_and_complete(store: Store) -> None:
    """retry_later delays the job and keeps the error; release returns it at once; complete finishes it."""
    await store.enqueue([job("a"), job("b")])
    a, b = await store.claim("fo_import", 2, worker_id="w", lease_seconds=30)
    await store.retry_later(a.id, "TransientError: 503", 3600)
    await store.release([b.id])
    again = await store.claim("fo_import", 5, worker_id="w", lease_seconds=30)
    assert [j.id for j in again] == [b.id] and again[0].attempts == 1
    delayed = await store.get_job(a.id)
    assert delayed is not None and delayed.state == "pending" and delayed.last_error == "TransientError: 503"
    assert delayed.next_attempt_at > delayed.updated_at
    await store.complete([b.id])
    done = await store.get_job(b.id)
    assert done is not None and done.state == "done"
    counts = await store.queue_counts()
    assert counts["fo_import"] == {"pending": 1, "done": 1}


async def test_dead_letters_list_requeue_and_drop(store: Store) -> None:
    """Dead letters are listed per queue, can be queued again with attempts reset, or dropped."""
    await store.enqueue([job("a"), job("b"), job("s", queue="sale")])
    a, b = await store.claim("fo_import", 2, worker_id="w", lease_seconds=30)
    (s,) = await store.claim("sale", 1, worker_id="w", lease_seconds=30)
    for item in (a, b, s):
        await store.dead_letter(item.id, "PermanentError: bad")
    assert [j.id for j in await store.dead_letters("fo_import")] == [a.id, b.id]
    assert len(await store.dead_letters()) == 3
    assert await store.requeue_dead(a.id) and not await store.requeue_dead(a.id)
    assert await store.drop_dead(b.id) and not await store.drop_dead(b.id)
    again = await store.claim("fo_import", 5, worker_id="w", lease_seconds=30)
    assert [j.id for j in again] == [a.id] and again[0].attempts == 1


async def test_ledger_sales_and_meta_insert_if_absent(store: Store) -> None:
    """Ledger and sale rows are insert-if-absent (the first writer wins); meta is a small key/value."""
    entry = LedgerEntry(fo_id="0a3A", pos_order_id="P1", line_ids={"0a4A": "1"}, status="Allocated")
    assert await store.ledger_put(entry)
    assert not await store.ledger_put(LedgerEntry(fo_id="0a3A", pos_order_id="P2", line_ids={}))
    await store.ledger_set_status("0a3A", "Pickpack")
    got = await store.ledger_get(["0a3A", "missing"])
    assert list(got) == ["0a3A"] and got["0a3A"].pos_order_id == "P1" and got["0a3A"].status == "Pickpack"
    assert got["0a3A"].line_ids == {"0a4A": "1"} and await store.ledger_count() == 1
    assert await store.sale_put(SaleRecord("S1", "801A", "1OsA", {"k": 1}))
    assert not await store.sale_put(SaleRecord("S1", "801B", None))
    sale = await store.sale_get("S1")
    assert sale == SaleRecord("S1", "801A", "1OsA", {"k": 1})
    assert await store.sale_get("S2") is None
    await store.meta_set("k", "v1")
    await store.meta_set("k", "v2")
    assert await store.meta_get("k") == "v2" and await store.meta_get("none") is None


async def test_migrate_is_idempotent_and_reopen_keeps_state(store_url: str) -> None:
    """Migrating twice is harmless and a reopened store keeps queues, cursor and ledger."""
    first = await open_store(store_url)
    await first.enqueue([job("a")], cursor=("/event/X", 5))
    await first.ledger_put(LedgerEntry("FO", "P", {}))
    version = await first.migrate()
    await first.close()
    second = await open_store(store_url)
    try:
        assert await second.migrate() == version
        assert await second.get_cursor("/event/X") == 5 and await second.ledger_count() == 1
        assert len(await second.claim("fo_import", 5, worker_id="w", lease_seconds=5)) == 1
    finally:
        await second.close()


async def test_purge_done_removes_only_old_done_jobs(store: Store) -> None:
    """purge_done deletes finished jobs older than the horizon and nothing else."""
    await store.enqueue([job("a"), job("b")])
    a, _ = await store.claim("fo_import", 2, worker_id="w", lease_seconds=30)
    await store.complete([a.id])
    assert await store.purge_done(3600) == 0
    assert await store.purge_done(0) == 1
    assert await store.get_job(a.id) is None


@pytest.mark.postgres
async def test_concurrent_replicas_never_claim_the_same_job() -> None:
    """Two PostgreSQL stores claiming at once over 500 jobs get disjoint sets that cover every job."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG)
    await conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG}?schema={schema}"
    try:
        one, two = await asyncio.gather(open_store(url), open_store(url))  # concurrent migrations too
        await one.enqueue([job(str(i), order=f"FO{i % 50}") for i in range(500)])
        seen: dict[str, list[int]] = {"one": [], "two": []}

        async def drain(name: str, store: Store) -> None:
            while True:
                batch = await store.claim("fo_import", 7, worker_id=name, lease_seconds=60)
                if not batch:
                    counts = await store.queue_counts()
                    if counts["fo_import"].get("pending", 0) == 0 and counts["fo_import"].get("processing", 0) == 0:
                        return
                    await asyncio.sleep(0.01)
                    continue
                seen[name].extend(j.id for j in batch)
                await store.complete([j.id for j in batch])

        await asyncio.wait_for(asyncio.gather(drain("one", one), drain("two", two)), timeout=120)
        assert not set(seen["one"]) & set(seen["two"])
        assert len(seen["one"]) + len(seen["two"]) == 500
        await one.close()
        await two.close()
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


@pytest.mark.parametrize("url", ["mysql://x", "sqlite:///", "redis://h"])
async def test_bad_store_url_is_a_clear_error(url: str) -> None:
    """An unsupported or empty store URL raises ValueError naming the accepted forms."""
    with pytest.raises(ValueError, match="expected"):
        await open_store(url)


def test_store_url_password_is_redacted() -> None:
    """A PostgreSQL URL with a password is logged with the password masked."""
    assert redact_url("postgresql://app:s3cret@db:5432/x") == "postgresql://app:***@db:5432/x"
