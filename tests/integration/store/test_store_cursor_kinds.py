"""Replay cursors of both kinds: CometD integers (forward only) and Pub/Sub opaque bytes (base64 in a text column)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from worker.store import NewJob, Store, open_store
from worker.store.migrations import POSTGRES, SQLITE

from .conftest import PG


def job(key: str) -> NewJob:
    return NewJob("fo_import", key, {"k": key})


async def test_bytes_cursor_round_trips_and_is_replaced_by_each_write(store: Store) -> None:
    """An opaque replay id comes back byte for byte (NULs, high bytes) and the latest write wins, not the largest."""
    first, second = b"\x00\xff\x10replay\x00", b"\x00\x01"
    await store.enqueue([job("a")], cursor=("pubsub:/event/X", first))
    assert await store.get_cursor("pubsub:/event/X") == first
    await store.advance_cursor("pubsub:/event/X", second)
    assert await store.get_cursor("pubsub:/event/X") == second
    await store.enqueue([], cursor=("pubsub:/event/X", first))
    assert await store.get_cursor("pubsub:/event/X") == first
    await store.reset_cursor("pubsub:/event/X")
    assert await store.get_cursor("pubsub:/event/X") is None


async def test_int_and_bytes_cursors_live_side_by_side(store: Store) -> None:
    """A CometD int cursor keeps its forward-only rule beside a bytes cursor of another key; a key can change kind."""
    await store.advance_cursor("/event/X", 10)
    await store.advance_cursor("pubsub:/event/X", b"abc")
    await store.advance_cursor("/event/X", 7)
    assert await store.get_cursor("/event/X") == 10 and await store.get_cursor("pubsub:/event/X") == b"abc"
    await store.advance_cursor("/event/X", b"z")  # switching kinds replaces (an int and bytes do not compare)
    assert await store.get_cursor("/event/X") == b"z"
    await store.advance_cursor("/event/X", 3)
    assert await store.get_cursor("/event/X") == 3


async def test_a_cursor_of_another_type_is_refused_before_the_jobs_are_written(store: Store) -> None:
    """A str or bool cursor raises TypeError and the jobs of that enqueue are not inserted."""
    with pytest.raises(TypeError, match="int or bytes"):
        await store.enqueue([job("a")], cursor=("/event/X", "12"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await store.advance_cursor("/event/X", True)
    assert (await store.queue_counts())["fo_import"]["pending"] == 0


async def test_sqlite_version_3_int_cursors_survive_the_migration(tmp_path: Path) -> None:
    """A store written by the previous schema (integer cursors, NOT NULL) migrates and keeps its CometD cursor."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, statements in enumerate(SQLITE[:3], start=1):
        for sql in statements:
            db.execute(sql)
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    db.execute("INSERT INTO cursors (channel, replay_id, updated_at) VALUES ('/event/FOStatusChangedEvent', 41, 0)")
    db.commit()
    db.close()
    store = await open_store(f"sqlite:///{path}")
    try:
        assert await store.get_cursor("/event/FOStatusChangedEvent") == 41
        await store.advance_cursor("/event/FOStatusChangedEvent", 40)
        assert await store.get_cursor("/event/FOStatusChangedEvent") == 41
        await store.advance_cursor("pubsub:/event/FOStatusChangedEvent", b"\x01")
        assert await store.get_cursor("pubsub:/event/FOStatusChangedEvent") == b"\x01"
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_version_3_int_cursors_survive_the_migration(pg_url: str) -> None:
    """A PostgreSQL store at schema version 3 migrates in place and keeps its CometD cursor."""
    schema = pg_url.split("schema=")[1]
    conn = await asyncpg.connect(PG)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, statements in enumerate(POSTGRES[:3], start=1):
            for sql in statements:
                await conn.execute(sql)
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
        await conn.execute("INSERT INTO cursors (channel, replay_id) VALUES ('/event/FOStatusChangedEvent', 41)")
    finally:
        await conn.close()
    store = await open_store(pg_url)
    try:
        assert await store.get_cursor("/event/FOStatusChangedEvent") == 41
        await store.advance_cursor("pubsub:/event/FOStatusChangedEvent", b"\x00\x02")
        assert await store.get_cursor("pubsub:/event/FOStatusChangedEvent") == b"\x00\x02"
    finally:
        await store.close()
