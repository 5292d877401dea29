"""The store interface: durable state shared by every flow. Two engines implement it (SQLite, PostgreSQL)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

QUEUES = ("fo_import", "sale", "status", "return", "cancel")

# A replay cursor: a CometD replayId (an integer that only moves forward) or a Pub/Sub replay_id (opaque bytes,
# never compared or computed on: the latest committed one wins). Stored as ``replay_id`` or, base64, ``replay_bytes``.
Cursor = int | bytes


@dataclass(frozen=True)
class NewJob:
    queue: str
    dedupe_key: str  # unique per queue: duplicates are dropped at insert (not an error)
    payload: dict[str, Any]
    ordering_key: str | None = (
        None  # jobs sharing a key (same queue) run strictly one at a time, oldest first
    )
    event_uuid: str | None = None  # also unique per queue when set


@dataclass(frozen=True)
class Job:
    id: int
    queue: str
    dedupe_key: str
    ordering_key: str | None
    payload: dict[str, Any]
    state: str  # "pending" | "processing" | "done" | "dead"
    attempts: int  # incremented at each claim
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    token: str | None = None  # the fencing token of the claim that handed this job out (None: not claimed)


@dataclass(frozen=True)
class LedgerEntry:
    """Import ledger: one per FulfillmentOrder imported into the POS."""

    fo_id: str
    pos_order_id: str
    line_ids: dict[str, str]  # FOLI Id -> POS orderItemId
    status: str | None = None  # last FO Status written back (forward-only rule)
    imported_at: datetime | None = None


@dataclass(frozen=True)
class SaleRecord:
    """A posted POS sale: POS order id -> Salesforce ids."""

    pos_order_id: str
    order_id: str
    order_summary_id: str | None
    extra: dict[str, Any] = field(default_factory=dict)


class Store(Protocol):
    """Durable state. Every method commits before it returns; datetimes are timezone-aware UTC."""

    async def migrate(self) -> int: ...  # forward migrations; idempotent; safe with replicas starting at once
    async def close(self) -> None: ...
    async def ping(self) -> None: ...  # raises if the store is not writable

    # replay cursor, one per channel: only moves forward, except reset_cursor
    # (an integer cursor only moves forward; a bytes cursor is replaced by each write: opaque, not comparable)
    async def get_cursor(self, channel: str) -> Cursor | None: ...
    async def advance_cursor(self, channel: str, replay_id: Cursor) -> None: ...
    async def reset_cursor(self, channel: str) -> None: ...

    # queues. enqueue drops duplicates (dedupe_key, event_uuid: per queue) and advances ``cursor``
    # (channel, replay_id) in the SAME transaction; returns how many jobs were inserted. ValueError for an
    # unknown queue or a payload that is not JSON (NaN, Infinity, non-JSON types), before anything is written.
    async def enqueue(self, jobs: Sequence[NewJob], *, cursor: tuple[str, Cursor] | None = None) -> int: ...

    # due pending jobs and expired leases, oldest first; of an ordering key only its oldest live job, and only
    # while no other job of the key holds a live lease; leases them (processing, attempts + 1) under a NEW
    # fencing token (Job.token), shared by the jobs of one claim.
    async def claim(self, queue: str, limit: int, *, worker_id: str, lease_seconds: float) -> list[Job]: ...

    # Fenced: each acts only on jobs still processing under the token they were claimed with (a job whose lease
    # expired and that another claimer took is left alone) and returns how many (or whether) it changed.
    async def renew(self, jobs: Sequence[Job], lease_seconds: float) -> set[int]: ...  # ids still owned
    async def complete(self, jobs: Sequence[Job]) -> int: ...  # done
    async def retry_later(self, job: Job, error: str, delay_seconds: float) -> bool: ...  # pending later
    async def dead_letter(self, job: Job, error: str) -> bool: ...  # dead; never blocks its ordering key
    # processing -> pending now. The attempt is NOT given back: whether an outside effect may have started is
    # read from durable records (note_effects), and the retry budget counts every claim.
    async def release(self, jobs: Sequence[Job]) -> int: ...
    async def get_job(self, job_id: int) -> Job | None: ...
    async def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[Job]: ...
    async def requeue_dead(self, job_id: int) -> bool: ...  # dead -> pending, attempts 0; False if not dead
    # (effects noted for the job's work stay: a requeued sale is looked up before it is posted again)
    async def drop_dead(self, job_id: int) -> bool: ...  # delete a dead job; False if not dead
    async def queue_counts(self) -> dict[str, dict[str, int]]: ...  # every QUEUES x STATES present, 0s too
    async def purge_done(self, older_than_seconds: float) -> int: ...  # deletes done jobs; returns count
    # read-only: every QUEUES -> seconds since the oldest live (pending or processing) job was enqueued; 0.0 when
    # none waits (a requeued dead job keeps its first enqueue time)
    async def queue_ages(self) -> dict[str, float]: ...

    # import ledger (insert-if-absent: the first writer wins)
    async def ledger_get(self, fo_ids: Sequence[str]) -> dict[str, LedgerEntry]: ...
    async def ledger_put(self, entry: LedgerEntry) -> bool: ...  # False if the FO was already there
    async def ledger_set_status(self, fo_id: str, status: str) -> None: ...
    async def ledger_count(self) -> int: ...

    # posted sales (insert-if-absent)
    async def sale_get(self, pos_order_id: str) -> SaleRecord | None: ...
    async def sale_put(self, record: SaleRecord) -> bool: ...

    # Outside effects that may have started (e.g. a sale's graph was sent): noted BEFORE the outside call.
    # note_effects records now as the latest start of each key and returns the previous start of the keys
    # already noted (those may exist outside: look them up before doing them again); effects_started reads.
    async def note_effects(self, kind: str, keys: Sequence[str]) -> dict[str, datetime]: ...
    async def effects_started(self, kind: str, keys: Sequence[str]) -> dict[str, datetime]: ...

    # small key/value settings
    async def meta_get(self, key: str) -> str | None: ...
    async def meta_set(self, key: str, value: str) -> None: ...


STATES = ("pending", "processing", "done", "dead")


def cursor_columns(value: Cursor) -> tuple[int | None, str | None]:
    """A cursor -> its (replay_id, replay_bytes) columns; TypeError for anything else (before any write)."""
    if isinstance(value, bytes):
        return None, base64.b64encode(value).decode("ascii")
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None
    raise TypeError(f"a replay cursor is an int or bytes, not {type(value).__name__}")


def cursor_value(replay_id: Any, replay_bytes: Any) -> Cursor:
    """The stored columns -> the cursor (bytes when ``replay_bytes`` is set)."""
    if replay_bytes is not None:
        try:
            return base64.b64decode(str(replay_bytes), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("stored replay_bytes is not base64") from None
    return int(replay_id)


def new_token(worker_id: str) -> str:
    """A fencing token for one claim: unique across claims, replicas and restarts (names the claimant)."""
    return f"{worker_id[:80]}:{uuid.uuid4().hex}"


def encode_json(value: dict[str, Any], what: str = "payload") -> str:
    """JSON text for a payload; NaN/Infinity are refused (not JSON, and PostgreSQL jsonb rejects them)."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not storable as JSON: {exc}") from None


def check_jobs(jobs: Sequence[NewJob]) -> list[str]:
    """Validate new jobs before any write; returns their payloads as JSON text (same order)."""
    texts: list[str] = []
    for job in jobs:
        if job.queue not in QUEUES:
            raise ValueError(f"unknown queue {job.queue!r}; queues are {', '.join(QUEUES)}")
        if not job.dedupe_key:
            raise ValueError(f"job for queue {job.queue!r} has an empty dedupe_key")
        texts.append(encode_json(job.payload, f"payload of {job.queue} job {job.dedupe_key!r}"))
    return texts


def fill_counts(found: Sequence[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """{queue: {state: n}} with every known queue and state present (zero when empty), so gauges drop to 0."""
    counts: dict[str, dict[str, int]] = {queue: dict.fromkeys(STATES, 0) for queue in QUEUES}
    for queue, state, n in found:
        counts.setdefault(queue, dict.fromkeys(STATES, 0))[state] = int(n)
    return counts
