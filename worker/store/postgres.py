"""PostgreSQL engine (asyncpg pool) for several replicas sharing one database: the store's statements.

Unique keys with ``ON CONFLICT DO NOTHING`` make duplicate deliveries harmless (every replica may subscribe
to the stream and receive the same event); the replay cursor only moves forward (``GREATEST``). The pool and
the migrations are in :mod:`worker.store.postgres_db`.

Claims and ordering keys under concurrency (READ COMMITTED): one transaction of three statements.

1. ``SELECT ... FOR UPDATE SKIP LOCKED`` picks candidates oldest first: due pending jobs or expired leases,
   and for an ordering key only its oldest live job, with no other job of the key under a live lease. SKIP
   LOCKED means two replicas never lock the same row, so a job is never handed out twice.
2. For each ordering key among the candidates, ``pg_try_advisory_xact_lock(CLAIM_LOCK_CLASS,
   hashtext(queue || key))``. A key whose lock another claimer holds is skipped this round (stays pending).
3. ``UPDATE ... RETURNING`` leases the candidates, re-checking the ordering-key rule. This statement takes
   a NEW snapshot, after the key locks were won: any other claim of the same key either committed before
   (visible, so the re-check drops our candidate) or cannot commit a claim of that key until we commit.
   Step 1 alone is not enough: its snapshot can predate a concurrent claim of another job of the same key
   (e.g. an operator requeued an older dead job), and SKIP LOCKED protects the row, not the key.
A hash collision between two keys only makes one of them wait a round; it never breaks the order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from .base import (
    QUEUES,
    Cursor,
    Job,
    LedgerEntry,
    NewJob,
    SaleRecord,
    check_jobs,
    cursor_columns,
    cursor_value,
    encode_json,
    fill_counts,
    new_token,
)
from .postgres_db import PostgresDb

COLUMNS = ["id", "queue", "dedupe_key", "ordering_key", "payload::text", "state", "attempts", "last_error",
           "created_at", "updated_at", "next_attempt_at", "claim_token"]
JOB_COLUMNS = ", ".join(COLUMNS)
CLAIM_LOCK_CLASS = 7_304_211  # pg_try_advisory_xact_lock(int, int): two-argument lock space, per key
ENQUEUE_LOCK_CLASS = 7_304_212  # pg_advisory_xact_lock(int, int): per queue, serialises enqueues
DEADLOCK_RETRIES = 3

# A job of an ordering key is blocked by an OLDER live (pending/processing) job of its key, or by ANY other
# job of its key holding a live lease. now() is the transaction start, the same in every statement.
_KEY_FREE = """(j.ordering_key IS NULL OR NOT EXISTS (
      SELECT 1 FROM jobs o
       WHERE o.queue = j.queue AND o.ordering_key = j.ordering_key AND o.id <> j.id
         AND o.state IN ('pending', 'processing')
         AND (o.id < j.id OR (o.state = 'processing' AND o.lease_until >= now()))))"""
CANDIDATES_SQL = f"""
SELECT j.id, j.ordering_key FROM jobs j
 WHERE j.queue = $1 AND j.state IN ('pending', 'processing')
   AND ((j.state = 'pending' AND j.next_attempt_at <= now())
        OR (j.state = 'processing' AND j.lease_until < now()))
   AND {_KEY_FREE}
 ORDER BY j.id LIMIT $2
 FOR UPDATE OF j SKIP LOCKED"""
KEY_LOCK_SQL = f"""
SELECT k FROM unnest($2::text[]) AS k
 WHERE pg_try_advisory_xact_lock({CLAIM_LOCK_CLASS}, hashtext($1::text || chr(31) || k))"""
LEASE_SQL = f"""
UPDATE jobs j SET state = 'processing', attempts = attempts + 1, claimed_by = $2, updated_at = now(),
       lease_until = now() + make_interval(secs => $3), claim_token = $4
 WHERE j.id = ANY($1::bigint[]) AND {_KEY_FREE}
