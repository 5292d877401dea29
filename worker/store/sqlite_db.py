"""SQLite connection (WAL, one replica): one connection, operations serialised by an asyncio.Lock.

Durability: ``synchronous=FULL``. In WAL mode ``NORMAL`` already survives a killed process, but a power
loss could drop the last commits; with ``FULL`` a commit is on disk before the call returns, so "answered
200 to the webhook" and "advanced the replay cursor" also survive power loss. Every write runs in ``BEGIN
IMMEDIATE`` (the write lock is taken before the first read, so a claim's read-then-update never interleaves
with another writer, even another process on the same file) and is shielded from cancellation: a caller
cancelled mid-way (SIGTERM) never leaves a transaction half-open or a COMMIT whose outcome is unknown.

Group commit: enqueues without a cursor (webhooks, sweeps) that arrive while the connection is busy (a claim,
another commit) do not each queue for the lock: they join one waiting group, and the next turn of the connection,
whoever takes it, first commits the whole group in one transaction — one fsync for all of them, and a webhook waits
for at most the one statement in progress, never behind the queue of claims. Each caller gets its own insert
count, or the transaction's error (then none of the group was written). Written here rather than taken from a
library: it is a few lines over the existing lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

import aiosqlite

from .migrations import SQLITE, pending
from .writer_lock import WriterLock

T = TypeVar("T")
Db = aiosqlite.Connection
ENQUEUE_SQL = ("INSERT INTO jobs (queue, dedupe_key, ordering_key, event_uuid, payload, created_at, "
               "updated_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")


async def _nothing(_: Db) -> None:
    return None


def _retrieved(future: asyncio.Future[int]) -> None:
    if not future.cancelled():
        future.exception()  # a caller cancelled while waiting never reads it


class SqliteDb:
    """The connection under :class:`~worker.store.sqlite.SqliteStore`: open, transactions, group commit, migrate."""

    def __init__(self, path: str, *, exclusive: bool = False) -> None:
        self.path = path
        self._writer = WriterLock(path) if exclusive and path != ":memory:" else None
        self._db: Db | None = None
        self._lock = asyncio.Lock()
        self._inflight: set[asyncio.Task[Any]] = set()
        self._group: list[tuple[list[tuple[Any, ...]], asyncio.Future[int]]] = []  # enqueues awaiting commit
        self._group_task: asyncio.Task[None] | None = None

    async def open(self) -> Self:
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)  # once, at start
            if self._writer is not None:
                self._writer.acquire()
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"):
                await self._db.execute(f"PRAGMA {pragma}")
        except RuntimeError:
            await self.close()
            raise
        except Exception as exc:
            await self.close()
            raise RuntimeError(f"cannot open SQLite store {self.path!r}: {exc}") from exc
        return self

    @property
    def db(self) -> Db:
        if self._db is None:
            raise RuntimeError("SQLite store is not open")
        return self._db

    # -- plumbing ------------------------------------------------------------------------------------
    async def _locked(self, fn: Callable[[Db], Awaitable[T]], write: bool) -> T:
        async with self._lock:
            if self._db is None and self._group:  # closed: the waiting enqueues hear it too, never wait forever
                taken, self._group, self._group_task = self._group, [], None
                for _, future in taken:
                    if not future.done():
                        future.set_exception(RuntimeError("SQLite store is not open"))
            db = self.db
            if self._group:  # waiting webhook commits go first, in a transaction of their own
                await self._commit_group(db)
            if not write:
                return await fn(db)
            return await self._transaction(db, fn)

    async def _transaction(self, db: Db, fn: Callable[[Db], Awaitable[T]]) -> T:
        await db.execute("BEGIN IMMEDIATE")
        try:
            result = await fn(db)
            await db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                try:
                    await db.execute("ROLLBACK")
                except Exception:  # the original error is the one worth reporting
                    pass
            raise
        return result

    async def _run(self, fn: Callable[[Db], Awaitable[T]], *, write: bool = True) -> T:
        """Run ``fn`` under the lock (in a transaction if ``write``), shielded from caller cancellation."""
        task = asyncio.ensure_future(self._locked(fn, write))
        self._inflight.add(task)
        task.add_done_callback(self._settled)
        return await asyncio.shield(task)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._inflight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a cancelled caller never will

    async def _rowcount(self, sql: str, params: Sequence[Any]) -> int:
        async def go(db: Db) -> int:
            return (await db.execute(sql, params)).rowcount

        return await self._run(go)

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async def go(db: Db) -> list[Any]:
            return list(await (await db.execute(sql, params)).fetchall())

        return await self._run(go, write=False)

    # -- lifecycle -----------------------------------------------------------------------------------
    async def migrate(self) -> int:
        async def go(db: Db) -> int:
            await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = await (await db.execute("SELECT max(version) FROM schema_version")).fetchone()
            current = int(row[0] or 0) if row else 0
            for version, statements in pending(f"SQLite store {self.path!r}", current, SQLITE):
                for sql in statements:
                    await db.execute(sql)
                await db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            return len(SQLITE)

        return await self._run(go)  # one IMMEDIATE transaction: all pending versions or none

    async def close(self) -> None:
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        async with self._lock:
            if self._db is not None:
                db, self._db = self._db, None
                await db.close()
        if self._writer is not None:
            self._writer.release()

    # -- group commit --------------------------------------------------------------------------------
    async def _grouped(self, rows: list[tuple[Any, ...]]) -> int:
        """Join the waiting group; the next turn of the connection (whoever takes it) commits the whole group."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieved)
        self._group.append((rows, done))
        if self._group_task is None or self._group_task.done():  # no scheduled turn will still take this group
            task = asyncio.ensure_future(self._locked(_nothing, False))
            self._inflight.add(task)
            task.add_done_callback(self._settled)
            self._group_task = task
        return await asyncio.shield(done)

    async def _commit_group(self, db: Db) -> None:
        """Under the lock: one transaction for every waiting enqueue; each hears its count or the error."""
        taken, self._group = self._group, []
        self._group_task = None  # an enqueue joining from now on is not in ``taken``: it must schedule a turn

        async def go(db: Db) -> list[int]:
            return [max((await db.executemany(ENQUEUE_SQL, rows)).rowcount, 0) for rows, _ in taken]

        try:
            counts = await self._transaction(db, go)
        except BaseException as exc:  # nothing of the group was written
            for _, future in taken:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), count in zip(taken, counts, strict=True):
            if not future.done():
                future.set_result(count)
