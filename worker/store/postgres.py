"""PostgreSQL engine (asyncpg) for several replicas sharing one database.

Claims use ``FOR UPDATE SKIP LOCKED`` so replicas never take the same job; unique keys with ``ON CONFLICT DO
NOTHING`` make duplicate deliveries (every replica may subscribe to the stream) harmless; the replay cursor only
moves forward (``GREATEST``); migrations run under a transaction-scoped advisory lock.

Ordering keys under concurrency: a job is claimable only if no older job of its key is pending or processing.
Two replicas could both see the oldest job of a key as claimable at once; the row lock (SKIP LOCKED) lets only
one of them take it, and a newer job of the same key is never claimable while the older one exists, so per-key
order holds without extra locks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from .base import Job, LedgerEntry, NewJob, SaleRecord
from .migrations import POSTGRES

JOB_COLUMNS = ("id, queue, dedupe_key, ordering_key, payload::text, state, attempts, last_error, created_at, "
               "updated_at, next_attempt_at")
MIGRATION_LOCK = 7_304_211_963


def _job(row: Any) -> Job:
    return Job(id=int(row[0]), queue=row[1], dedupe_key=row[2], ordering_key=row[3], payload=json.loads(row[4]),
               state=row[5], attempts=int(row[6]), last_error=row[7], created_at=row[8], updated_at=row[9],
               next_attempt_at=row[10])


class PostgresStore:
    def __init__(self, dsn: str, *, schema: str | None = None) -> None:
        self.dsn, self.schema = dsn, schema
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> PostgresStore:
        settings = {"search_path": self.schema} if self.schema else None
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=10, server_settings=settings)
        return self

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    async def migrate(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))
            for version, statements in enumerate(POSTGRES[current:], start=current + 1):
                for sql in statements:
                    await conn.execute(sql)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
        return len(POSTGRES)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> None:
        await self.pool.execute("INSERT INTO meta (key, value) VALUES ('ping', now()::text) "
                                "ON CONFLICT (key) DO UPDATE SET value = excluded.value")

    async def get_cursor(self, channel: str) -> int | None:
        value = await self.pool.fetchval("SELECT replay_id FROM cursors WHERE channel = $1", channel)
        return int(value) if value is not None else None

    _CURSOR = ("INSERT INTO cursors (channel, replay_id, updated_at) VALUES ($1, $2, now()) ON CONFLICT (channel) "
               "DO UPDATE SET replay_id = GREATEST(cursors.replay_id, excluded.replay_id), updated_at = now()")

    async def advance_cursor(self, channel: str, replay_id: int) -> None:
        await self.pool.execute(self._CURSOR, channel, replay_id)

    async def reset_cursor(self, channel: str) -> None:
        await self.pool.execute("DELETE FROM cursors WHERE channel = $1", channel)

    async def enqueue(self, jobs: Sequence[NewJob], *, cursor: tuple[str, int] | None = None) -> int:
        inserted = 0
        async with self.pool.acquire() as conn, conn.transaction():
            if jobs:
                rows = await conn.fetch(
                    """INSERT INTO jobs (queue, dedupe_key, ordering_key, event_uuid, payload)
                       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
                       ON CONFLICT DO NOTHING RETURNING id""",
                    [j.queue for j in jobs], [j.dedupe_key for j in jobs], [j.ordering_key for j in jobs],
                    [j.event_uuid for j in jobs], [json.dumps(j.payload) for j in jobs])
                inserted = len(rows)
            if cursor is not None:
                await conn.execute(self._CURSOR, *cursor)
        return inserted

    async def claim(self, queue: str, limit: int, *, worker_id: str, lease_seconds: float) -> list[Job]:
        rows = await self.pool.fetch(
            f"""WITH picked AS (
                  SELECT id FROM jobs j WHERE queue = $1
                    AND ((state = 'pending' AND next_attempt_at <= now())
                         OR (state = 'processing' AND lease_until < now()))
                    AND (ordering_key IS NULL OR NOT EXISTS (
                         SELECT 1 FROM jobs o WHERE o.queue = j.queue AND o.ordering_key = j.ordering_key
                           AND o.id < j.id AND o.state IN ('pending', 'processing')))
                  ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
                UPDATE jobs SET state = 'processing', attempts = attempts + 1, claimed_by = $3, updated_at = now(),
                       lease_until = now() + make_interval(secs => $4)
                FROM picked WHERE jobs.id = picked.id
                RETURNING {", ".join("jobs." + c.strip() for c in JOB_COLUMNS.split(","))}""",
            queue, limit, worker_id, lease_seconds)
        return sorted((_job(r) for r in rows), key=lambda job: job.id)

    async def complete(self, job_ids: Sequence[int]) -> None:
        if job_ids:
            await self.pool.execute("UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = now() "
                                    "WHERE id = ANY($1::bigint[])", list(job_ids))

    async def retry_later(self, job_id: int, error: str, delay_seconds: float) -> None:
        await self.pool.execute("UPDATE jobs SET state = 'pending', lease_until = NULL, last_error = $2, "
                                "updated_at = now(), next_attempt_at = now() + make_interval(secs => $3) "
                                "WHERE id = $1", job_id, error, delay_seconds)

    async def dead_letter(self, job_id: int, error: str) -> None:
        await self.pool.execute("UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = $2, "
                                "updated_at = now() WHERE id = $1", job_id, error)

    async def release(self, job_ids: Sequence[int]) -> None:
        if job_ids:
            await self.pool.execute("UPDATE jobs SET state = 'pending', attempts = GREATEST(attempts - 1, 0), "
                                    "lease_until = NULL, updated_at = now(), next_attempt_at = now() "
                                    "WHERE id = ANY($1::bigint[]) AND state = 'processing'", list(job_ids))

    async def get_job(self, job_id: int) -> Job | None:
        row = await self.pool.fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1", job_id)
        return _job(row) if row else None

    async def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[Job]:
        rows = await self.pool.fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'dead' AND "
                                     "($1::text IS NULL OR queue = $1) ORDER BY id LIMIT $2", queue, limit)
        return [_job(r) for r in rows]

    async def requeue_dead(self, job_id: int) -> bool:
        status = await self.pool.execute("UPDATE jobs SET state = 'pending', attempts = 0, updated_at = now(), "
                                         "next_attempt_at = now() WHERE id = $1 AND state = 'dead'", job_id)
        return str(status).endswith(" 1")

    async def drop_dead(self, job_id: int) -> bool:
        status = await self.pool.execute("DELETE FROM jobs WHERE id = $1 AND state = 'dead'", job_id)
        return str(status).endswith(" 1")

    async def queue_counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for row in await self.pool.fetch("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state"):
            result.setdefault(row[0], {})[row[1]] = int(row[2])
        return result

    async def purge_done(self, older_than_seconds: float) -> int:
        status = await self.pool.execute("DELETE FROM jobs WHERE state = 'done' AND updated_at < now() - "
                                         "make_interval(secs => $1)", older_than_seconds)
        return int(str(status).split()[-1])

    async def ledger_get(self, fo_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        rows = await self.pool.fetch("SELECT fo_id, pos_order_id, line_ids::text, status, imported_at FROM ledger "
                                     "WHERE fo_id = ANY($1::text[])", list(fo_ids))
        return {r[0]: LedgerEntry(fo_id=r[0], pos_order_id=r[1], line_ids=json.loads(r[2]), status=r[3],
                                  imported_at=r[4]) for r in rows}

    async def ledger_put(self, entry: LedgerEntry) -> bool:
        status = await self.pool.execute("INSERT INTO ledger (fo_id, pos_order_id, line_ids, status) VALUES "
                                         "($1, $2, $3::jsonb, $4) ON CONFLICT DO NOTHING", entry.fo_id,
                                         entry.pos_order_id, json.dumps(entry.line_ids), entry.status)
        return str(status).endswith(" 1")

    async def ledger_set_status(self, fo_id: str, status: str) -> None:
        await self.pool.execute("UPDATE ledger SET status = $2 WHERE fo_id = $1", fo_id, status)

    async def ledger_count(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM ledger"))

    async def sale_get(self, pos_order_id: str) -> SaleRecord | None:
        row = await self.pool.fetchrow("SELECT pos_order_id, order_id, order_summary_id, extra::text FROM sales "
                                       "WHERE pos_order_id = $1", pos_order_id)
        if row is None:
            return None
        return SaleRecord(pos_order_id=row[0], order_id=row[1], order_summary_id=row[2], extra=json.loads(row[3]))

    async def sale_put(self, record: SaleRecord) -> bool:
        status = await self.pool.execute("INSERT INTO sales (pos_order_id, order_id, order_summary_id, extra) VALUES "
                                         "($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING", record.pos_order_id,
                                         record.order_id, record.order_summary_id, json.dumps(record.extra))
        return str(status).endswith(" 1")

    async def meta_get(self, key: str) -> str | None:
        value = await self.pool.fetchval("SELECT value FROM meta WHERE key = $1", key)
        return str(value) if value is not None else None

    async def meta_set(self, key: str, value: str) -> None:
        await self.pool.execute("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET "
                                "value = excluded.value", key, value)
