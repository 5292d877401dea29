"""SQLite engine (WAL, one replica): the store's statements, each run on the one connection of ``sqlite_db``.

Durability (``synchronous=FULL``, every write in ``BEGIN IMMEDIATE``, shielded from cancellation) and the group
commit of enqueues without a cursor are the connection's: see :mod:`worker.store.sqlite_db`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

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
from .sqlite_db import ENQUEUE_SQL, Db, SqliteDb

JOB_COLUMNS = ("id, queue, dedupe_key, ordering_key, payload, state, attempts, last_error, created_at, "
               "updated_at, next_attempt_at, claim_token")
# a fenced statement acts only on jobs still processing under the token they were claimed with
FENCE = "id IN ({marks}) AND claim_token = ? AND state = 'processing'"
CHUNK = 500  # bound on "?" placeholders per IN (...) list

# One statement: pick the claimable jobs oldest first and lease them. A job of an ordering key is claimable
# only when no OLDER job of its key is still pending/processing (so only the oldest live job of a key
# qualifies, and two jobs of one key are never picked together) and no OTHER job of its key holds a live
# lease (e.g. a newer job leased while an older dead one was requeued). Done and dead jobs never block.
CLAIM_SQL = f"""
UPDATE jobs SET state = 'processing', attempts = attempts + 1, lease_until = :lease, claimed_by = :worker,
       claim_token = :token, updated_at = :now
 WHERE id IN (
   SELECT id FROM jobs j
    WHERE queue = :queue AND state IN ('pending', 'processing')
      AND ((state = 'pending' AND next_attempt_at <= :now) OR (state = 'processing' AND lease_until < :now))
      AND (ordering_key IS NULL OR NOT EXISTS (
           SELECT 1 FROM jobs o
            WHERE o.queue = j.queue AND o.ordering_key = j.ordering_key AND o.id <> j.id
              AND o.state IN ('pending', 'processing')
              AND (o.id < j.id OR (o.state = 'processing' AND o.lease_until >= :now))))
    ORDER BY id LIMIT :limit)
