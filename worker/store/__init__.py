"""Durable state: one interface (:class:`Store`), two engines chosen by URL."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from .base import QUEUES, Job, LedgerEntry, NewJob, SaleRecord, Store

__all__ = ["QUEUES", "Job", "LedgerEntry", "NewJob", "SaleRecord", "Store", "open_store", "redact_url"]

ACCEPTED = '"sqlite:///path.db", "sqlite:///:memory:" or "postgresql://user@host:port/db"'


def redact_url(url: str) -> str:
    """A store URL safe to log: any password is masked."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


async def open_store(url: str) -> Store:
    """Open, migrate and return the store named by ``url``."""
    if url.startswith("sqlite:///"):
        from .sqlite import SqliteStore

        path = url[len("sqlite:///"):]
        if not path:
            raise ValueError(f"store URL {redact_url(url)!r} has no database path; expected {ACCEPTED}")
        sqlite_store = await SqliteStore(path).open()
        await sqlite_store.migrate()
        return sqlite_store
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        parts = urlsplit(url)
        schema = parse_qs(parts.query).get("schema", [None])[0]
        dsn = parts._replace(query="").geturl()
        pg_store = await PostgresStore(dsn, schema=schema).open()
        await pg_store.migrate()
        return pg_store
    raise ValueError(f"unsupported store URL {redact_url(url)!r}; expected {ACCEPTED}")