RETURNING {", ".join("j." + c for c in COLUMNS)}"""
# an integer cursor only moves forward; a bytes cursor (opaque) replaces whatever was there
CURSOR_SQL = ("INSERT INTO cursors (channel, replay_id, replay_bytes, updated_at) VALUES ($1, $2, $3, now()) "
              "ON CONFLICT (channel) DO UPDATE SET replay_id = CASE WHEN excluded.replay_id IS NULL THEN NULL "
              "ELSE GREATEST(cursors.replay_id, excluded.replay_id) END, replay_bytes = excluded.replay_bytes, "
              "updated_at = now()")
ENQUEUE_SQL = """
INSERT INTO jobs (queue, dedupe_key, ordering_key, event_uuid, payload)
SELECT q, d, o, e, p::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
       WITH ORDINALITY AS t(q, d, o, e, p, n)
 ORDER BY n
ON CONFLICT DO NOTHING RETURNING id"""
# a fenced statement acts only on jobs still processing under the token they were claimed with
FENCE = "id = ANY($1::bigint[]) AND claim_token = $2 AND state = 'processing'"
EFFECTS_SQL = """
WITH old AS (SELECT key, started_at FROM effects WHERE kind = $1 AND key = ANY($2::text[])),
     up AS (INSERT INTO effects (kind, key) SELECT $1, k FROM unnest($2::text[]) AS k
            ON CONFLICT (kind, key) DO UPDATE SET started_at = now())
