"""kill -9 of a real worker on the GraphQL back-end in the middle of sale-history polls: every sale posted once."""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
from pathlib import Path

import pytest
import yaml

from .graphql_harness import graphql_raw_config
from .harness import emulators, eventually, references
from .test_crash_restart import free_port, start_worker

pytestmark = pytest.mark.e2e


def saved_window(db: Path) -> str:
    """The sale-history window a killed worker was reading ("" when it was between polls)."""
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'sale_history.window'").fetchone()
    return str(row[0]) if row else ""


async def test_kill_9_mid_poll_posts_every_sale_exactly_once(tmp_path: Path) -> None:
    """Four SIGKILLs mid-poll during a stream of sales: every sale posted exactly once, a killed window resumed."""
    rng = random.Random(20)
    async with emulators() as stack:
        port, db = free_port(), tmp_path / "state.db"
        raw = graphql_raw_config(stack.sf_url, stack.pos_url, f"sqlite:///{db}", http={"host": "127.0.0.1",
                                 "port": port}, lease_seconds=2, log_level="INFO",
                                 graphql={"page_size": 2, "overlap_seconds": 120, "poll_interval_seconds": 0.1})
        config_path, log = tmp_path / "worker.yaml", tmp_path / "worker.log"
        config_path.write_text(yaml.safe_dump(raw))
        proc = start_worker(config_path, log)

        async def ready() -> bool:
            try:
                async with stack.http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    return resp.status == 200
            except OSError:
                return False

        wanted: set[str] = set()
        mid_window = 0
        try:
            await eventually(ready, timeout=30, what="worker up")
            for _ in range(4):
                for _ in range(8):
                    sale = await stack.pos_admin("POST", "sales", {"kind": "in_store", "store": "256",
                                                                   "tender": rng.choice(["card", "cash"])})
                    wanted.add(sale["orderId"])
                await asyncio.sleep(rng.uniform(0.0, 0.3))
                await eventually(lambda: _async(bool(saved_window(db))), timeout=20, what="a window being read")
                proc.send_signal(signal.SIGKILL)  # right after a page was stored, before the window ends
                proc.wait(timeout=10)
                mid_window += bool(saved_window(db))
                proc = start_worker(config_path, log)
                await eventually(ready, timeout=30, what="worker restarted")

            async def all_posted() -> bool:
                return wanted <= set(await references(stack))

            await eventually(all_posted, timeout=120, what="every sale posted after the kills")
            refs = await references(stack)
            assert len(refs) == len(set(refs)) == len(wanted) == 32
            assert "demo-gql-secret" not in log.read_text()  # the client secret never reaches a log line
            assert mid_window >= 2  # kills landed inside windows (a page stored, the window not ended): resumed
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]


async def _async(value: bool) -> bool:
    return value
