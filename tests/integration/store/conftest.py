"""Fixtures for the store contract: every engine-agnostic test runs on SQLite (a tmp file) and PostgreSQL.

PostgreSQL is ``postgresql://postgres@127.0.0.1:5432/test`` (trust auth). Each PostgreSQL test gets its own
schema (``?schema=t_<hex>``, created by ``open_store``, dropped afterwards), so parallel runs never clash.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from worker.store import Store, open_store

PG = "postgresql://postgres@127.0.0.1:5432/test"


async def drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(PG)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A PostgreSQL store URL on a fresh, private schema (dropped after the test)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{PG}?schema={schema}"
    finally:
        await drop_schema(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{PG}?schema={schema}"
    finally:
        await drop_schema(schema)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(store_url)
    try:
        yield opened
    finally:
        await opened.close()
