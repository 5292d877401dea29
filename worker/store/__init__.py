"""Durable state: one interface (:class:`Store`), two engines chosen by URL: SQLite (default), PostgreSQL."""

from __future__ import annotations

from .base import QUEUES, STATES, Cursor, Job, LedgerEntry, NewJob, SaleRecord, Store
from .url import ACCEPTED, parse_store_url, redact_url

__all__ = ["ACCEPTED", "QUEUES", "STATES", "Cursor", "Job", "LedgerEntry", "NewJob", "SaleRecord", "Store",
           "open_store", "parse_store_url", "redact_url"]


async def open_store(url: str, *, exclusive: bool = False) -> Store:
    """Open, migrate and return the store named by ``url``.

    Accepted: ``sqlite:///relative.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``,
    ``postgresql://user@host:port/db`` or ``postgres://...`` (``?schema=<name>`` selects a schema, created
    if missing). A bad URL raises ``ValueError`` naming these forms; a password never appears in an error.
    ``exclusive``: the caller is THE writer process of a SQLite file (``oms-worker run``); a second one is
    refused with a clear RuntimeError. PostgreSQL takes several writers and ignores it.
    """
    parsed = parse_store_url(url)
    store: Store
    if parsed.engine == "sqlite":
        from .sqlite import SqliteStore

        store = await SqliteStore(parsed.target, exclusive=exclusive).open()
    else:
        from .postgres import PostgresStore

        store = await PostgresStore(parsed.target, schema=parsed.schema).open()
    try:
        await store.migrate()
    except BaseException:
        await store.close()
        raise
    return store
