"""PostgreSQL connection (asyncpg pool) for several replicas sharing one database.

Migrations run under a transaction-scoped advisory lock, so replicas starting together migrate once, the
others wait.
"""

from __future__ import annotations

from typing import Self

import asyncpg

from .migrations import POSTGRES, pending
from .url import redact_url, scrub

MIGRATION_LOCK = 7_304_211_963  # pg_advisory_xact_lock(bigint): one-argument lock space


class PostgresDb:
    """The pool under :class:`~worker.store.postgres.PostgresStore`: open, migrate, close."""

    def __init__(self, dsn: str, *, schema: str | None = None, max_size: int = 10) -> None:
        self.dsn, self.schema, self.max_size = dsn, schema, max_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> Self:
        settings = {"search_path": self.schema} if self.schema else None
        try:
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self.max_size,
                                                   server_settings=settings, command_timeout=60)
        except Exception as exc:  # the driver's text may quote the DSN: scrub the password out
            raise ConnectionError(f"cannot open PostgreSQL store {redact_url(self.dsn)!r}: "
                                  f"{type(exc).__name__}: {scrub(str(exc), self.dsn)}") from None
        return self

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgreSQL store is not open")
        return self._pool

    async def migrate(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            if self.schema and not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1",
                                                       self.schema):
                await conn.execute(f'CREATE SCHEMA "{self.schema}"')  # identifier checked in url.py
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))
            for version, statements in pending("PostgreSQL store", current, POSTGRES):
                for sql in statements:
                    await conn.execute(sql)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
        return len(POSTGRES)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