SELECT key, started_at FROM old"""
META_SQL = ("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE "
            "SET value = excluded.value")


def _job(row: Any) -> Job:
    return Job(id=int(row[0]), queue=row[1], dedupe_key=row[2], ordering_key=row[3],
               payload=json.loads(row[4]), state=row[5], attempts=int(row[6]), last_error=row[7],
               created_at=row[8], updated_at=row[9], next_attempt_at=row[10], token=row[11])


def _affected(status: str) -> int:
    """Row count from a command tag such as ``UPDATE 3`` or ``INSERT 0 1``."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStore(PostgresDb):
    async def ping(self) -> None:
        await self.pool.execute(META_SQL, "ping", datetime.now(UTC).isoformat())

    # -- replay cursor -------------------------------------------------------------------------------
    async def get_cursor(self, channel: str) -> Cursor | None:
        row = await self.pool.fetchrow("SELECT replay_id, replay_bytes FROM cursors WHERE channel = $1", channel)
        return cursor_value(row[0], row[1]) if row is not None else None

    async def advance_cursor(self, channel: str, replay_id: Cursor) -> None:
        await self.pool.execute(CURSOR_SQL, channel, *cursor_columns(replay_id))

    async def reset_cursor(self, channel: str) -> None:
        await self.pool.execute("DELETE FROM cursors WHERE channel = $1", channel)

    # -- queues --------------------------------------------------------------------------------------
    async def enqueue(self, jobs: Sequence[NewJob], *, cursor: tuple[str, Cursor] | None = None) -> int:
        texts = check_jobs(jobs)
        cursor_row = cursor_columns(cursor[1]) if cursor is not None else (None, None)
        if not jobs and cursor is None:
            return 0
        columns = ([j.queue for j in jobs], [j.dedupe_key for j in jobs], [j.ordering_key for j in jobs],
                   [j.event_uuid for j in jobs], texts)
        for attempt in range(DEADLOCK_RETRIES):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    # Replicas inserting the same keys in different orders would wait on each other's
                    # uncommitted unique-index entries and deadlock (ids must follow the given order, so the
                    # rows cannot be sorted instead); one short lock per queue, in sorted order, prevents it.
                    for queue in sorted({j.queue for j in jobs}):
                        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))",
                                           ENQUEUE_LOCK_CLASS, queue)
                    # ids follow the given order (WITH ORDINALITY), so ordering keys keep arrival order
                    inserted = len(await conn.fetch(ENQUEUE_SQL, *columns)) if jobs else 0
                    if cursor is not None:
                        await conn.execute(CURSOR_SQL, cursor[0], *cursor_row)
                return inserted
            except asyncpg.DeadlockDetectedError:
                # not expected (see the lock above); the victim rolled back entirely, so a rerun is exact
                if attempt == DEADLOCK_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def claim(self, queue: str, limit: int, *, worker_id: str, lease_seconds: float) -> list[Job]:
        if limit <= 0:
            return []
        async with self.pool.acquire() as conn, conn.transaction():
            candidates = await conn.fetch(CANDIDATES_SQL, queue, limit)
            keys = sorted({row[1] for row in candidates if row[1] is not None})
            won = {row[0] for row in await conn.fetch(KEY_LOCK_SQL, queue, keys)} if keys else set()
            ids = [int(row[0]) for row in candidates if row[1] is None or row[1] in won]
            token = new_token(worker_id)
            rows = await conn.fetch(LEASE_SQL, ids, worker_id, float(lease_seconds), token) if ids else []
        return sorted((_job(r) for r in rows), key=lambda job: job.id)

    async def _fenced(self, sql: str, jobs: Sequence[Job], *args: Any) -> list[int]:
        """Run ``sql`` (``... WHERE {fence} RETURNING id``; extra args from $3) on the jobs still held."""
        groups: dict[str | None, list[int]] = {}
        for job in jobs:
            groups.setdefault(job.token, []).append(job.id)
        changed: list[int] = []
        for token, ids in groups.items():
            rows = await self.pool.fetch(sql.format(fence=FENCE) + " RETURNING id", ids, token, *args)
            changed.extend(int(row[0]) for row in rows)
        return changed

    async def renew(self, jobs: Sequence[Job], lease_seconds: float) -> set[int]:
        return set(await self._fenced("UPDATE jobs SET lease_until = now() + make_interval(secs => $3), "
                                      "updated_at = now() WHERE {fence}", jobs, float(lease_seconds)))

    async def complete(self, jobs: Sequence[Job]) -> int:
        return len(await self._fenced("UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = now() "
                                      "WHERE {fence}", jobs))

    async def retry_later(self, job: Job, error: str, delay_seconds: float) -> bool:
        return bool(await self._fenced("UPDATE jobs SET state = 'pending', lease_until = NULL, last_error = $3, "
                                       "updated_at = now(), next_attempt_at = now() + make_interval(secs => $4) "
                                       "WHERE {fence}", [job], error, float(delay_seconds)))

    async def dead_letter(self, job: Job, error: str) -> bool:
        return bool(await self._fenced("UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = $3, "
                                       "updated_at = now() WHERE {fence}", [job], error))

    async def release(self, jobs: Sequence[Job]) -> int:
        return len(await self._fenced("UPDATE jobs SET state = 'pending', lease_until = NULL, updated_at = now(), "
                                      "next_attempt_at = now() WHERE {fence}", jobs))

    async def get_job(self, job_id: int) -> Job | None:
        row = await self.pool.fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1", job_id)
        return _job(row) if row else None

    async def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[Job]:
        rows = await self.pool.fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'dead' AND "
                                     "($1::text IS NULL OR queue = $1) ORDER BY id LIMIT $2", queue, limit)
        return [_job(r) for r in rows]

    async def requeue_dead(self, job_id: int) -> bool:
        status = await self.pool.execute("UPDATE jobs SET state = 'pending', attempts = 0, "
                                         "lease_until = NULL, updated_at = now(), next_attempt_at = now() "
                                         "WHERE id = $1 AND state = 'dead'", job_id)
        return _affected(status) > 0

    async def drop_dead(self, job_id: int) -> bool:
        status = await self.pool.execute("DELETE FROM jobs WHERE id = $1 AND state = 'dead'", job_id)
        return _affected(status) > 0

    async def queue_counts(self) -> dict[str, dict[str, int]]:
        rows = await self.pool.fetch("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state")
        return fill_counts([(r[0], r[1], int(r[2])) for r in rows])

    async def purge_done(self, older_than_seconds: float) -> int:
        status = await self.pool.execute("DELETE FROM jobs WHERE state = 'done' AND updated_at < now() - "
                                         "make_interval(secs => $1)", float(older_than_seconds))
        return _affected(status)

    async def queue_ages(self) -> dict[str, float]:
        rows = await self.pool.fetch(  # per queue, the oldest live job by id: the partial index jobs_active
            "SELECT q, extract(epoch FROM now() - (SELECT created_at FROM jobs WHERE queue = q AND state IN "
            "('pending', 'processing') ORDER BY id LIMIT 1)) FROM unnest($1::text[]) AS q", list(QUEUES))
        return {str(r[0]): max(0.0, float(r[1])) if r[1] is not None else 0.0 for r in rows}

    # -- ledger, sales, meta -------------------------------------------------------------------------
    async def ledger_get(self, fo_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        rows = await self.pool.fetch("SELECT fo_id, pos_order_id, line_ids::text, status, imported_at "
                                     "FROM ledger WHERE fo_id = ANY($1::text[])", list(fo_ids))
        return {r[0]: LedgerEntry(fo_id=r[0], pos_order_id=r[1], line_ids=json.loads(r[2]), status=r[3],
                                  imported_at=r[4]) for r in rows}

    async def ledger_put(self, entry: LedgerEntry) -> bool:
        status = await self.pool.execute(
            "INSERT INTO ledger (fo_id, pos_order_id, line_ids, status, imported_at) "
            "VALUES ($1, $2, $3::jsonb, $4, $5) ON CONFLICT DO NOTHING",
            entry.fo_id, entry.pos_order_id, encode_json(entry.line_ids, "line_ids"), entry.status,
            entry.imported_at or datetime.now(UTC))
        return _affected(status) > 0

    async def ledger_set_status(self, fo_id: str, status: str) -> None:
        await self.pool.execute("UPDATE ledger SET status = $2 WHERE fo_id = $1", fo_id, status)

    async def ledger_count(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM ledger"))

    async def sale_get(self, pos_order_id: str) -> SaleRecord | None:
        row = await self.pool.fetchrow("SELECT pos_order_id, order_id, order_summary_id, extra::text "
                                       "FROM sales WHERE pos_order_id = $1", pos_order_id)
        if row is None:
            return None
        return SaleRecord(pos_order_id=row[0], order_id=row[1], order_summary_id=row[2],
                          extra=json.loads(row[3]))

    async def sale_put(self, record: SaleRecord) -> bool:
        status = await self.pool.execute(
            "INSERT INTO sales (pos_order_id, order_id, order_summary_id, extra) "
            "VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING",
            record.pos_order_id, record.order_id, record.order_summary_id, encode_json(record.extra, "extra"))
        return _affected(status) > 0

    async def note_effects(self, kind: str, keys: Sequence[str]) -> dict[str, datetime]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        rows = await self.pool.fetch(EFFECTS_SQL, kind, wanted)
        return {str(r[0]): r[1] for r in rows}

    async def effects_started(self, kind: str, keys: Sequence[str]) -> dict[str, datetime]:
        rows = await self.pool.fetch("SELECT key, started_at FROM effects WHERE kind = $1 AND key = ANY($2::text[])",
                                     kind, list(dict.fromkeys(keys)))
        return {str(r[0]): r[1] for r in rows}

    async def meta_get(self, key: str) -> str | None:
        value = await self.pool.fetchval("SELECT value FROM meta WHERE key = $1", key)
        return str(value) if value is not None else None

    async def meta_set(self, key: str, value: str) -> None:
        await self.pool.execute(META_SQL, key, value)
