"""Shared CLI fixtures: a minimal valid config file on a temp SQLite store, seeded with dead letters."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from worker.store import NewJob, open_store

from ..config.test_config import BASE  # the minimal valid configuration, defined once


def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dlq.db'}"  # tmp_path is absolute: sqlite:////abs/dlq.db


@pytest.fixture
def get_job(tmp_path: Path) -> Callable[[int], Any]:
    """Read one job back from the config's store (None if gone)."""
    return lambda job_id: asyncio.run(_job(store_url(tmp_path), job_id))


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], str]:
    """Writes BASE with ``worker.store_url`` set to tmp_path/worker.yaml and returns its path."""

    def write(url: str) -> str:
        data = copy.deepcopy(BASE)
        data["worker"]["store_url"] = url
        path = tmp_path / "worker.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def config_file(tmp_path: Path, write_config: Callable[[str], str]) -> str:
    return write_config(store_url(tmp_path))


async def _seed(url: str) -> dict[str, int]:
    """Two dead letters (sale, status) and one pending job; returns their ids by name."""
    store = await open_store(url)
    try:
        await store.enqueue([
            NewJob("sale", "k-sale", {"endpoint": "ORDER", "sale": {"orderId": "S-1"}}, ordering_key="S-1"),
            NewJob("status", "k-status", {"endpoint": "STORE_FULFILLMENT"}, ordering_key="0a3-1"),
            NewJob("sale", "k-live", {"endpoint": "ORDER", "sale": {"orderId": "S-2"}}, ordering_key="S-2"),
        ])
        claimed = {job.dedupe_key: job for job in [*await store.claim("sale", 10, worker_id="t", lease_seconds=60),
                                                   *await store.claim("status", 10, worker_id="t", lease_seconds=60)]}
        await store.dead_letter(claimed["k-sale"], "INVALID_FIELD: Product2 SKU-0001 not found\nsecond line")
        await store.dead_letter(claimed["k-status"], "INVALID_STATUS: " + "x" * 200)
        await store.release([claimed["k-live"]])
        return {key: job.id for key, job in claimed.items()}
    finally:
        await store.close()


async def _job(url: str, job_id: int) -> Any:
    store = await open_store(url)
    try:
        return await store.get_job(job_id)
    finally:
        await store.close()


@pytest.fixture
def seeded(tmp_path: Path, config_file: str) -> dict[str, int]:
    return asyncio.run(_seed(store_url(tmp_path)))


