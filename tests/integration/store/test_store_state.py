"""Ledger, sales, meta, payload fidelity, migrations and reopening, on both engines; SQLite specifics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from worker.store import LedgerEntry, NewJob, SaleRecord, Store, open_store
from worker.store.migrations import POSTGRES, SQLITE
from worker.store.sqlite import SqliteStore

PAYLOAD: dict[str, Any] = {
    "orderId": "S-1", "amount": 19.99, "tiny": 1e-05, "third": 0.1 + 0.2, "neg": -3.5, "zero": 0.0,
    "big": 2**63 + 1, "count": 3, "ok": True, "no": False, "none": None, "empty": {}, "list": [],
    "text": 'Crème brûlée "quoted" \\ back\nnew line \t tab \u2603 😀 中文',
    "nested": {"lines": [{"id": "0a4A", "qty": 2, "tax": [{"rate": 0.2}]}], "deep": {"a": {"b": {"c": [1]}}}},
}


async def test_payload_and_datetimes_round_trip_exactly(store: Store) -> None:
    """A payload comes back equal, with the same types (float stays float), and datetimes are aware UTC."""
    before = datetime.now(UTC) - timedelta(seconds=5)
    await store.enqueue([NewJob("sale", "p", PAYLOAD)])
    (got,) = await store.claim("sale", 1, worker_id="w", lease_seconds=60)
    assert got.payload == PAYLOAD
    assert all(type(got.payload[k]) is type(v) for k, v in PAYLOAD.items())
    for moment in (got.created_at, got.updated_at, got.next_attempt_at):
        assert moment.utcoffset() == timedelta(0) and moment > before


async def test_ledger_is_insert_if_absent_with_status_updates(store: Store) -> None:
    """The first ledger entry for an FO wins; status can be updated; lookups return only known FOs."""
    lines = {"0a4A": "1", "0a4B": "2"}
    entry = LedgerEntry(fo_id="0a3A", pos_order_id="P1", line_ids=lines, status="Allocated")
    assert await store.ledger_put(entry)
    assert not await store.ledger_put(LedgerEntry(fo_id="0a3A", pos_order_id="P2", line_ids={}))
    assert await store.ledger_put(LedgerEntry(fo_id="0a3B", pos_order_id="P3", line_ids={}))
    await store.ledger_set_status("0a3A", "Pickpack")
    await store.ledger_set_status("missing", "Pickpack")  # no entry: nothing happens
    got = await store.ledger_get(["0a3A", "missing", "0a3A"])
    assert list(got) == ["0a3A"]
    first = got["0a3A"]
    assert (first.pos_order_id, first.line_ids, first.status) == ("P1", lines, "Pickpack")
    assert first.imported_at is not None and first.imported_at.utcoffset() == timedelta(0)
    assert await store.ledger_count() == 2
    assert await store.ledger_get([]) == {}


async def test_ledger_keeps_a_given_import_time(store: Store) -> None:
    """An entry's imported_at, when given, is stored as is (to the microsecond)."""
    when = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)
    await store.ledger_put(LedgerEntry("FO", "P", {}, imported_at=when))
    assert (await store.ledger_get(["FO"]))["FO"].imported_at == when


async def test_sales_are_insert_if_absent(store: Store) -> None:
    """The first sale record for a POS order id wins and comes back whole; unknown ids give None."""
    assert await store.sale_put(SaleRecord("S1", "801A", "1OsA", {"k": 1, "amount": 9.5}))
    assert not await store.sale_put(SaleRecord("S1", "801B", None))
    assert await store.sale_put(SaleRecord("S2", "801C", None))
    assert await store.sale_get("S1") == SaleRecord("S1", "801A", "1OsA", {"k": 1, "amount": 9.5})
    assert await store.sale_get("S2") == SaleRecord("S2", "801C", None, {})
    assert await store.sale_get("S3") is None


async def test_meta_is_a_key_value_with_overwrite(store: Store) -> None:
    """meta_set overwrites; meta_get returns the last value or None."""
    await store.meta_set("k", "v1")
    await store.meta_set("k", '{"json": "v2"}')
    assert await store.meta_get("k") == '{"json": "v2"}' and await store.meta_get("none") is None


