"""Forward-only schema migrations, one list per engine. A version is never edited once released."""

from __future__ import annotations

# Version 2: small partial indexes over live jobs only, so claims stay fast while done jobs pile up before
# purge_done (50,000 events): the claim scans active jobs in id order, and the ordering-key checks probe
# (queue, ordering_key) among active jobs. Same SQL for both engines.
ACTIVE_INDEXES = [
    "CREATE INDEX IF NOT EXISTS jobs_active ON jobs (queue, id) WHERE state IN ('pending', 'processing')",
    "CREATE INDEX IF NOT EXISTS jobs_active_key ON jobs (queue, ordering_key, id) "
    "WHERE state IN ('pending', 'processing') AND ordering_key IS NOT NULL",
]

# Version 3: claim fencing and noted effects. Every claim writes a new token; complete / retry / dead-letter /
# release / renew act only where it still matches. ``effects`` records, before an outside call, that the call
# may have happened (kind 'sale' + POS order id: the sale's graph was sent), so a later attempt looks first.
SQLITE_V3 = [
    "ALTER TABLE jobs ADD COLUMN claim_token TEXT",
    """CREATE TABLE IF NOT EXISTS effects (kind TEXT NOT NULL, key TEXT NOT NULL, first_at REAL NOT NULL,
        started_at REAL NOT NULL, PRIMARY KEY (kind, key))""",
]
POSTGRES_V3 = [
    "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS claim_token TEXT",
    """CREATE TABLE IF NOT EXISTS effects (kind TEXT NOT NULL, key TEXT NOT NULL,
        first_at TIMESTAMPTZ NOT NULL DEFAULT now(), started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, key))""",
]

# Version 4: a cursor is an integer (CometD replayId) or opaque bytes (Pub/Sub replay_id, kept as base64 text in
# ``replay_bytes``); exactly one of the two is set. Existing integer cursors are kept as they are. SQLite cannot
# drop a NOT NULL, so its table is rebuilt (inside the migration's one transaction).
SQLITE_V4 = [
    """CREATE TABLE cursors_v4 (channel TEXT PRIMARY KEY, replay_id INTEGER, replay_bytes TEXT, updated_at REAL,
        CHECK ((replay_id IS NULL) <> (replay_bytes IS NULL)))""",
    "INSERT INTO cursors_v4 (channel, replay_id, updated_at) SELECT channel, replay_id, updated_at FROM cursors",
    "DROP TABLE cursors",
    "ALTER TABLE cursors_v4 RENAME TO cursors",
]
POSTGRES_V4 = [
    "ALTER TABLE cursors ALTER COLUMN replay_id DROP NOT NULL",
    "ALTER TABLE cursors ADD COLUMN IF NOT EXISTS replay_bytes TEXT",
    "ALTER TABLE cursors DROP CONSTRAINT IF EXISTS cursors_one_kind",
    "ALTER TABLE cursors ADD CONSTRAINT cursors_one_kind CHECK ((replay_id IS NULL) <> (replay_bytes IS NULL))",
]

SQLITE: list[list[str]] = [
    [
        "CREATE TABLE IF NOT EXISTS cursors (channel TEXT PRIMARY KEY, replay_id INTEGER NOT NULL, "
        "updated_at REAL)",
        """CREATE TABLE IF NOT EXISTS jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            queue TEXT NOT NULL, dedupe_key TEXT NOT NULL, ordering_key TEXT, event_uuid TEXT,
            payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL,
            next_attempt_at REAL NOT NULL,
            lease_until REAL, claimed_by TEXT,
            UNIQUE (queue, dedupe_key))""",
        "CREATE UNIQUE INDEX IF NOT EXISTS jobs_event_uuid ON jobs (queue, event_uuid) "
        "WHERE event_uuid IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS jobs_claim ON jobs (queue, state, next_attempt_at)",
        "CREATE INDEX IF NOT EXISTS jobs_ordering ON jobs (queue, ordering_key, state)",
        """CREATE TABLE IF NOT EXISTS ledger (fo_id TEXT PRIMARY KEY, pos_order_id TEXT NOT NULL,
            line_ids TEXT NOT NULL, status TEXT, imported_at REAL NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS sales (pos_order_id TEXT PRIMARY KEY, order_id TEXT NOT NULL,
            order_summary_id TEXT, extra TEXT NOT NULL, posted_at REAL NOT NULL)""",
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ],
    ACTIVE_INDEXES,
    SQLITE_V3,
    SQLITE_V4,
]

POSTGRES: list[list[str]] = [
    [
        "CREATE TABLE IF NOT EXISTS cursors (channel TEXT PRIMARY KEY, replay_id BIGINT NOT NULL, "
        "updated_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        """CREATE TABLE IF NOT EXISTS jobs (
            id BIGSERIAL PRIMARY KEY,
            queue TEXT NOT NULL, dedupe_key TEXT NOT NULL, ordering_key TEXT, event_uuid TEXT,
            payload JSONB NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            lease_until TIMESTAMPTZ, claimed_by TEXT,
            UNIQUE (queue, dedupe_key))""",
        "CREATE UNIQUE INDEX IF NOT EXISTS jobs_event_uuid ON jobs (queue, event_uuid) "
        "WHERE event_uuid IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS jobs_claim ON jobs (queue, state, next_attempt_at)",
        "CREATE INDEX IF NOT EXISTS jobs_ordering ON jobs (queue, ordering_key, state)",
        """CREATE TABLE IF NOT EXISTS ledger (fo_id TEXT PRIMARY KEY, pos_order_id TEXT NOT NULL,
            line_ids JSONB NOT NULL, status TEXT, imported_at TIMESTAMPTZ NOT NULL DEFAULT now())""",
        """CREATE TABLE IF NOT EXISTS sales (pos_order_id TEXT PRIMARY KEY, order_id TEXT NOT NULL,
            order_summary_id TEXT, extra JSONB NOT NULL, posted_at TIMESTAMPTZ NOT NULL DEFAULT now())""",
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ],
    ACTIVE_INDEXES,
    POSTGRES_V3,
    POSTGRES_V4,
]


def pending(store: str, current: int, versions: list[list[str]]) -> list[tuple[int, list[str]]]:
    """The migrations after ``current`` as (version, statements); a store newer than this worker is refused."""
    if current > len(versions):
        raise RuntimeError(f"{store} has schema version {current}, newer than this worker knows ({len(versions)}); "
                           "upgrade the worker")
    return list(enumerate(versions[current:], start=current + 1))