RETURNING {JOB_COLUMNS}"""

# an integer cursor only moves forward; a bytes cursor (opaque) replaces whatever was there
CURSOR_SQL = ("INSERT INTO cursors (channel, replay_id, replay_bytes, updated_at) VALUES (?, ?, ?, ?) "
              "ON CONFLICT (channel) DO UPDATE SET replay_id = CASE WHEN excluded.replay_id IS NULL THEN NULL "
              "ELSE max(coalesce(replay_id, excluded.replay_id), excluded.replay_id) END, "
              "replay_bytes = excluded.replay_bytes, updated_at = excluded.updated_at")
EFFECT_SQL = ("INSERT INTO effects (kind, key, first_at, started_at) VALUES (?, ?, ?, ?) ON CONFLICT (kind, key) "
              "DO UPDATE SET started_at = excluded.started_at")
META_SQL = ("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
            "SET value = excluded.value")


def _dt(value: float | None) -> datetime:
    return datetime.fromtimestamp(value or 0.0, tz=UTC)


def _job(row: Sequence[Any]) -> Job:
    return Job(id=int(row[0]), queue=row[1], dedupe_key=row[2], ordering_key=row[3],
               payload=json.loads(row[4]), state=row[5], attempts=int(row[6]), last_error=row[7],
               created_at=_dt(row[8]), updated_at=_dt(row[9]), next_attempt_at=_dt(row[10]), token=row[11])


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SqliteStore(SqliteDb):
    async def ping(self) -> None:
        await self._rowcount(META_SQL, ("ping", str(time.time())))

    # -- replay cursor -------------------------------------------------------------------------------
    async def get_cursor(self, channel: str) -> Cursor | None:
        rows = await self._fetch("SELECT replay_id, replay_bytes FROM cursors WHERE channel = ?", (channel,))
        return cursor_value(rows[0][0], rows[0][1]) if rows else None

    async def advance_cursor(self, channel: str, replay_id: Cursor) -> None:
        await self._rowcount(CURSOR_SQL, (channel, *cursor_columns(replay_id), time.time()))

    async def reset_cursor(self, channel: str) -> None:
        await self._rowcount("DELETE FROM cursors WHERE channel = ?", (channel,))

    # -- queues --------------------------------------------------------------------------------------
    async def enqueue(self, jobs: Sequence[NewJob], *, cursor: tuple[str, Cursor] | None = None) -> int:
        texts = check_jobs(jobs)
        columns = cursor_columns(cursor[1]) if cursor is not None else (None, None)
        if not jobs and cursor is None:
            return 0
        now = time.time()
        rows = [(j.queue, j.dedupe_key, j.ordering_key, j.event_uuid, text, now, now, now)
                for j, text in zip(jobs, texts, strict=True)]

        if cursor is None:
            return await self._grouped(rows)

        async def go(db: Db) -> int:
            # executemany sums the rows actually inserted; ON CONFLICT DO NOTHING drops duplicates
            inserted = (await db.executemany(ENQUEUE_SQL, rows)).rowcount if rows else 0
            await db.execute(CURSOR_SQL, (cursor[0], *columns, now))
            return max(inserted, 0)

        return await self._run(go)

    async def claim(self, queue: str, limit: int, *, worker_id: str, lease_seconds: float) -> list[Job]:
        if limit <= 0:
            return []
        now = time.time()
        params = {"queue": queue, "now": now, "lease": now + lease_seconds, "worker": worker_id,
                  "limit": limit, "token": new_token(worker_id)}

        async def go(db: Db) -> list[Job]:
            rows = await (await db.execute(CLAIM_SQL, params)).fetchall()
            return sorted((_job(r) for r in rows), key=lambda job: job.id)

        return await self._run(go)

    async def _fenced(self, sql: str, head: Sequence[Any], jobs: Sequence[Job]) -> list[int]:
        """Run ``sql`` (SET ... WHERE {fence}) on the jobs still held under their claim token; their ids."""
        groups: dict[str | None, list[int]] = {}
        for job in jobs:
            groups.setdefault(job.token, []).append(job.id)

        async def go(db: Db) -> list[int]:
            changed: list[int] = []
            for token, ids in groups.items():
                for start in range(0, len(ids), CHUNK):
                    chunk = ids[start:start + CHUNK]
                    where = FENCE.format(marks=_marks(len(chunk)))
                    cur = await db.execute(sql.format(fence=where) + " RETURNING id", (*head, *chunk, token))
                    changed.extend(int(row[0]) for row in await cur.fetchall())
            return changed

        return await self._run(go) if groups else []

    async def renew(self, jobs: Sequence[Job], lease_seconds: float) -> set[int]:
        now = time.time()
        return set(await self._fenced("UPDATE jobs SET lease_until = ?, updated_at = ? WHERE {fence}",
                                      (now + lease_seconds, now), jobs))

    async def complete(self, jobs: Sequence[Job]) -> int:
        return len(await self._fenced("UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = ? "
                                      "WHERE {fence}", (time.time(),), jobs))

    async def retry_later(self, job: Job, error: str, delay_seconds: float) -> bool:
        now = time.time()
        return bool(await self._fenced("UPDATE jobs SET state = 'pending', lease_until = NULL, last_error = ?, "
                                       "updated_at = ?, next_attempt_at = ? WHERE {fence}",
                                       (error, now, now + delay_seconds), [job]))

    async def dead_letter(self, job: Job, error: str) -> bool:
        return bool(await self._fenced("UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = ?, "
                                       "updated_at = ? WHERE {fence}", (error, time.time()), [job]))

    async def release(self, jobs: Sequence[Job]) -> int:
        now = time.time()
        return len(await self._fenced("UPDATE jobs SET state = 'pending', lease_until = NULL, updated_at = ?, "
                                      "next_attempt_at = ? WHERE {fence}", (now, now), jobs))

    async def get_job(self, job_id: int) -> Job | None:
        rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    async def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[Job]:
        rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'dead' "
                                 "AND (? IS NULL OR queue = ?) ORDER BY id LIMIT ?", (queue, queue, limit))
        return [_job(r) for r in rows]

    async def requeue_dead(self, job_id: int) -> bool:
        now = time.time()
        return await self._rowcount("UPDATE jobs SET state = 'pending', attempts = 0, lease_until = NULL, "
                                    "updated_at = ?, next_attempt_at = ? WHERE id = ? AND state = 'dead'",
                                    (now, now, job_id)) > 0

    async def drop_dead(self, job_id: int) -> bool:
        return await self._rowcount("DELETE FROM jobs WHERE id = ? AND state = 'dead'", (job_id,)) > 0

    async def queue_counts(self) -> dict[str, dict[str, int]]:
        return fill_counts(await self._fetch("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state"))

    async def purge_done(self, older_than_seconds: float) -> int:
        return await self._rowcount("DELETE FROM jobs WHERE state = 'done' AND updated_at < ?",
                                    (time.time() - older_than_seconds,))

    async def queue_ages(self) -> dict[str, float]:
        async def go(db: Db) -> dict[str, float]:  # per queue, the oldest live job by id: the partial index
            ages = dict.fromkeys(QUEUES, 0.0)
            for queue in QUEUES:
                row = await (await db.execute("SELECT created_at FROM jobs WHERE queue = ? AND state IN "
                                              "('pending', 'processing') ORDER BY id LIMIT 1", (queue,))).fetchone()
                if row is not None:
                    ages[queue] = max(0.0, time.time() - float(row[0]))
            return ages

        return await self._run(go, write=False)

    # -- ledger, sales, meta -------------------------------------------------------------------------
    async def ledger_get(self, fo_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        result: dict[str, LedgerEntry] = {}
        ids = list(dict.fromkeys(fo_ids))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            rows = await self._fetch("SELECT fo_id, pos_order_id, line_ids, status, imported_at FROM ledger "
                                     f"WHERE fo_id IN ({_marks(len(chunk))})", chunk)
            for row in rows:
                result[row[0]] = LedgerEntry(fo_id=row[0], pos_order_id=row[1], line_ids=json.loads(row[2]),
                                             status=row[3], imported_at=_dt(row[4]))
        return result

    async def ledger_put(self, entry: LedgerEntry) -> bool:
        imported = entry.imported_at.timestamp() if entry.imported_at else time.time()
        line_ids = encode_json(entry.line_ids, "line_ids")
        return await self._rowcount(
            "INSERT INTO ledger (fo_id, pos_order_id, line_ids, status, imported_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (entry.fo_id, entry.pos_order_id, line_ids, entry.status, imported)) > 0

    async def ledger_set_status(self, fo_id: str, status: str) -> None:
        await self._rowcount("UPDATE ledger SET status = ? WHERE fo_id = ?", (status, fo_id))

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
        extra = encode_json(record.extra, "extra")
        return await self._rowcount(
            "INSERT INTO sales (pos_order_id, order_id, order_summary_id, extra, posted_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (record.pos_order_id, record.order_id, record.order_summary_id, extra, time.time())) > 0

    async def note_effects(self, kind: str, keys: Sequence[str]) -> dict[str, datetime]:
        wanted = list(dict.fromkeys(keys))
        now = time.time()

        async def go(db: Db) -> dict[str, datetime]:
            before: dict[str, datetime] = {}
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start:start + CHUNK]
                rows = await (await db.execute(f"SELECT key, started_at FROM effects WHERE kind = ? AND key IN "
                                               f"({_marks(len(chunk))})", (kind, *chunk))).fetchall()
                before.update({str(r[0]): _dt(r[1]) for r in rows})
            await db.executemany(EFFECT_SQL, [(kind, key, now, now) for key in wanted])
            return before

        return await self._run(go) if wanted else {}

    async def effects_started(self, kind: str, keys: Sequence[str]) -> dict[str, datetime]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, datetime] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            rows = await self._fetch(f"SELECT key, started_at FROM effects WHERE kind = ? AND key IN "
                                     f"({_marks(len(chunk))})", (kind, *chunk))
            found.update({str(r[0]): _dt(r[1]) for r in rows})
        return found

    async def meta_get(self, key: str) -> str | None:
        rows = await self._fetch("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def meta_set(self, key: str, value: str) -> None:
        await self._rowcount(META_SQL, (key, value))