async def test_ping_succeeds_on_a_writable_store(store: Store) -> None:
    """ping writes to the store and returns normally when it is writable."""
    await store.ping()
    await store.ping()


async def test_migrate_is_idempotent_and_reopen_keeps_state(store_url: str) -> None:
    """Migrating again is harmless and a reopened store keeps queues, cursor, ledger, sales and meta."""
    first = await open_store(store_url)
    await first.enqueue([NewJob("fo_import", "a", {"x": 1})], cursor=("/event/X", 5))
    await first.ledger_put(LedgerEntry("FO", "P", {"l": "1"}))
    await first.sale_put(SaleRecord("S", "801", None))
    await first.meta_set("k", "v")
    version = await first.migrate()
    assert version == await first.migrate()
    await first.close()
    second = await open_store(store_url)
    try:
        assert await second.migrate() == version
        assert await second.get_cursor("/event/X") == 5 and await second.ledger_count() == 1
        assert await second.sale_get("S") is not None and await second.meta_get("k") == "v"
        jobs = await second.claim("fo_import", 5, worker_id="w", lease_seconds=5)
        assert [j.payload for j in jobs] == [{"x": 1}]
        assert await second.enqueue([NewJob("fo_import", "a", {})]) == 0  # dedupe survives the restart
    finally:
        await second.close()


async def test_migrate_refuses_a_schema_newer_than_the_code(store: Store) -> None:
    """A database migrated by a newer worker is refused with a clear error instead of being misused."""
    version = len(SQLITE) if isinstance(store, SqliteStore) else len(POSTGRES)
    if isinstance(store, SqliteStore):
        await store.db.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
    else:
        pool: Any = store.pool  # type: ignore[attr-defined]
        await pool.execute("INSERT INTO schema_version (version) VALUES ($1)", version + 1)
    with pytest.raises(RuntimeError, match="newer than this worker knows"):
        await store.migrate()


async def test_sqlite_uses_wal_and_full_sync(tmp_path: Path) -> None:
    """The SQLite store runs in WAL mode with synchronous=FULL (commits survive power loss)."""
    store = await open_store(f"sqlite:///{tmp_path / 's.db'}")
    assert isinstance(store, SqliteStore)
    try:
        modes = [await (await store.db.execute(f"PRAGMA {name}")).fetchone()
                 for name in ("journal_mode", "synchronous")]
        assert [m[0] if m else None for m in modes] == ["wal", 2]  # 2 = FULL
    finally:
        await store.close()


async def test_sqlite_memory_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite:///:memory: works, and sqlite:///sub/rel.db is relative to the working directory (created)."""
    memory = await open_store("sqlite:///:memory:")
    assert await memory.enqueue([NewJob("sale", "a", {})]) == 1
    await memory.close()
    monkeypatch.chdir(tmp_path)
    relative = await open_store("sqlite:///sub/rel.db")
    await relative.meta_set("k", "v")
    await relative.close()
    assert (tmp_path / "sub" / "rel.db").exists()


async def test_sqlite_open_failure_is_clear(tmp_path: Path) -> None:
    """A SQLite path that cannot be opened raises RuntimeError naming the path."""
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(RuntimeError, match=r"cannot open SQLite store .*file/x\.db"):
        await open_store(f"sqlite:///{tmp_path / 'file' / 'x.db'}")


async def test_sqlite_cancelled_enqueue_leaves_no_half_transaction(tmp_path: Path) -> None:
    """A caller cancelled mid-enqueue leaves all-or-nothing state and a usable store (writes are shielded)."""
    store = await open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        task = asyncio.create_task(store.enqueue([NewJob("sale", str(i), {}) for i in range(300)],
                                                 cursor=("/event/X", 300)))
        for _ in range(3):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await store.enqueue([NewJob("sale", "z", {})]) == 1
        pending = (await store.queue_counts())["sale"]["pending"]
        cursor = await store.get_cursor("/event/X")
        assert (pending, cursor) in {(1, None), (301, 300)}
    finally:
        await store.close()
