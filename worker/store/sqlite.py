"""SQLite engine (WAL, one replica): one connection, operations serialised by an asyncio.Lock.

``synchronous=FULL``: a commit is on disk before the call returns, so "answered 200" and "advanced the replay
cursor" survive power loss, not only a killed process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from .base import Job, LedgerEntry, NewJob, SaleRecord
from .migrations import SQLITE

JOB_COLUMNS = ("id, queue, dedupe_key, ordering_key, payload, state, attempts, last_error, created_at, updated_at, "
               "next_attempt_at")


def _dt(value: float | None) -> datetime:
    return datetime.fromtimestamp(value or 0.0, tz=UTC)


def _job(row: Sequence[Any]) -> Job:
    return Job(id=int(row[0]), queue=row[1], dedupe_key=row[2], ordering_key=row[3], payload=json.loads(row[4]),
               state=row[5], attempts=int(row[6]), last_error=row[7], created_at=_dt(row[8]),
               updated_at=_dt(row[9]), next_attempt_at=_dt(row[10]))


class SqliteStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> SqliteStore:
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000", "foreign_keys=ON"):
            await self._db.execute(f"PRAGMA {pragma}")
        return self

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def _tx(self, statements: list[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run statements in one IMMEDIATE transaction; returns rowcounts."""
        counts: list[int] = []
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    cursor = await self.db.execute(sql, params)
                    counts.append(cursor.rowcount)
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
        return counts

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self._lock:
            cursor = await self.db.execute(sql, params)
            return list(await cursor.fetchall())

    async def migrate(self) -> int:
        async with self._lock:
            await self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            rows = list(await (await self.db.execute("SELECT max(version) FROM schema_version")).fetchall())
            current = int(rows[0][0] or 0)
            for version, statements in enumerate(SQLITE[current:], start=current + 1):
                await self.db.execute("BEGIN IMMEDIATE")
                try:
                    for sql in statements:
                        await self.db.execute(sql)
                    await self.db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                    await self.db.execute("COMMIT")
                except BaseException:
                    await self.db.execute("ROLLBACK")
                    raise
            return len(SQLITE)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def ping(self) -> None:
        await self._tx([("INSERT INTO meta (key, value) VALUES ('ping', ?) ON CONFLICT (key) DO UPDATE SET "
                         "value = excluded.value", (str(time.time()),))])

    # -- replay cursor ------------------------------------------------------------------------------------
    async def get_cursor(self, channel: str) -> int | None:
        rows = await self._fetch("SELECT replay_id FROM cursors WHERE channel = ?", (channel,))
        return int(rows[0][0]) if rows else None

    @staticmethod
    def _cursor_sql(channel: str, replay_id: int) -> tuple[str, Sequence[Any]]:
        return ("INSERT INTO cursors (channel, replay_id, updated_at) VALUES (?, ?, ?) ON CONFLICT (channel) DO "
                "UPDATE SET replay_id = max(replay_id, excluded.replay_id), updated_at = excluded.updated_at",
                (channel, replay_id, time.time()))

    async def advance_cursor(self, channel: str, replay_id: int) -> None:
        await self._tx([self._cursor_sql(channel, replay_id)])

    async def reset_cursor(self, channel: str) -> None:
        await self._tx([("DELETE FROM cursors WHERE channel = ?", (channel,))])

    # -- queues ------------------------------------------------------------------------------------------
    async def enqueue(self, jobs: Sequence[NewJob], *, cursor: tuple[str, int] | None = None) -> int:
        now = time.time()
        statements: list[tuple[str, Sequence[Any]]] = [
            ("INSERT INTO jobs (queue, dedupe_key, ordering_key, event_uuid, payload, created_at, updated_at, "
             "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
             (j.queue, j.dedupe_key, j.ordering_key, j.event_uuid, json.dumps(j.payload), now, now, now))
            for j in jobs
        ]
        if cursor is not None:
            statements.append(self._cursor_sql(*cursor))
        if not statements:
            return 0
        counts = await self._tx(statements)
        return sum(max(c, 0) for c in counts[: len(jobs)])

    async def claim(self, queue: str, limit: int, *, worker_id: str, lease_seconds: float) -> list[Job]:
        now = time.time()
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                cursor = await self.db.execute(
                    """SELECT id FROM jobs j WHERE queue = ?
                         AND ((state = 'pending' AND next_attempt_at <= ?)
                              OR (state = 'processing' AND lease_until < ?))
                         AND (ordering_key IS NULL OR NOT EXISTS (
                              SELECT 1 FROM jobs o WHERE o.queue = j.queue AND o.ordering_key = j.ordering_key
                                AND o.id < j.id AND o.state IN ('pending', 'processing')))
                       ORDER BY id LIMIT ?""",
                    (queue, now, now, limit),
                )
                ids = [int(r[0]) for r in await cursor.fetchall()]
                rows: list[Any] = []
                if ids:
                    marks = ",".join("?" * len(ids))
                    await self.db.execute(
                        f"UPDATE jobs SET state = 'processing', attempts = attempts + 1, lease_until = ?, "
                        f"claimed_by = ?, updated_at = ? WHERE id IN ({marks})",
                        (now + lease_seconds, worker_id, now, *ids))
                    cursor = await self.db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN ({marks}) ORDER BY id",
                                                   ids)
                    rows = list(await cursor.fetchall())
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
        return [_job(r) for r in rows]

    async def complete(self, job_ids: Sequence[int]) -> None:
        if job_ids:
            marks = ",".join("?" * len(job_ids))
            await self._tx([(f"UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = ? "
                             f"WHERE id IN ({marks})", (time.time(), *job_ids))])

    async def retry_later(self, job_id: int, error: str, delay_seconds: float) -> None:
        now = time.time()
        await self._tx([("UPDATE jobs SET state = 'pending', lease_until = NULL, last_error = ?, updated_at = ?, "
                         "next_attempt_at = ? WHERE id = ?", (error, now, now + delay_seconds, job_id))])

    async def dead_letter(self, job_id: int, error: str) -> None:
        await self._tx([("UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = ?, updated_at = ? "
                         "WHERE id = ?", (error, time.time(), job_id))])

    async def release(self, job_ids: Sequence[int]) -> None:
        if job_ids:
            now = time.time()
            marks = ",".join("?" * len(job_ids))
            await self._tx([(f"UPDATE jobs SET state = 'pending', attempts = max(attempts - 1, 0), lease_until = NULL, "
                             f"updated_at = ?, next_attempt_at = ? WHERE id IN ({marks}) AND state = 'processing'",
                             (now, now, *job_ids))])

    async def get_job(self, job_id: int) -> Job | None:
        rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    async def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[Job]:
        if queue:
            rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'dead' AND queue = ? "
                                     "ORDER BY id LIMIT ?", (queue, limit))
        else:
            rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'dead' ORDER BY id LIMIT ?",
                                     (limit,))
        return [_job(r) for r in rows]

    async def requeue_dead(self, job_id: int) -> bool:
        now = time.time()
        counts = await self._tx([("UPDATE jobs SET state = 'pending', attempts = 0, updated_at = ?, "
                                  "next_attempt_at = ? WHERE id = ? AND state = 'dead'", (now, now, job_id))])
        return counts[0] > 0

    async def drop_dead(self, job_id: int) -> bool:
        counts = await self._tx([("DELETE FROM jobs WHERE id = ? AND state = 'dead'", (job_id,))])
        return counts[0] > 0

    async def queue_counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for queue, state, count in await self._fetch("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state"):
            result.setdefault(queue, {})[state] = int(count)
        return result

    async def purge_done(self, older_than_seconds: float) -> int:
        counts = await self._tx([("DELETE FROM jobs WHERE state = 'done' AND updated_at < ?",
                                  (time.time() - older_than_seconds,))])
        return counts[0]

    # -- ledger, sales, meta ------------------------------------------------------------------------------
    async def ledger_get(self, fo_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        result: dict[str, LedgerEntry] = {}
        ids = list(fo_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in await self._fetch("SELECT fo_id, pos_order_id, line_ids, status, imported_at FROM ledger "
                                         f"WHERE fo_id IN ({marks})", chunk):
                result[row[0]] = LedgerEntry(fo_id=row[0], pos_order_id=row[1], line_ids=json.loads(row[2]),
                                             status=row[3], imported_at=_dt(row[4]))
        return result

    async def ledger_put(self, entry: LedgerEntry) -> bool:
        counts = await self._tx([("INSERT INTO ledger (fo_id, pos_order_id, line_ids, status, imported_at) "
                                  "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                  (entry.fo_id, entry.pos_order_id, json.dumps(entry.line_ids), entry.status,
                                   time.time()))])
        return counts[0] > 0

    async def ledger_set_status(self, fo_id: str, status: str) -> None:
        await self._tx([("UPDATE ledger SET status = ? WHERE fo_id = ?", (status, fo_id))])

    async def ledger_count(self) -> int:
        rows = await self._fetch("SELECT count(*) FROM ledger")
        return int(rows[0][0])

    async def sale_get(self, pos_order_id: str) -> SaleRecord | None:
        rows = await self._fetch("SELECT pos_order_id, order_id, order_summary_id, extra FROM sales "
                                 "WHERE pos_order_id = ?", (pos_order_id,))
        if not rows:
            return None
        return SaleRecord(pos_order_id=rows[0][0], order_id=rows[0][1], order_summary_id=rows[0][2],
                          extra=json.loads(rows[0][3]))

    async def sale_put(self, record: SaleRecord) -> bool:
        counts = await self._tx([("INSERT INTO sales (pos_order_id, order_id, order_summary_id, extra, posted_at) "
                                  "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                  (record.pos_order_id, record.order_id, record.order_summary_id,
                                   json.dumps(record.extra), time.time()))])
        return counts[0] > 0

    async def meta_get(self, key: str) -> str | None:
        rows = await self._fetch("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def meta_set(self, key: str, value: str) -> None:
        await self._tx([("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                         "value = excluded.value", (key, value))])
